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
    let live = dashboard.wait_for(&id, |c| c["status"] == "stopped");
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
    assert!(metrics.contains("glassbox_containers_created_total"), "{metrics}");
    let (code, _) = dashboard.get("/api/containers/no-such-container").unwrap();
    assert_eq!(code, 404);

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
}
