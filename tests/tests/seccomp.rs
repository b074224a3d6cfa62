//! linux.seccomp (config-linux.md "Seccomp", seccomp(2)): a filter that makes
//! mkdir fail with EPERM while every other syscall keeps working.

use glassbox_e2e::*;
use serde_json::json;

const PROBE: &str = "if mkdir /tmp/x 2>/dev/null; then echo MKDIR-OK; else echo MKDIR-DENIED; fi; \
                     touch /tmp/y && echo TOUCH-OK; ls /tmp";

fn bundle_with_tmp() -> Bundle {
    let bundle = Bundle::busybox(&["sh", "-c", PROBE]);
    bundle.config_mut(|v| spec::add_mount(v, json!({ "destination": "/tmp", "type": "tmpfs", "source": "tmpfs" })));
    bundle
}

#[test]
fn mkdir_returns_eperm_and_the_rest_works() {
    let bundle = bundle_with_tmp();
    bundle.config_mut(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
        });
    });
    let rt = Runtime::new();
    let id = rt.id("seccomp");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out), "MKDIR-DENIED\nTOUCH-OK\ny\n");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn the_errno_is_the_one_asked_for() {
    let bundle = Bundle::busybox(&["sh", "-c", "mkdir /tmp/x"]);
    bundle.config_mut(|v| {
        spec::add_mount(v, json!({ "destination": "/tmp", "type": "tmpfs", "source": "tmpfs" }));
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
        });
    });
    let rt = Runtime::new();
    let id = rt.id("seccomp-errno");
    let out = rt.run(&id, &bundle);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Operation not permitted"), "EPERM's message expected: {}", stderr(&out));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn without_a_profile_mkdir_works() {
    let bundle = bundle_with_tmp();
    let rt = Runtime::new();
    let id = rt.id("noseccomp");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out), "MKDIR-OK\nTOUCH-OK\nx\ny\n");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn seccomp_mode_is_filter() {
    let bundle = Bundle::busybox(&["grep", "^Seccomp:", "/proc/self/status"]);
    bundle.config_mut(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO" }]
        });
    });
    let rt = Runtime::new();
    let id = rt.id("seccomp-mode");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out).split_whitespace().nth(1), Some("2"), "{}", stdout(&out));
    rt.assert_clean(&id, &bundle);
}
