//! When process.args[0] cannot be run (issue 17): `run` and `exec` exit
//! as a shell would — 127 when there is nothing by that name, 126 when
//! there is but it cannot be executed — and the message keeps glassbox's
//! explanation while carrying the words engines look for (podman turns
//! "executable file not found in" / "no such file or directory" into 127,
//! "permission denied" into 126).

use std::os::unix::fs::PermissionsExt;

use glassbox_e2e::*;

/// Each case: process.args[0], the exit status, words the message must have.
const CASES: &[(&str, i32, &[&str])] = &[
    ("nosuch", 127, &["no such executable in the container", "executable file not found in $PATH", "PATH="]),
    ("/no/such/file", 127, &["/no/such/file", "no such file or directory"]),
    ("/etc/passwd", 126, &["/etc/passwd", "permission denied", "not executable (mode 0644)"]),
    ("/bin", 126, &["/bin", "permission denied", "a directory"]),
];

fn check(out: &std::process::Output, want: i32, needles: &[&str], what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(want), "{what}: exit status; stderr: {err}");
    refused::assert_names(&err, needles, what);
    if want == 127 {
        // podman looks for "permission denied" first: a missing program must not say it.
        assert!(!err.to_lowercase().contains("permission denied"), "{what}: {err}");
    }
}

#[test]
fn run_exits_127_or_126_when_the_program_cannot_be_run() {
    let rt = Runtime::new();
    for (program, want, needles) in CASES {
        let bundle = Bundle::busybox(&[program]);
        let id = rt.id("norun");
        check(&rt.run(&id, &bundle), *want, needles, &format!("run {program}"));
        rt.assert_clean(&id, &bundle);
    }
}

#[test]
fn exec_exits_127_or_126_when_the_program_cannot_be_run() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("noexec");
    rt.start_container(&id, &bundle);
    for (program, want, needles) in CASES {
        check(&rt.exec(&id, &[program]), *want, needles, &format!("exec {program}"));
    }
    assert_eq!(rt.status(&id).as_deref(), Some("running"), "the container runs on");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn a_late_execve_failure_gives_the_same_statuses() {
    // Found and executable, so only execve(2) finds out, after `start`:
    // glassbox-exec says why and exits as a shell would; `run` passes it on.
    let rt = Runtime::new();
    for (script, want, needles) in [
        ("#!/no/such/interpreter\n", 127, &["execve", "ENOENT", "no such file or directory"][..]),
        ("neither ELF nor #!\n", 126, &["execve", "ENOEXEC"][..]),
    ] {
        let bundle = Bundle::busybox(&["/bin/late"]);
        let path = bundle.rootfs().join("bin/late");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let id = rt.id("late");
        check(&rt.run(&id, &bundle), want, needles, &format!("run of {script:?}"));
        rt.assert_clean(&id, &bundle);
    }
}
