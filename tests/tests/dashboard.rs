//! The dashboard as a learner starts it: `glassbox dashboard` on a hub
//! socket and a loopback port of its own, with real containers made by
//! glassbox before and after it started, read back through its HTTP API
//! and `/metrics` the way a browser or Prometheus would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use glassbox_e2e::*;
use serde_json::Value;

/// The dashboard process, stopped (SIGTERM) and reaped on drop.
struct Dashboard {
    child: Child,
    port: u16,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGTERM);
        let _ = glassbox_e2e::runtime::wait_bounded(&mut self.child, Duration::from_secs(5));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Dashboard {
    fn start(rt: &Runtime, hub: &std::path::Path) -> Dashboard {
        let port = free_port();
        let child = rt
            .command()
            .args(["dashboard", "--hub"])
            .arg(hub)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--root"])
            .arg(rt.root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dashboard = Dashboard { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while dashboard.get("/api/containers").is_none() || !hub.exists() {
            assert!(Instant::now() < deadline, "the dashboard did not answer on port {port} within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        dashboard
    }

    /// A plain HTTP/1.1 GET: the status line's code and the body.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let code = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n")?.1.to_string();
        Some((code, body))
    }

    fn container(&self, id: &str) -> Option<Value> {
        let (code, body) = self.get(&format!("/api/containers/{id}"))?;
        (code == 200).then(|| serde_json::from_str(&body).unwrap())
    }

    /// Until `ok` holds of the container's view, or 5 s.
    fn wait_for(&self, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(c) = self.container(id).filter(|c| ok(c)) {
                return c;
            }
            assert!(Instant::now() < deadline, "{id}: not as expected within 5 s: {:?}", self.container(id));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn run_with_hub(rt: &Runtime, id: &str, bundle: &Bundle, hub: &std::path::Path) -> std::process::Output {
    let mut args = vec![std::ffi::OsStr::new("--hub"), hub.as_os_str()];
    args.extend(["run", id, "--bundle"].map(std::ffi::OsStr::new));
    args.push(bundle.path().as_os_str());
    rt.cmd_os(args)
}

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
