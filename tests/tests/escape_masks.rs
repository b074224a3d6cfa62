//! A hostile image puts a symlink where glassbox mounts (issue 16): its
//! /dev/null pointing into /proc/sys, so that masking would expose a kernel
//! file, writable (CVE-2025-31133's pattern), and its /dev/console, so that
//! the terminal's bind would land in /proc (CVE-2025-52565's pattern).

use glassbox_e2e::attack::attack_bundle;
use glassbox_e2e::*;
use serde_json::json;

/// No tmpfs on /dev: the image's own /dev is what the container gets.
fn without_dev_tmpfs(v: &mut serde_json::Value) {
    v["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/dev");
}

#[test]
fn an_image_dev_null_symlink_does_not_unmask_a_kernel_file() {
    // What the container would find at a masked path if the mask followed
    // the symlink: opening it for writing proves the kernel file is exposed
    // (nothing is written: on the old code this is the host's core_pattern).
    // (No `2>/dev/null` in it: /dev/null is the very thing under attack.)
    let probe = "for p in /proc/keys /proc/timer_list; do \
                 if printf '' >> $p; then echo \"$p WRITABLE\"; fi; \
                 grep -q -e core -e none $p && echo \"$p SHOWS a kernel file\"; done; true";
    let rt = Runtime::new();
    for target in ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/domainname"] {
        let bundle = attack_bundle(probe, without_dev_tmpfs);
        let null = bundle.rootfs().join("dev/null");
        let _ = std::fs::remove_file(&null);
        std::os::unix::fs::symlink(target, &null).unwrap();
        let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
        let id = rt.id("esc-null");
        let out = rt.run(&id, &bundle);
        let said = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!said.contains("WRITABLE") && !said.contains("SHOWS"), "/dev/null -> {target}: {said}");
        assert_eq!(std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(), before);
        if !out.status.success() {
            // Refused: the error says why, in one line.
            assert!(stderr(&out).contains("/dev/null"), "the refusal names /dev/null: {}", stderr(&out));
        }
        rt.assert_clean(&id, &bundle);
    }
}

#[test]
fn an_image_dev_console_symlink_does_not_take_the_terminal_into_proc() {
    let bundle = attack_bundle("grep -c ' /proc/sys/kernel' /proc/self/mountinfo; true", without_dev_tmpfs);
    bundle.config_mut(|v| v["process"]["terminal"] = json!(true));
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", bundle.rootfs().join("dev/console")).unwrap();
    let rt = Runtime::new();
    let id = rt.id("esc-console");
    let sock = rt.scratch().join("console.sock");
    let receiver = console::listen(&sock);
    let out = rt.create_with(&id, &bundle, &["--console-socket", sock.to_str().unwrap()]);
    if out.status.success() {
        let master = receiver.join().unwrap().unwrap();
        let mounts = clean::processes_in(&id)
            .first()
            .map(|(pid, _)| std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default());
        drop(master);
        let landed = mounts.unwrap_or_default().lines().any(|l| l.contains("/proc/sys/kernel/core_pattern"));
        assert!(!landed, "the terminal was mounted onto /proc/sys/kernel/core_pattern");
    } else {
        assert!(stderr(&out).contains("/dev/console"), "the refusal names /dev/console: {}", stderr(&out));
    }
    let _ = rt.delete_force(&id);
    rt.assert_clean(&id, &bundle);
}
