//! What fails after `start` has let the init go — a startContainer hook,
//! execve(2) itself — can only be found out then. `start` waits until the
//! init has exec'd the program (exec.fifo closes) or said why it could not
//! (a line in exec.fifo), and reports it: exit 1, one line on stderr. `run`
//! does the same and removes the container; after a failed `start` the
//! container is stopped, and `delete` removes it.

use std::os::unix::fs::PermissionsExt;

use glassbox_e2e::*;

/// create succeeds, start fails naming `needles`, the container is then
/// stopped and deletes cleanly; `run` fails alike — exiting `run_status`,
/// the init's own: 126 or 127 when the program could not be run — and
/// leaves nothing.
#[track_caller]
fn start_fails_naming(bundle: &Bundle, name: &str, needles: &[&str], run_status: i32) {
    let rt = Runtime::new();
    let id = rt.id(name);
    assert_ok(&rt.create(&id, bundle));
    let err = assert_fails(&rt.start(&id));
    refused::assert_names(&err, needles, "start");
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, bundle);
    for detached in [false, true] {
        let id = rt.id(name);
        let out = if detached { rt.run_detached(&id, bundle) } else { rt.run(&id, bundle) };
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(run_status), "run (detached: {detached}): {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line on stderr: {err}");
        refused::assert_names(&err, needles, if detached { "run -d" } else { "run" });
        rt.assert_clean(&id, bundle);
    }
}

#[test]
fn a_missing_start_container_hook_fails_start() {
    // startContainer hooks run in the container, after `start`: the path is
    // the container's, so it cannot be looked for before.
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| spec::add_hook(v, "startContainer", "/no/such/hook", &["hook"]));
    start_fails_naming(&bundle, "nohook", &["could not be started", "hooks.startContainer[0]", "/no/such/hook"], 1);
}

#[test]
fn an_execve_failure_fails_start() {
    // Executable, but no format the kernel knows: found by execve(2) alone (ENOEXEC).
    let bundle = Bundle::busybox(&["/bin/not-a-program"]);
    let path = bundle.rootfs().join("bin/not-a-program");
    std::fs::write(&path, "neither ELF nor #!\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let needles = ["could not be started", "execve", "/bin/not-a-program", "ENOEXEC"];
    start_fails_naming(&bundle, "enoexec", &needles, 126);
}

#[test]
fn a_successful_start_returns_once_the_program_runs() {
    // start returns after execve, even when a startContainer hook takes its
    // time first: the program is running by then, and poststart hooks,
    // which runtime-spec runs after the program starts, come after it.
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let marker = rt.scratch().join("poststart");
    bundle.config_mut(|v| {
        spec::add_hook(v, "startContainer", "/bin/sleep", &["sleep", "0.3"]);
        let script = format!("cat > {}", marker.display());
        spec::add_hook(v, "poststart", "/bin/sh", &["sh", "-c", &script]);
    });
    let id = rt.id("startok");
    assert_ok(&rt.create(&id, &bundle));
    assert_ok(&rt.start(&id));
    let pid = rt.pid(&id);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.ends_with("busybox"), "the init has exec'd the program when start returns: {}", exe.display());
    assert!(std::fs::read_to_string(&marker).unwrap().contains("\"status\":\"running\""));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn a_failing_start_container_hook_is_reported_on_stderr_and_in_the_log() {
    // What runc does, and engines rely on: the hook's failure reaches the
    // caller of `run`/`start` (stderr and `--log`), names the hook and what
    // it printed, and leaves a stopped container that `delete` removes.
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| spec::add_hook(v, "startContainer", "/bin/sh", &["sh", "-c", "echo not today >&2; exit 3"]));
    let needles = ["could not be started", "hooks.startContainer[0]", "exited with code 3", "not today"];
    start_fails_naming(&bundle, "failhook", &needles, 1);

    let rt = Runtime::new();
    let log = rt.scratch().join("log.json");
    let id = rt.id("failhook-log");
    let log_arg = log.to_str().unwrap();
    let bundle_arg = bundle.path().to_str().unwrap();
    let out = rt.cmd(&["--log", log_arg, "--log-format", "json", "run", &id, "--bundle", bundle_arg]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    refused::assert_names(&stderr(&out), &needles, "run --log");
    let logged = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(logged.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error", "{logged}");
    refused::assert_names(line["msg"].as_str().unwrap(), &needles, "the --log line");
    rt.assert_clean(&id, &bundle);
}
