//! runtime-spec 1.3: a config.json saying `"ociVersion": "1.3.0"` runs, and
//! each Linux field 1.3 added is either carried out (linux.memoryPolicy,
//! checked from inside through /proc/self/numa_maps, for the init and for a
//! process `exec` adds) or refused by name before anything is made
//! (linux.netDevices, linux.intelRdt's schemata and enableMonitoring, the
//! freebsd section, vm.hwConfig) — never silently dropped. `glassbox
//! features` says which.

use glassbox_e2e::*;
use serde_json::json;

#[test]
fn a_1_3_config_runs() {
    let out = run_in_container("oci13", &["echo", "ran"], |v| v["ociVersion"] = json!("1.3.0"));
    assert_eq!(out.trim(), "ran");
}

#[test]
fn the_default_spec_says_1_3() {
    let bundle = Bundle::busybox(&["true"]);
    assert_eq!(bundle.config()["ociVersion"], "1.3.0");
}

/// The policy as the kernel shows it for the process's first mapping:
/// "bind:0", "interleave:0", "bind=static:0"… ("default" when none is set).
const FIRST_MAPPING_POLICY: &str = "head -1 /proc/self/numa_maps | cut -d' ' -f2";

#[test]
fn memory_policy_holds_for_the_init_and_for_exec() {
    let bundle = Bundle::busybox(&["sh", "-c", &format!("{FIRST_MAPPING_POLICY}; sleep 30")]);
    bundle.config_mut(|v| {
        v["ociVersion"] = json!("1.3.0");
        v["linux"]["memoryPolicy"] = json!({ "mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"] });
    });
    let rt = Runtime::new();
    let id = rt.id("mempolicy");
    rt.start_container(&id, &bundle);
    let init = rt.pid(&id);
    let maps = std::fs::read_to_string(format!("/proc/{init}/numa_maps")).unwrap();
    assert!(maps.lines().next().unwrap_or_default().contains(" bind=static:0 "), "the init's policy: {maps}");
    let out = rt.exec(&id, &["sh", "-c", FIRST_MAPPING_POLICY]);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "bind=static:0", "a process exec adds gets the container's policy");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);

    let out = run_in_container("mempolicy-interleave", &["sh", "-c", FIRST_MAPPING_POLICY], |v| {
        v["linux"]["memoryPolicy"] = json!({ "mode": "MPOL_INTERLEAVE", "nodes": "0" });
    });
    assert_eq!(out.trim(), "interleave:0");
    let out = run_in_container("mempolicy-none", &["sh", "-c", FIRST_MAPPING_POLICY], |_| {});
    assert_eq!(out.trim(), "default", "no policy, no change");
}

#[test]
fn a_memory_policy_the_kernel_would_refuse_is_refused_by_field() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["linux"]["memoryPolicy"] = json!({ "mode": "MPOL_LOCAL", "nodes": "0-1" }));
    refused(&bundle, "mempolicy-local-nodes", &["linux.memoryPolicy.nodes", "MPOL_LOCAL takes no nodes"]);
    bundle.config_mut(|v| v["linux"]["memoryPolicy"] = json!({ "mode": "MPOL_BIND", "nodes": "0-x" }));
    refused(&bundle, "mempolicy-bad-nodes", &["linux.memoryPolicy.nodes", "0-x"]);
    bundle.config_mut(|v| v["linux"]["memoryPolicy"] = json!({ "mode": "MPOL_SOMETIMES" }));
    refused(&bundle, "mempolicy-mode", &["linux.memoryPolicy.mode", "MPOL_SOMETIMES"]);
}

#[test]
fn a_node_this_host_does_not_have_fails_create_naming_it() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["linux"]["memoryPolicy"] = json!({ "mode": "MPOL_BIND", "nodes": "1000" }));
    let rt = Runtime::new();
    let id = rt.id("mempolicy-offline");
    let err = assert_fails(&rt.create(&id, &bundle));
    refused::assert_names(&err, &["linux.memoryPolicy", "set_mempolicy(MPOL_BIND", "1000", "online"], "create");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn net_devices_are_refused_by_name() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["linux"]["netDevices"] = json!({ "eth1": { "name": "net0" } }));
    refused(&bundle, "netdevices", &["linux.netDevices", "not supported"]);
}

#[test]
fn intel_rdt_schemata_is_refused_by_name() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["linux"]["intelRdt"] = json!({ "schemata": ["L2:0=ff"], "enableMonitoring": true }));
    refused(&bundle, "rdt-schemata", &["linux.intelRdt", "schemata"]);
}

/// oci-spec has no place for `freebsd`: serde would drop it without a word.
#[test]
fn sections_for_other_platforms_are_refused_by_name() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["freebsd"] = json!({ "jail": { "parent": "host" } }));
    refused(&bundle, "freebsd", &["freebsd", "Linux containers"]);
    bundle.config_mut(|v| {
        v.as_object_mut().unwrap().remove("freebsd");
        v["vm"] = json!({ "kernel": { "path": "/boot/vmlinuz" }, "hwConfig": { "vcpus": 2 } });
    });
    refused(&bundle, "vm", &["vm", "virtual-machine"]);
}

#[test]
fn features_says_what_of_1_3_is_done() {
    let rt = Runtime::new();
    let out = rt.cmd(&["features"]);
    assert_ok(&out);
    let f: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(f["ociVersionMax"], "1.3.0");
    let modes = f["linux"]["memoryPolicy"]["modes"].as_array().unwrap();
    assert!(modes.contains(&json!("MPOL_BIND")) && modes.contains(&json!("MPOL_WEIGHTED_INTERLEAVE")), "{f}");
    assert_eq!(f["linux"]["memoryPolicy"]["flags"].as_array().unwrap().len(), 3, "{f}");
    assert_eq!(f["linux"]["netDevices"]["enabled"], false);
    assert_eq!(f["linux"]["intelRdt"], json!({ "enabled": false, "schemata": false, "monitoring": false }));
}
