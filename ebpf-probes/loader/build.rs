//! Two things generated at build time:
//!
//! 1. The x86_64 syscall name table, parsed from the kernel's own uapi header
//!    `asm/unistd_64.h` (Debian's linux-libc-dev), never typed by hand.
//! 2. The eBPF object: ebpf-probes/kernel built for `bpfel-unknown-none` by
//!    the nightly toolchain (`-Z build-std=core`, linked by bpf-linker), then
//!    embedded by src/probes.rs. This step never fails the build: without
//!    nightly, rust-src or bpf-linker the crate builds with no object, and the
//!    reason travels in GLASSBOX_PROBES_UNAVAILABLE so `Tracer::load` can say
//!    why tracing is unavailable. `GLASSBOX_NO_PROBES=1` skips it on purpose.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const UNISTD_HEADERS: [&str; 2] = ["/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    syscall_table(&out);
    println!("cargo:rustc-check-cfg=cfg(probes_built)");
    match build_probes(&manifest, &out) {
        Ok(object) => {
            println!("cargo:rustc-cfg=probes_built");
            println!("cargo:rustc-env=GLASSBOX_PROBES_OBJ={}", object.display());
        }
        Err(reason) => {
            println!("cargo:warning=eBPF probes not built: {reason}; glassbox will report tracing as unavailable");
            println!("cargo:rustc-env=GLASSBOX_PROBES_UNAVAILABLE={reason}");
        }
    }
}

/// `#define __NR_mount 165` lines → `SYSCALLS: &[(u32, &str)]`, sorted by
/// number, and `SYSCALL_NAMES`, indexed by it.
fn syscall_table(out: &Path) {
    let mut table: Vec<(u32, String)> = Vec::new();
    let header = UNISTD_HEADERS.iter().find(|p| Path::new(p).exists());
    if let Some(header) = header {
        println!("cargo:rerun-if-changed={header}");
        let text = fs::read_to_string(header).unwrap_or_default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if let (Some("#define"), Some(name), Some(nr)) = (words.next(), words.next(), words.next()) {
                if let (Some(name), Ok(nr)) = (name.strip_prefix("__NR_"), nr.parse::<u32>()) {
                    table.push((nr, name.to_string()));
                }
            }
        }
    } else {
        println!(
            "cargo:warning=no asm/unistd_64.h (apt-get install linux-libc-dev): syscalls will show as numbers, not names"
        );
    }
    table.sort();
    table.dedup_by_key(|(nr, _)| *nr);
    let mut src = String::from("/// (number, name) from asm/unistd_64.h, sorted by number.\n");
    src.push_str("pub static SYSCALLS: &[(u32, &str)] = &[\n");
    for (nr, name) in &table {
        let _ = writeln!(src, "    ({nr}, {name:?}),");
    }
    src.push_str("];\n");
    // The same names indexed by number ("" where no syscall has it): a
    // hub names millions of records a second, and an index is one load.
    let len = table.last().map_or(0, |(nr, _)| *nr as usize + 1);
    let mut by_number = vec![""; len];
    for (nr, name) in &table {
        by_number[*nr as usize] = name;
    }
    src.push_str("/// Each syscall's name at its number's index; \"\" for unused numbers.\n");
    src.push_str("pub static SYSCALL_NAMES: &[&str] = &[\n");
    for name in by_number {
        let _ = writeln!(src, "    {name:?},");
    }
    src.push_str("];\n");
    fs::write(out.join("syscall_table.rs"), src).expect("writing syscall_table.rs to OUT_DIR");
}

/// Builds the kernel crate; returns the object copied into OUT_DIR.
fn build_probes(manifest: &Path, out: &Path) -> Result<PathBuf, String> {
    let probes = manifest.parent().expect("the loader sits in ebpf-probes/");
    let kernel = probes.join("kernel");
    for p in ["kernel/src", "kernel/Cargo.toml", "kernel/Cargo.lock", "common/src", "common/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", probes.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=GLASSBOX_NO_PROBES");
    if env::var_os("GLASSBOX_NO_PROBES").is_some_and(|v| v != "0") {
        return Err("GLASSBOX_NO_PROBES is set".into());
    }
    let home = env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cargo_home = env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".cargo"));
    // Rebuild once bpf-linker appears (a missing file makes cargo rerun this
    // script every build, and the checks below are quick).
    println!("cargo:rerun-if-changed={}", cargo_home.join("bin/bpf-linker").display());
    let rustup = find_rustup(&cargo_home).ok_or("rustup not found (the probes need a nightly toolchain)")?;

    let nightly = |args: &[&str]| {
        let mut c = clean_command(&rustup, &home, &cargo_home);
        c.args(["run", "nightly"]).args(args);
        c
    };
    let sysroot = nightly(&["rustc", "--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .ok_or("no nightly toolchain (rustup toolchain install nightly)")?;
    if !sysroot.join("lib/rustlib/src/rust/library/core").exists() {
        return Err("nightly has no rust-src (rustup component add rust-src --toolchain nightly)".into());
    }
    if !nightly(&["bpf-linker", "--version"]).output().is_ok_and(|o| o.status.success()) {
        return Err("bpf-linker not found or not runnable".into());
    }

    // A target dir next to the workspace's own, shared by every profile, so
    // the BPF crate (and core, built from source) compiles once, not per
    // OUT_DIR: <target>/<profile>/build/<pkg>/out → <target>/bpf-probes.
    let target_dir = out.ancestors().nth(4).map(|t| t.join("bpf-probes")).unwrap_or_else(|| out.join("bpf-probes"));
    let started = Instant::now();
    let result = nightly(&[
        "cargo",
        "build",
        "--release",
        "--target",
        "bpfel-unknown-none",
        "-Z",
        "build-std=core",
        "--ignore-rust-version",
    ])
    .current_dir(&kernel)
    .env("CARGO_TARGET_DIR", &target_dir)
    .output()
    .map_err(|e| format!("running cargo +nightly: {e}"))?;
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let why = stderr.lines().find(|l| l.starts_with("error")).unwrap_or("see `cargo build -vv`");
        return Err(format!("building ebpf-probes/kernel failed: {why}"));
    }
    let built = target_dir.join("bpfel-unknown-none/release/glassbox-probes");
    let object = out.join("glassbox-probes.bpf.o");
    fs::copy(&built, &object).map_err(|e| format!("copying {}: {e}", built.display()))?;
    // Seen with `cargo build -vv`: ≈40-70 s the first time (core is built
    // from source), well under a second when nothing changed.
    eprintln!("built the eBPF probes in {:.1} s", started.elapsed().as_secs_f32());
    Ok(object)
}

fn find_rustup(cargo_home: &Path) -> Option<PathBuf> {
    let in_home = cargo_home.join("bin/rustup");
    if in_home.is_file() {
        return Some(in_home);
    }
    env::var_os("PATH")
        .map(|p| env::split_paths(&p).map(|d| d.join("rustup")).find(|r| r.is_file()))
        .unwrap_or_default()
}

/// The nested cargo must not see this build's own settings (RUSTC,
/// RUSTFLAGS, RUSTUP_TOOLCHAIN=stable, CARGO_TARGET_DIR, the jobserver …):
/// start it from a nearly empty environment.
fn clean_command(rustup: &Path, home: &Path, cargo_home: &Path) -> Command {
    let mut c = Command::new(rustup);
    c.env_clear().env("HOME", home).env("CARGO_HOME", cargo_home);
    for keep in ["PATH", "RUSTUP_HOME", "TMPDIR", "LANG"] {
        if let Some(v) = env::var_os(keep) {
            c.env(keep, v);
        }
    }
    c
}
