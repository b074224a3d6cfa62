//! linux.resources and the container's cgroups (cgroups(7), config-linux.md
//! "Control groups"), read from the host's v1 hierarchies: by default
//! `<hierarchy>/glassbox/<id>`, removed by delete.

use std::path::PathBuf;

use glassbox_e2e::*;
use serde_json::json;

fn v1(controller: &str, id: &str, file: &str) -> PathBuf {
    PathBuf::from("/sys/fs/cgroup").join(controller).join("glassbox").join(id).join(file)
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim().to_string()
}

#[test]
fn limits_are_written_and_the_init_is_in_the_cgroup() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| {
        v["linux"]["resources"]["pids"] = json!({ "limit": 50 });
        v["linux"]["resources"]["memory"] = json!({ "limit": 64 * 1024 * 1024 });
        v["linux"]["resources"]["cpu"] = json!({ "shares": 512 });
    });
    let rt = Runtime::new();
    let id = rt.id("limits");
    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id);
    assert_eq!(read(&v1("pids", &id, "pids.max")), "50");
    assert_eq!(read(&v1("memory", &id, "memory.limit_in_bytes")), (64 * 1024 * 1024).to_string());
    assert_eq!(read(&v1("cpu", &id, "cpu.shares")), "512");
    let procs = read(&v1("pids", &id, "cgroup.procs"));
    assert!(procs.lines().any(|l| l == pid.to_string()), "init {pid} not in pids cgroup: {procs}");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.lines().any(|l| clean::cgroup_line_names(l, &id)), "/proc/{pid}/cgroup: {cg}");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn pids_limit_is_enforced_inside() {
    // An inner shell tries to start 10 sleeps (busybox sh exits at its first
    // failed fork); the init survives it and stays running.
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done' 2>/dev/null; exec sleep 30",
    ]);
    bundle.config_mut(|v| v["linux"]["resources"]["pids"] = json!({ "limit": 5 }));
    let rt = Runtime::new();
    let id = rt.id("pidsmax");
    assert_ok(&rt.create(&id, &bundle));
    assert_ok(&rt.start(&id));
    let events = v1("pids", &id, "pids.events");
    let refused = || read(&events).split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    assert!(wait_until(std::time::Duration::from_secs(3), || refused() > 0), "pids.events: {}", read(&events));
    let count = read(&v1("pids", &id, "cgroup.procs")).lines().count();
    assert!(count <= 5, "{count} processes in a cgroup with pids.max 5");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn cgroup_namespace_shows_the_container_at_the_root() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/cgroup"]);
    bundle.config_mut(|v| spec::set_namespace(v, "cgroup", None));
    let rt = Runtime::new();
    let id = rt.id("cgroupns");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(!text.contains("glassbox"), "inside a cgroup namespace the path should not show glassbox/: {text}");
    let pids = text.lines().find(|l| l.split(':').nth(1) == Some("pids")).expect("a pids line");
    assert!(pids.ends_with(":/"), "{pids}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn custom_cgroups_path_is_used_and_removed() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("cgpath");
    let rel = format!("e2e-{id}/box");
    bundle.config_mut(|v| v["linux"]["cgroupsPath"] = json!(rel.clone()));
    assert_ok(&rt.create(&id, &bundle));
    let dir = PathBuf::from("/sys/fs/cgroup/pids/glassbox").join(&rel);
    assert!(dir.is_dir(), "{} should exist (relative cgroupsPath lives under glassbox/)", dir.display());
    let pid = rt.pid(&id);
    assert!(read(&dir.join("cgroup.procs")).lines().any(|l| l == pid.to_string()));
    assert_ok(&rt.delete_force(&id));
    assert!(!dir.exists(), "{} left after delete", dir.display());
    // The intermediate directory is ours too; remove it if the runtime kept it.
    for hier in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(hier.path().join("glassbox").join(format!("e2e-{id}")));
    }
    rt.assert_clean(&id, &bundle);
}
