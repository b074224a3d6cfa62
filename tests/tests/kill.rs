//! `kill` as engines use it (issue 17): `kill --all ID 9` of a stopped
//! container succeeds (containerd's shim sends it after the init exits,
//! and a pod cannot be stopped otherwise); it still reaches a child the
//! init left in its cgroup when the container shares a pid namespace;
//! SIGKILL to a paused container kills it at once (a frozen process cannot
//! die until thawed); and the errors carry the words containerd reads as
//! "already gone".

use std::time::Duration;

use glassbox_e2e::*;

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
}

#[test]
fn kill_all_of_a_stopped_container_succeeds_and_kill_says_not_running() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["true"]);
    let id = rt.id("killallstopped");
    rt.start_container_or_stopped(&id, &bundle);
    rt.wait_status(&id, "stopped");
    for signal in ["9", "KILL", "TERM"] {
        assert_ok(&rt.cmd(&["kill", "--all", &id, signal]));
    }
    // Without --all there is no one to signal: an error, in the words engines look for.
    let err = assert_fails(&rt.kill(&id, "KILL"));
    refused::assert_names(&err, &["container not running", "no such process", "is stopped"], "kill");
    assert_ok(&rt.delete(&id));
    let err = assert_fails(&rt.kill(&id, "KILL"));
    refused::assert_names(&err, &["does not exist"], "kill of a deleted container");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn kill_all_reaches_a_child_the_init_left_without_a_pid_namespace() {
    // No pid namespace of its own (a pod sharing one, hostPID): the init's
    // exit does not take its children with it. They stay in the cgroup.
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sh", "-c", "sleep 300 & exit 0"]);
    bundle.config_mut(|v| spec::remove_namespace(v, "pid"));
    let id = rt.id("killallorphan");
    rt.start_container_or_stopped(&id, &bundle);
    rt.wait_status(&id, "stopped");
    let pids = rt.pids(&id);
    assert_eq!(pids.len(), 1, "the child is the one process left in the cgroup: {pids:?}");
    let child = pids[0];
    assert!(alive(child));
    assert_ok(&rt.cmd(&["kill", "--all", &id, "9"]));
    assert!(wait_until(Duration::from_secs(3), || !alive(child)), "the init's child survived kill --all");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

/// SIGKILL, with or without --all, ends a paused container now, not at
/// `resume`; a gentler signal waits for the resume, as the pause asked.
#[test]
fn sigkill_ends_a_paused_container() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "300"]);
    for all in [false, true] {
        let id = rt.id(if all { "killallpaused" } else { "killpaused" });
        rt.start_container(&id, &bundle);
        assert_ok(&rt.cmd(&["pause", &id]));
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        let term: Vec<&str> = args.iter().copied().chain([id.as_str(), "TERM"]).collect();
        assert_ok(&rt.cmd(&term));
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(rt.status(&id).as_deref(), Some("paused"), "SIGTERM waits for resume (all: {all})");
        let kill: Vec<&str> = args.iter().copied().chain([id.as_str(), "KILL"]).collect();
        assert_ok(&rt.cmd(&kill));
        rt.wait_status(&id, "stopped");
        assert_ok(&rt.delete(&id));
        rt.assert_clean(&id, &bundle);
    }
}
