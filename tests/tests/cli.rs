//! The other verbs runc's callers use: list, ps, spec, features, state's
//! fields, and kill's signal names.

use glassbox_e2e::*;
use serde_json::{json, Value};

/// A container whose init (a shell, so it has a handler) exits 0 on TERM.
fn term_aware(rt: &Runtime, name: &str) -> (String, Bundle) {
    let bundle = Bundle::busybox(&["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"]);
    let id = rt.id(name);
    rt.start_container(&id, &bundle);
    (id, bundle)
}

#[test]
fn list_shows_the_container_in_every_format() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("list");
    assert_ok(&rt.create(&id, &bundle));

    let table = rt.cmd(&["list"]);
    assert_ok(&table);
    let text = stdout(&table);
    let header = text.lines().next().unwrap_or("");
    assert!(header.contains("ID") && header.contains("STATUS"), "table header: {text}");
    let row = text.lines().find(|l| l.split_whitespace().next() == Some(id.as_str()));
    assert!(row.is_some_and(|r| r.contains("created")), "row for {id}: {text}");

    let quiet = rt.cmd(&["list", "-q"]);
    assert_ok(&quiet);
    assert_eq!(stdout(&quiet), format!("{id}\n"));

    let js = rt.cmd(&["list", "--format", "json"]);
    assert_ok(&js);
    let v: Value = serde_json::from_slice(&js.stdout).expect("list --format json parses");
    let arr = v.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["id"], id.as_str());
    assert_eq!(arr[0]["status"], "created");
    assert_eq!(arr[0]["pid"], rt.pid(&id));

    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
    let empty = rt.cmd(&["list", "-q"]);
    assert_ok(&empty);
    assert_eq!(stdout(&empty), "");
}

#[test]
fn list_of_an_empty_root_in_json_is_an_empty_array() {
    let rt = Runtime::new();
    let out = rt.cmd(&["list", "--format", "json"]);
    assert_ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(v == json!([]) || v.is_null(), "empty list: {}", stdout(&out));
}

#[test]
fn ps_json_lists_the_init_pid() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("ps");
    rt.start_container(&id, &bundle);
    let pids = rt.pids(&id);
    assert!(pids.contains(&rt.pid(&id)), "init pid missing from {pids:?}");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn ps_table_shows_the_process() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("pstable");
    rt.start_container(&id, &bundle);
    let out = rt.cmd(&["ps", &id]);
    assert_ok(&out);
    let pid = rt.pid(&id).to_string();
    assert!(stdout(&out).lines().any(|l| l.split_whitespace().any(|w| w == pid)), "{}", stdout(&out));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn spec_writes_a_config_that_parses() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(glassbox_bin()).args(["spec", "--bundle"]).arg(dir.path()).output().unwrap();
    assert_ok(&out);
    let text = std::fs::read(dir.path().join("config.json")).expect("spec wrote config.json");
    let v: Value = serde_json::from_slice(&text).expect("config.json parses");
    assert!(v["ociVersion"].as_str().is_some_and(|s| s.starts_with("1.")), "{}", v["ociVersion"]);
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(v["process"]["args"].is_array());
    assert!(v["linux"]["namespaces"].is_array());
}

#[test]
fn spec_rootless_adds_a_user_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(glassbox_bin())
        .args(["spec", "--rootless", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ok(&out);
    let v: Value = serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    let kinds: Vec<&str> =
        v["linux"]["namespaces"].as_array().unwrap().iter().filter_map(|n| n["type"].as_str()).collect();
    assert!(kinds.contains(&"user"), "rootless spec namespaces: {kinds:?}");
    assert!(v["linux"]["uidMappings"].is_array(), "rootless spec needs uidMappings");
}

#[test]
fn features_is_json_with_oci_version_max() {
    let out = std::process::Command::new(glassbox_bin()).arg("features").output().unwrap();
    assert_ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("features prints JSON");
    assert!(v["ociVersionMax"].as_str().is_some_and(|s| s.starts_with("1.")), "features: {v}");
    assert!(v["ociVersionMin"].is_string(), "features: {v}");
    let ns = v["linux"]["namespaces"].as_array().map(|a| a.len()).unwrap_or(0);
    assert!(ns >= 7, "features should list the namespaces: {v}");
}

#[test]
fn state_has_the_runtime_spec_fields() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| v["annotations"] = json!({ "org.example.key": "value" }));
    let id = rt.id("statefields");
    assert_ok(&rt.create(&id, &bundle));
    let s = rt.state(&id);
    for field in ["ociVersion", "id", "status", "pid", "bundle"] {
        assert!(!s[field].is_null(), "state lacks {field}: {s}");
    }
    assert_eq!(s["annotations"]["org.example.key"], "value", "{s}");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn a_container_with_the_annotations_kubernetes_allows_is_made() {
    // 256 KiB of annotations (Kubernetes' limit per object) reach the init
    // in its HooksDone message, state.json and all.
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let big = "a".repeat(256 * 1024);
    bundle.config_mut(|v| v["annotations"] = json!({ "org.example.big": big }));
    let id = rt.id("bigannotations");
    assert_ok(&rt.create(&id, &bundle));
    assert_eq!(rt.state(&id)["annotations"]["org.example.big"].as_str().map(str::len), Some(big.len()));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn kill_accepts_signal_names_and_numbers() {
    for signal in ["TERM", "SIGTERM", "15"] {
        let rt = Runtime::new();
        let (id, bundle) = term_aware(&rt, "killname");
        let out = rt.kill(&id, signal);
        assert_ok(&out);
        rt.wait_status(&id, "stopped");
        assert_ok(&rt.delete(&id));
        rt.assert_clean(&id, &bundle);
    }
}

#[test]
fn kill_default_signal_is_term() {
    let rt = Runtime::new();
    let (id, bundle) = term_aware(&rt, "killdefault");
    assert_ok(&rt.cmd(&["kill", &id]));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn kill_with_an_invalid_signal_fails_and_leaves_it_running() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("killbad");
    rt.start_container(&id, &bundle);
    for bad in ["SIGNOPE", "0x9", "99", "TERMINATE"] {
        let err = assert_fails(&rt.cmd(&["kill", &id, bad]));
        assert!(err.contains(bad), "the error should quote the signal {bad:?}: {err}");
    }
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn kill_all_reaches_every_process() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("killall");
    rt.start_container(&id, &bundle);
    let pid_file = rt.scratch().join("exec.pid");
    assert_ok(&rt.cmd(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "30"]));
    let extra: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_ok(&rt.cmd(&["kill", "--all", &id, "KILL"]));
    rt.wait_status(&id, "stopped");
    assert!(
        wait_until(std::time::Duration::from_secs(3), || {
            std::fs::read_to_string(format!("/proc/{extra}/stat")).map(|s| s.contains(") Z")).unwrap_or(true)
        }),
        "the exec'd process survived kill --all"
    );
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn kill_of_a_stopped_container_fails() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["true"]);
    let id = rt.id("killstopped");
    rt.start_container_or_stopped(&id, &bundle);
    rt.wait_status(&id, "stopped");
    assert_fails(&rt.kill(&id, "KILL"));
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}
