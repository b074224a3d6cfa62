//! Namespaces (namespaces(7), config-linux.md "Namespaces"): seen from inside
//! (hostname, pid 1, uid_map, uptime) and from outside (/proc/<pid>/ns/*).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use glassbox_e2e::*;
use serde_json::json;

const ALL: [&str; 6] = ["pid", "network", "ipc", "uts", "mount", "cgroup"];

fn with_namespaces(bundle: &Bundle, kinds: &[&str]) {
    bundle.config_mut(|v| {
        for k in kinds {
            spec::set_namespace(v, k, None);
        }
    });
}

/// Every namespace glassbox makes by default, new.
fn set_all(v: &mut serde_json::Value) {
    for k in ALL {
        spec::set_namespace(v, k, None);
    }
}

#[test]
fn hostname_comes_from_the_config() {
    let out = run_in_container("hostname", &["hostname"], |v| {
        set_all(v);
        v["hostname"] = json!("glassbox-uts");
    });
    assert_eq!(out.trim(), "glassbox-uts");
}

#[test]
fn the_process_is_pid_1() {
    assert_eq!(run_in_container("pid1", &["sh", "-c", "echo $$"], set_all).trim(), "1");
}

#[test]
fn every_namespace_differs_from_the_host() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    with_namespaces(&bundle, &ALL);
    let rt = Runtime::new();
    let id = rt.id("nsdiff");
    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id).to_string();
    for ns in ["mnt", "uts", "ipc", "net", "pid", "cgroup"] {
        assert_ne!(host_ns(&pid, ns), host_ns("self", ns), "the container shares the host's {ns} namespace");
    }
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn a_namespace_left_out_is_shared_with_the_host() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    with_namespaces(&bundle, &ALL);
    bundle.config_mut(|v| spec::remove_namespace(v, "ipc"));
    let rt = Runtime::new();
    let id = rt.id("nsshare");
    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id).to_string();
    assert_eq!(host_ns(&pid, "ipc"), host_ns("self", "ipc"));
    assert_ne!(host_ns(&pid, "net"), host_ns("self", "net"));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

/// A host process holding a fresh network namespace; killed on drop.
struct NetnsHolder(Child);

impl NetnsHolder {
    fn new() -> NetnsHolder {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "30"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare --net sleep 30");
        let holder = NetnsHolder(child);
        let pid = holder.pid();
        let host = host_ns("self", "net");
        assert!(
            wait_until(Duration::from_secs(3), || std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .map(|l| l.to_string_lossy() != host)
                .unwrap_or(false)),
            "unshare never entered its own network namespace"
        );
        holder
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for NetnsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn joining_an_existing_network_namespace_by_path() {
    let holder = NetnsHolder::new();
    let path = format!("/proc/{}/ns/net", holder.pid());
    let want = host_ns(&holder.pid().to_string(), "net");
    let bundle = Bundle::busybox(&["readlink", "/proc/self/ns/net"]);
    with_namespaces(&bundle, &ALL);
    bundle.config_mut(|v| spec::set_namespace(v, "network", Some(&path)));
    let rt = Runtime::new();
    let id = rt.id("joinnet");

    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id).to_string();
    assert_eq!(host_ns(&pid, "net"), want, "the init is not in the namespace at {path}");
    assert_ok(&rt.start(&id));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);

    let id = rt.id("joinnet-run");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), want, "seen from inside");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn user_namespace_maps_root_to_100000() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
    with_namespaces(&bundle, &ALL);
    bundle.config_mut(|v| spec::map_root_to(v, 100000));
    let rt = Runtime::new();
    let id = rt.id("userns");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    let lines: Vec<Vec<String>> =
        stdout(&out).lines().map(|l| l.split_whitespace().map(String::from).collect()).collect();
    assert_eq!(lines, vec![vec!["0", "100000", "65536"]; 2], "uid_map then gid_map: {}", stdout(&out));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn user_namespace_seen_from_outside() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    with_namespaces(&bundle, &ALL);
    bundle.config_mut(|v| spec::map_root_to(v, 100000));
    let rt = Runtime::new();
    let id = rt.id("userns-out");
    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id);
    assert_ne!(host_ns(&pid.to_string(), "user"), host_ns("self", "user"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.split_whitespace().skip(1).all(|u| u == "100000"), "host view: {uid_line}");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

fn uptime_secs(text: &str) -> f64 {
    text.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("uptime: {text:?}"))
}

#[test]
fn time_namespace_shifts_boottime() {
    const SHIFT: i64 = 10 * 86400;
    let bundle = Bundle::busybox(&["cat", "/proc/uptime"]);
    with_namespaces(&bundle, &ALL);
    bundle.config_mut(|v| {
        spec::set_namespace(v, "time", None);
        v["linux"]["timeOffsets"] = json!({ "boottime": { "secs": SHIFT, "nanosecs": 0 } });
    });
    let rt = Runtime::new();
    let id = rt.id("timens");
    let before = uptime_secs(&std::fs::read_to_string("/proc/uptime").unwrap());
    let out = rt.run(&id, &bundle);
    let after = uptime_secs(&std::fs::read_to_string("/proc/uptime").unwrap());
    assert_ok(&out);
    let inside = uptime_secs(&stdout(&out));
    assert!(
        inside >= before + SHIFT as f64 && inside <= after + SHIFT as f64 + 1.0,
        "inside {inside}, host {before}..{after}, offset {SHIFT}"
    );
    rt.assert_clean(&id, &bundle);
}
