//! `--systemd-cgroup` on this machine, whose PID 1 is not systemd: what can
//! be checked without a systemd — the `slice:prefix:name` form, and that a
//! create which cannot reach systemd fails naming the D-Bus socket and
//! leaves nothing behind (the init it had already cloned, the state
//! directory). The driver itself runs against a real systemd in a VM
//! (systemd_vm.rs).

use glassbox_e2e::*;
use serde_json::json;

fn with_cgroups_path(bundle: &Bundle, path: &str) {
    bundle.config_mut(|v| v["linux"]["cgroupsPath"] = json!(path));
}

#[test]
fn without_a_reachable_systemd_create_fails_and_leaves_nothing() {
    let rt = Runtime::new();
    let id = rt.id("nobus");
    let bundle = Bundle::busybox(&["true"]);
    with_cgroups_path(&bundle, &format!("machine.slice:gbtest:{id}"));
    bundle.config_mut(|v| v["linux"]["resources"]["pids"] = json!({ "limit": 20 }));
    let bus = rt.scratch().join("no-bus");
    let bus_address = format!("unix:path={}", bus.display());
    let out = rt.cmd_env(
        &[("DBUS_SYSTEM_BUS_ADDRESS", bus_address.as_str())],
        &["--systemd-cgroup", "run", "--bundle", bundle.path().to_str().unwrap(), &id],
    );
    let err = assert_fails(&out);
    assert!(err.contains(&bus.display().to_string()) && err.contains("dbus"), "{err}");
    assert!(!err.contains('\n') || err.trim_end().lines().count() == 1, "one line: {err}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn the_systemd_driver_wants_slice_prefix_name() {
    let rt = Runtime::new();
    let id = rt.id("fspath");
    let bundle = Bundle::busybox(&["true"]);
    with_cgroups_path(&bundle, "/pods/web");
    let out = rt.cmd(&["--systemd-cgroup", "run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    let err = assert_fails(&out);
    assert!(err.contains(r#"linux.cgroupsPath "/pods/web""#) && err.contains("slice:prefix:name"), "{err}");
    rt.assert_clean(&id, &bundle);
    for bad in ["machine.slice:p:", "a--b.slice:p:n", "user.slice/x.slice:p:n"] {
        with_cgroups_path(&bundle, bad);
        let out = rt.cmd(&["--systemd-cgroup", "run", "--bundle", bundle.path().to_str().unwrap(), &id]);
        let err = assert_fails(&out);
        assert!(err.contains(&format!("linux.cgroupsPath {bad:?}")), "{err}");
        rt.assert_clean(&id, &bundle);
    }
}

#[test]
fn a_systemd_path_without_the_flag_says_to_pass_it() {
    let rt = Runtime::new();
    let id = rt.id("noflag");
    let bundle = Bundle::busybox(&["true"]);
    with_cgroups_path(&bundle, "machine.slice:gbtest:web");
    let err = assert_fails(&rt.run(&id, &bundle));
    assert!(err.contains("--systemd-cgroup"), "{err}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn features_say_systemd() {
    let rt = Runtime::new();
    let features: serde_json::Value = serde_json::from_slice(&rt.cmd(&["features"]).stdout).unwrap();
    assert_eq!(features["linux"]["cgroup"]["systemd"], true);
    assert_eq!(features["linux"]["cgroup"]["systemdUser"], false);
}
