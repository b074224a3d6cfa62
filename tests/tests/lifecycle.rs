//! The lifecycle of runtime-spec runtime.md: create → created, start →
//! running, the process exits → stopped, delete → gone; and `run`, which does
//! all of it and hands back the process's exit code.

use glassbox_e2e::*;

#[test]
fn run_true_exits_zero_and_leaves_nothing() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("true");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    rt.assert_clean(&id, &bundle);
}

#[test]
fn run_returns_the_exit_code() {
    let bundle = Bundle::busybox(&["sh", "-c", "exit 3"]);
    let rt = Runtime::new();
    let id = rt.id("exit3");
    let out = rt.run(&id, &bundle);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    rt.assert_clean(&id, &bundle);
}

/// A pid namespace's init ignores signals it has no handler for, even
/// SIGKILL sent from inside, so the kill comes from outside: `glassbox kill`.
#[test]
fn run_killed_by_sigkill_returns_137() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("kill9");
    let out = std::thread::scope(|s| {
        let running = s.spawn(|| rt.run(&id, &bundle));
        rt.wait_status(&id, "running");
        assert_ok(&rt.kill(&id, "9"));
        running.join().unwrap()
    });
    assert_eq!(out.status.code(), Some(137), "stderr: {}", stderr(&out));
    rt.assert_clean(&id, &bundle);
}

/// Without a pid namespace of its own the shell is not an init and
/// `kill -9 $$` ends it: 128 + 9.
#[test]
fn run_self_killed_without_pid_namespace_returns_137() {
    let bundle = Bundle::busybox(&["sh", "-c", "kill -9 $$"]);
    bundle.config_mut(|v| spec::remove_namespace(v, "pid"));
    let rt = Runtime::new();
    let id = rt.id("selfkill9");
    let out = rt.run(&id, &bundle);
    assert_eq!(out.status.code(), Some(137), "stderr: {}", stderr(&out));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn create_start_kill_delete() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("life");

    assert_ok(&rt.create(&id, &bundle));
    let s = rt.state(&id);
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["id"], id.as_str());
    assert!(s["ociVersion"].is_string(), "{s}");
    let bundle_in_state = std::fs::canonicalize(s["bundle"].as_str().expect("bundle in state")).unwrap();
    assert_eq!(bundle_in_state, std::fs::canonicalize(bundle.path()).unwrap());
    let pid = rt.pid(&id);
    assert!(pid > 0);
    assert_ne!(host_ns(&pid.to_string(), "pid"), host_ns("self", "pid"), "the init must be in a new pid namespace");

    assert_ok(&rt.start(&id));
    rt.wait_status(&id, "running");
    assert_eq!(rt.pid(&id), pid, "start must not change the init pid");

    assert_ok(&rt.kill(&id, "KILL"));
    rt.wait_status(&id, "stopped");

    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn create_twice_with_one_id_fails_and_the_first_survives() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("twice");
    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id);
    let err = assert_fails(&rt.create(&id, &bundle));
    assert!(err.contains(&id), "the error should name the id: {err}");
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    assert_eq!(rt.pid(&id), pid);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the first container's init died");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn delete_of_a_running_container_needs_force() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("delrun");
    rt.start_container(&id, &bundle);
    assert_fails(&rt.delete(&id));
    assert_eq!(rt.status(&id).as_deref(), Some("running"), "a refused delete must leave the container alone");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn delete_force_of_a_created_container() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("delcreated");
    assert_ok(&rt.create(&id, &bundle));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn run_detached_leaves_it_running() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("detach");
    assert_ok(&rt.run_detached(&id, &bundle));
    rt.wait_status(&id, "running");
    let pid = rt.pid(&id);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    assert_ok(&rt.kill(&id, "KILL"));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn pid_file_holds_the_state_pid() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("pidfile");
    let pid_file = rt.scratch().join("init.pid");
    assert_ok(&rt.create_with(&id, &bundle, &["--pid-file", pid_file.to_str().unwrap()]));
    let written = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(written.trim().parse::<i32>().expect("pid file holds a number"), rt.pid(&id));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn stopped_after_the_process_exits_by_itself() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("selfexit");
    rt.start_container_or_stopped(&id, &bundle);
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}
