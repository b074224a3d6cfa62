//! A seccomp profile constrains the container's program, not glassbox
//! (issue 17): whatever the runtime still does after loading the filter
//! must not depend on what the profile allows. Profiles written before a
//! system call existed (the OCI validation suite's default lacks
//! close_range, openat2, clone3 and pidfd_open, and answers EPERM) ran
//! with runc and crun and killed every glassbox container: the init's
//! close_range(2) after the filter was refused. Without no_new_privs the
//! filter is loaded before the capabilities are dropped, so the cwd, the
//! startContainer hooks and the hand-over to glassbox-exec run under it
//! too; with it, the filter is loaded last and glassbox-exec runs under it.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use glassbox_e2e::*;
use serde_json::{json, Value};

/// Everything allowed but `denied`, which fails with EPERM — what an
/// allowlist from before those calls does with them.
fn profile_denying(denied: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{ "names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
    })
}

const NEWER_THAN_THE_PROFILE: &[&str] = &["close_range", "openat2", "clone3", "pidfd_open"];

#[test]
fn a_profile_older_than_the_runtime_s_system_calls_runs_the_container() {
    let rt = Runtime::new();
    for no_new_privs in [true, false] {
        let bundle = Bundle::busybox(&["sh", "-c", "echo hello from $(pwd); ls /proc/self/fd"]);
        let marker = rt.scratch().join(format!("hook-{no_new_privs}"));
        bundle.config_mut(|v| {
            v["linux"]["seccomp"] = profile_denying(NEWER_THAN_THE_PROFILE);
            v["process"]["noNewPrivileges"] = json!(no_new_privs);
            // Missing, so made: by openat2(2) and mkdirat(2) as the init opens it.
            v["process"]["cwd"] = json!("/made/for/it");
            v["root"]["readonly"] = json!(false);
            // Runs in the container, after the filter when it is loaded early.
            spec::add_hook(v, "startContainer", "/bin/true", &["true"]);
            spec::add_hook(v, "poststart", "/bin/sh", &["sh", "-c", &format!("touch {}", marker.display())]);
        });
        let id = rt.id("oldprofile");
        let out = rt.run(&id, &bundle);
        let what = format!("noNewPrivileges {no_new_privs}");
        assert_ok(&out);
        // The program's own descriptors only: stdio, and ls's directory.
        assert_eq!(stdout(&out), "hello from /made/for/it\n0\n1\n2\n3\n", "{what}");
        assert!(marker.exists(), "{what}: the poststart hook ran");
        rt.assert_clean(&id, &bundle);

        // exec joins under the same profile.
        let bundle = Bundle::busybox(&["sleep", "30"]);
        bundle.config_mut(|v| {
            v["linux"]["seccomp"] = profile_denying(NEWER_THAN_THE_PROFILE);
            v["process"]["noNewPrivileges"] = json!(no_new_privs);
        });
        let id = rt.id("oldprofile-exec");
        rt.start_container(&id, &bundle);
        let out = rt.exec(&id, &["--cwd", "/tmp", "sh", "-c", "echo exec in $(pwd)"]);
        assert_ok(&out);
        assert_eq!(stdout(&out), "exec in /tmp\n", "{what}");
        assert_ok(&rt.delete_force(&id));
        rt.assert_clean(&id, &bundle);
    }
}

/// With a filter loaded last, glassbox-exec runs under it and marks
/// exec.fifo close-on-exec with fcntl(2). A profile refusing fcntl must
/// neither stop the container nor keep `start` waiting for the program to
/// end (it would, were the fifo left open in the program).
#[test]
fn a_profile_refusing_fcntl_does_not_hold_start() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "5"]);
    bundle.config_mut(|v| {
        v["linux"]["seccomp"] = profile_denying(&["fcntl"]);
        v["process"]["noNewPrivileges"] = json!(true);
    });
    let id = rt.id("nofcntl");
    assert_ok(&rt.create(&id, &bundle));
    let started = Instant::now();
    assert_ok(&rt.start(&id));
    assert!(started.elapsed() < Duration::from_secs(3), "start waited {:?} for the program", started.elapsed());
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);

    // If execve then fails, it is said on the container's stderr and in its status.
    let bundle = Bundle::busybox(&["/bin/late"]);
    let script = bundle.rootfs().join("bin/late");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bundle.config_mut(|v| {
        v["linux"]["seccomp"] = profile_denying(&["fcntl"]);
        v["process"]["noNewPrivileges"] = json!(true);
    });
    let id = rt.id("nofcntl-late");
    let out = rt.run(&id, &bundle);
    assert_eq!(out.status.code(), Some(127), "stderr: {}", stderr(&out));
    refused::assert_names(&stderr(&out), &["glassbox-exec", "execve /bin/late", "no such file or directory"], "run");
    rt.assert_clean(&id, &bundle);
}
