//! Small edits of a config.json held as serde_json::Value, named after the
//! runtime-spec fields they touch (config.md, config-linux.md).

use serde_json::{json, Value};

fn array<'a>(v: &'a mut Value, key: &str) -> &'a mut Vec<Value> {
    if !v[key].is_array() {
        v[key] = json!([]);
    }
    v[key].as_array_mut().unwrap()
}

/// Adds (or replaces) `linux.namespaces[type]`, optionally joining `path`.
pub fn set_namespace(v: &mut Value, kind: &str, path: Option<&str>) {
    let list = array(&mut v["linux"], "namespaces");
    list.retain(|n| n["type"] != kind);
    let mut ns = json!({ "type": kind });
    if let Some(p) = path {
        ns["path"] = json!(p);
    }
    list.push(ns);
}

/// A new user namespace whose root (and 65535 ids after it) is `host_id`
/// on the host, for users and groups alike.
pub fn map_root_to(v: &mut Value, host_id: u32) {
    set_namespace(v, "user", None);
    let map = json!([{ "containerID": 0, "hostID": host_id, "size": 65536 }]);
    v["linux"]["uidMappings"] = map.clone();
    v["linux"]["gidMappings"] = map;
}

/// Removes `linux.namespaces[type]`: the container shares the host's.
pub fn remove_namespace(v: &mut Value, kind: &str) {
    array(&mut v["linux"], "namespaces").retain(|n| n["type"] != kind);
}

/// Appends one entry to `mounts`.
pub fn add_mount(v: &mut Value, mount: Value) {
    array(v, "mounts").push(mount);
}

/// Sets the environment to exactly `env`.
pub fn set_env(v: &mut Value, env: &[&str]) {
    v["process"]["env"] = json!(env);
}

/// Every capability set of `process.capabilities` to `caps`.
pub fn set_all_caps(v: &mut Value, caps: &[&str]) {
    v["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps, "inheritable": [], "ambient": []
    });
}

/// Adds a hook command under `hooks.<phase>`.
pub fn add_hook(v: &mut Value, phase: &str, path: &str, args: &[&str]) {
    if !v["hooks"].is_object() {
        v["hooks"] = json!({});
    }
    array(&mut v["hooks"], phase).push(json!({ "path": path, "args": args }));
}

/// The bit mask of capability numbers, as /proc/<pid>/status prints it.
pub fn cap_mask(numbers: &[u32]) -> u64 {
    numbers.iter().fold(0u64, |m, n| m | (1u64 << n))
}
