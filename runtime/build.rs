//! How the `glassbox` binary is linked.
//!
//! 1. At a fixed address (non-PIE). A runtime is a short-lived process
//!    started once per container verb. As a position-independent
//!    executable, the dynamic loader must patch tens of thousands of
//!    relocations at every start, dirtying the pages that hold them; linked
//!    at a fixed address, the linker resolves them once, so each start is
//!    quicker and its peak memory (RSS) smaller.
//! 2. With the functions a container's life runs packed together, in the
//!    order of `link/hot-symbols.txt` (made by scripts/hot-symbols.sh, which
//!    says why). Only for release builds linked by LLD — rustc's own linker
//!    for x86_64 Linux since Rust 1.90; GNU ld knows no such option.
//!
//! It also builds `glassbox-exec` (runtime/glassbox-exec/main.rs), the small
//! static program the container's program is started from
//! (src/process/sealed_exec.rs); the binary embeds it.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    build_glassbox_exec();
    println!("cargo:rustc-link-arg-bins=-no-pie");

    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/hot-symbols.txt");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=GLASSBOX_NO_HOT_ORDER");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let wanted = std::env::var_os("GLASSBOX_NO_HOT_ORDER").is_none();
    if release && wanted && order.exists() && links_with_lld() {
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", order.display());
        // Names of another build (a dependency updated) are simply not there.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc links x86_64-unknown-linux-gnu programs with its bundled LLD from
/// 1.90 on — unless the build chose a linker of its own (then it may be GNU
/// ld, which would refuse the option, so no ordering).
fn links_with_lld() -> bool {
    if std::env::var("TARGET").ok().as_deref() != Some("x86_64-unknown-linux-gnu") {
        return false;
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let own_linker = std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
        || ["linker", "fuse-ld", "link-self-contained"].iter().any(|f| flags.contains(f));
    if own_linker {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-V").output() else { return false };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&out.stdout);
    let minor = version.split_whitespace().nth(1).and_then(|v| v.split('.').nth(1)).and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}

/// rustc on one file, no std and no libc, linked static: a program of a few
/// KiB that glassbox copies into a sealed memfd for every container.
fn build_glassbox_exec() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("glassbox-exec/main.rs");
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("glassbox-exec");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let status = Command::new(&rustc)
        .args(["--edition", "2021", "--crate-type", "bin", "--crate-name", "glassbox_exec", "--target", &target])
        .args(["-C", "panic=abort", "-C", "opt-level=s", "-C", "debuginfo=0", "-C", "strip=symbols"])
        .args(["-C", "relocation-model=static", "-C", "codegen-units=1"])
        .args(["-C", "link-arg=-nostartfiles", "-C", "link-arg=-nostdlib", "-C", "link-arg=-static"])
        .args(["-C", "link-arg=-Wl,--build-id=none"])
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!(
            "building glassbox-exec ({}) with {rustc} failed: {other:?}; it needs the target's linker (cc) \
             able to link a static program",
            source.display()
        ),
    }
}
