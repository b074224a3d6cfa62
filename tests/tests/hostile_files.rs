//! Files glassbox reads but does not control: config.json and `update -r`'s
//! file (the caller's) and the container's /etc/passwd (the image's). Read as they were, a
//! symlink to /dev/zero filled memory and a FIFO blocked for ever; they
//! must be read only as regular files, within a size limit.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use glassbox_e2e::*;
use serde_json::json;

/// `glassbox --root R <args>` with its address space capped at 2 GiB: a
/// runtime that reads /dev/zero dies of it instead of taking the machine's
/// memory (the test then fails, as it should).
fn capped(rt: &Runtime, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(glassbox_bin());
    c.arg("--root").arg(rt.root()).args(args);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let cap = libc::rlimit { rlim_cur: 2 << 30, rlim_max: 2 << 30 };
            if libc::setrlimit(libc::RLIMIT_AS, &cap) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    rt.output_of(c, Stdio::null())
}

#[track_caller]
fn config_refused(bundle: &Bundle, name: &str, needle: &str) {
    let rt = Runtime::new();
    let path = bundle.path().to_str().unwrap();
    for verb in ["create", "run"] {
        let id = rt.id(name);
        let err = assert_fails(&capped(&rt, &[verb, "--bundle", path, &id]));
        refused::assert_names(&err, &["config.json", needle], verb);
        rt.assert_clean(&id, bundle);
    }
}

#[test]
fn config_json_linked_to_dev_zero() {
    let bundle = Bundle::busybox(&["true"]);
    std::fs::remove_file(bundle.config_path()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", bundle.config_path()).unwrap();
    config_refused(&bundle, "config-zero", "is a character device, not a regular file");
}

#[test]
fn config_json_that_is_a_fifo() {
    // Nobody writes to it: a blocking open(2) would wait for ever.
    let bundle = Bundle::busybox(&["true"]);
    std::fs::remove_file(bundle.config_path()).unwrap();
    nix::unistd::mkfifo(&bundle.config_path(), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    config_refused(&bundle, "config-fifo", "is a FIFO, not a regular file");
}

#[test]
fn config_json_larger_than_16_mib() {
    let bundle = Bundle::busybox(&["true"]);
    let mut text = std::fs::read(bundle.config_path()).unwrap();
    // Trailing whitespace is valid JSON: only the size is wrong.
    text.resize(16 * 1024 * 1024 + 1, b' ');
    bundle.write_raw_config(&text);
    config_refused(&bundle, "config-big", "larger than 16 MiB");
}

#[test]
fn update_resources_from_dev_zero() {
    // `update -r FILE` reads the caller's file the same way.
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("update-zero");
    rt.start_container(&id, &bundle);
    let err = assert_fails(&capped(&rt, &["update", "-r", "/dev/zero", &id]));
    refused::assert_names(&err, &["--resources /dev/zero", "is a character device, not a regular file"], "update");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

/// HOME comes from the container's /etc/passwd when process.env has none;
/// a passwd that is not a regular file counts as none, so HOME is `/`.
#[track_caller]
fn home_with_passwd(name: &str, make: impl FnOnce(&std::path::Path)) {
    let bundle = Bundle::busybox(&["sh", "-c", "echo HOME=$HOME"]);
    let passwd = bundle.rootfs().join("etc/passwd");
    std::fs::remove_file(&passwd).unwrap();
    make(&passwd);
    bundle.config_mut(|v| {
        spec::set_env(v, &["PATH=/bin"]);
        // A runtime that read /dev/zero would be killed here, not take the host's memory.
        v["linux"]["resources"] = json!({ "memory": { "limit": 67108864 } });
    });
    let rt = Runtime::new();
    let id = rt.id(name);
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "HOME=/");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn container_passwd_that_is_a_fifo() {
    home_with_passwd("passwd-fifo", |p| {
        nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    });
}

#[test]
fn container_passwd_linked_to_dev_zero() {
    // Resolved after pivot_root: the container's own /dev/zero.
    home_with_passwd("passwd-zero", |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap());
}
