//! The dashboard as a learner starts it: `glassbox dashboard` on a hub
//! socket and a loopback port of its own, with real containers made by
//! glassbox before and after it started, read back through its HTTP API
//! and `/metrics` the way a browser or Prometheus would.

use glassbox_e2e::dashboard::{run_with_hub, Dashboard};
use glassbox_e2e::*;

#[test]
fn containers_made_before_and_after_it_started_are_served_with_their_stages_and_metrics() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");

    // Before the dashboard: a container that ran and was deleted (its record kept).
    let bundle = Bundle::busybox(&["true"]);
    let before = rt.id("dash-before");
    assert_ok(&rt.run(&before, &bundle));

    let dashboard = Dashboard::start(&rt, &hub);
    let old = dashboard.wait_for(&before, |c| c["status"] == "deleted");
    assert!(old["stages"].as_array().unwrap().iter().any(|s| s["stage"] == "mounts"), "{old}");

    // After: one that runs, live over the hub socket, and one that fails at a named stage.
    let id = rt.id("dash-live");
    assert_ok(&run_with_hub(&rt, &id, &bundle, &hub));
    let live = dashboard.wait_for(&id, |c| c["status"] == "deleted");
    let stages: Vec<&str> = live["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    for stage in ["bundle", "cgroup", "namespaces", "mounts", "pivot_root", "exec"] {
        assert!(stages.contains(&stage), "{stage} missing from {stages:?}");
    }
    assert!(live["pid"].as_i64().unwrap() > 0, "{live}");
    // Every stage ended, and ended well: none is left "running" (a step
    // one process records in another's stage makes no stage of its own).
    assert!(live["stages"].as_array().unwrap().iter().all(|s| s["outcome"] == "ok"), "{live}");

    let failing = Bundle::busybox(&["true"]);
    failing.config_mut(|v| spec::add_hook(v, "createRuntime", "/bin/sh", &["sh", "-c", "exit 3"]));
    let failed = rt.id("dash-fails");
    assert!(!run_with_hub(&rt, &failed, &failing, &hub).status.success());
    let view =
        dashboard.wait_for(&failed, |c| c["stages"].as_array().unwrap().iter().any(|s| s["outcome"] == "failed"));
    let hooks = view["stages"].as_array().unwrap().iter().find(|s| s["outcome"] == "failed").unwrap();
    assert_eq!(hooks["stage"], "hooks", "{view}");
    assert!(hooks["error"].as_str().unwrap().contains("exited with code 3"), "{view}");

    let (code, metrics) = dashboard.get("/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(metrics.contains(r#"glassbox_stage_duration_seconds_count{stage="mounts"}"#), "{metrics}");
    assert!(metrics.contains(r#"glassbox_stage_failures_total{stage="hooks"} "#), "{metrics}");
    assert!(metrics.contains(r#"glassbox_containers_created_total{result="created"} "#), "{metrics}");
    // The create that failed at its hook, counted once.
    assert!(metrics.contains(r#"glassbox_containers_created_total{result="failed"} 1"#), "{metrics}");
    let (code, _) = dashboard.get("/api/containers/no-such-container").unwrap();
    assert_eq!(code, 404);

    // It watches without getting in the way: every thread is SCHED_BATCH
    // (policy 3), whose wakeups never preempt a runtime making a container.
    for task in std::fs::read_dir(format!("/proc/{}/task", dashboard.pid())).unwrap() {
        let sched = std::fs::read_to_string(task.unwrap().path().join("sched")).unwrap_or_default();
        let policy = sched.lines().find(|l| l.starts_with("policy")).unwrap_or_default();
        assert!(policy.ends_with(" 3"), "{policy}");
    }

    drop(dashboard);
    assert!(!hub.exists(), "the dashboard removes its socket when it stops");
    rt.assert_clean_id(&id);
    rt.assert_clean_id(&failed);
}

#[test]
fn a_second_dashboard_on_the_same_socket_or_a_public_address_is_refused() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let _first = Dashboard::start(&rt, &hub);
    let out = rt.command().args(["dashboard", "--hub"]).arg(&hub).args(["--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("another hub already listens"), "{}", stderr(&out));
    let out = rt
        .command()
        .args(["dashboard", "--hub"])
        .arg(rt.scratch().join("other.sock"))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("only loopback addresses"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--public"), "the error names the flag: {}", stderr(&out));
    assert!(!rt.scratch().join("other.sock").exists(), "a refused start leaves no socket");
}

#[test]
fn a_public_address_needs_the_flag_and_then_every_request_the_token() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    // --public with no token given: one is generated and printed on stderr.
    let log = rt.scratch().join("dashboard.log");
    let mut child = rt
        .command()
        .args(["dashboard", "--public", "--listen", "0.0.0.0:0", "--hub"])
        .arg(&hub)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let printed = || std::fs::read_to_string(&log).unwrap_or_default();
    let token =
        |text: String| text.lines().find_map(|l| l.split("token (every request needs it): ").nth(1).map(String::from));
    assert!(
        wait_until(std::time::Duration::from_secs(10), || token(printed()).is_some()),
        "no token printed: {}",
        printed()
    );
    let generated = token(printed()).unwrap();
    assert_eq!(generated.len(), 64, "{generated}");
    assert!(printed().contains(&format!("?token={generated}")), "the URL to open is printed: {}", printed());
    let _ = child.kill();
    let _ = child.wait();

    // A token given: 401 without it, whatever the route; 200 with it.
    let _ = std::fs::remove_file(&hub);
    let dashboard = Dashboard::start_on(&rt, &hub, "0.0.0.0", &["--public", "--token", "t0ps3cret"]);
    for path in ["/api/containers", "/metrics", "/api/containers/x/cgroup"] {
        let (code, _, body) = dashboard.get_with(path, &[]).unwrap();
        assert_eq!(code, 401, "{path}: {body}");
        assert_eq!(dashboard.get_with(path, &["Authorization: Bearer wrong"]).unwrap().0, 401, "{path}");
    }
    let (code, _, body) = dashboard.get_with("/metrics", &["Authorization: Bearer t0ps3cret"]).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("glassbox_events_received_total"), "{body}");
    // A browser's first visit: ?token= answers 200 and sets the cookie the page's requests carry.
    let (code, head, _) = dashboard.get_with("/api/containers?token=t0ps3cret", &[]).unwrap();
    assert_eq!(code, 200);
    let cookie = head.lines().find_map(|l| l.strip_prefix("set-cookie: ")).expect("a cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(dashboard.get_with("/api/containers", &[&format!("Cookie: {pair}")]).unwrap().0, 200);
}

#[test]
fn the_hub_socket_is_roots_alone_unless_a_group_is_named() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start(&rt, &hub);
    let meta = std::fs::metadata(&hub).unwrap();
    assert_eq!((meta.permissions().mode() & 0o777, meta.uid(), meta.gid()), (0o600, 0, 0), "root's alone by default");
    drop(dashboard);

    let dashboard = Dashboard::start_with(&rt, &hub, &["--hub-group", "daemon"]);
    let meta = std::fs::metadata(&hub).unwrap();
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    let daemon: u32 =
        groups.lines().find_map(|l| l.strip_prefix("daemon:x:")?.split(':').next()?.parse().ok()).unwrap();
    assert_eq!((meta.permissions().mode() & 0o777, meta.gid()), (0o660, daemon), "the group may connect");
    // And runtimes still reach it: a container's events arrive.
    let id = rt.id("dash-group");
    assert_ok(&run_with_hub(&rt, &id, &Bundle::busybox(&["true"]), &hub));
    dashboard.wait_for(&id, |c| c["status"] == "deleted");
    drop(dashboard);

    let other = rt.scratch().join("other.sock");
    let out = rt
        .command()
        .args(["dashboard", "--hub-group", "no-such-group-here", "--listen", "127.0.0.1:0", "--hub"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--hub-group no-such-group-here: no such group"), "{}", stderr(&out));
    assert!(!other.exists(), "a refused group leaves no socket behind");
    rt.assert_clean_id(&id);
}
