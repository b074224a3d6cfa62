//! `glassbox spec`: the default `config.json` (runtime-spec, config.md and
//! config-linux.md) for a bundle whose `rootfs/` holds a busybox-style
//! system. It is the same shape as runc's default, written out as the JSON a
//! learner will read in the file, so each field here can be compared line by
//! line with what `glassbox spec` prints.
//!
//! Two deliberate choices:
//! - `process.terminal` is **false** (runc says true). With a terminal, `run`
//!   needs a real tty or a `--console-socket`, so `glassbox run` in a script,
//!   a test or CI would fail; without one the container simply shares the
//!   caller's stdin/stdout/stderr. Set it to true for an interactive shell.
//! - `--rootless` makes the changes an unprivileged user needs (see
//!   [`default_config_json`]): a user namespace mapping your own uid/gid to root, no
//!   new network namespace, and host-owned pieces (`/sys`, the cgroup tree)
//!   shown through a bind mount or left out — as runc does. When you have
//!   subordinate ids (/etc/subuid, /etc/subgid) and `newuidmap`/`newgidmap`
//!   are installed, ids 1… of the container map to them too, as rootless
//!   podman maps them; otherwise root is the only id inside.

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

/// The runtime-spec version the default config declares.
pub const OCI_VERSION: &str = "1.3.0";

/// The host ids a rootless container maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootlessIds {
    /// The caller's euid and egid: root inside.
    pub uid: u32,
    pub gid: u32,
    /// The caller's subordinate uids and gids, `(first, count)` each: ids
    /// 1… inside, when it has both ranges and the helpers to map them.
    pub subordinate: Option<((u32, u32), (u32, u32))>,
}

/// The default config; with `rootless`, mapped to the caller's ids.
pub fn default_spec(rootless: bool) -> Spec {
    spec_from_json(default_config_json(caller_ids(rootless)))
}

/// The same default as JSON, for writing `config.json`: oci-spec keeps
/// capabilities in a hash set, so serializing the [`Spec`] shuffles them on
/// every run, while this keeps the order a reader expects.
pub fn default_spec_json(rootless: bool) -> Value {
    default_config_json(caller_ids(rootless))
}

/// Rootless: the euid/egid of whoever runs `glassbox spec`, who will be root
/// inside the container, and its subordinate ids if it can use them.
fn caller_ids(rootless: bool) -> Option<RootlessIds> {
    if !rootless {
        return None;
    }
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    let name = nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name).unwrap_or_default();
    let subordinate = crate::idmap::subordinate_ranges_of(&name, uid.as_raw(), gid.as_raw());
    Some(RootlessIds { uid: uid.as_raw(), gid: gid.as_raw(), subordinate })
}

/// One id map: the caller's own id as 0, then its subordinate range as 1….
fn id_mappings(own: u32, subordinate: Option<(u32, u32)>) -> Value {
    let mut maps = vec![json!({ "containerID": 0, "hostID": own, "size": 1 })];
    if let Some((first, count)) = subordinate {
        maps.push(json!({ "containerID": 1, "hostID": first, "size": count }));
    }
    Value::Array(maps)
}

/// The default config as JSON. `rootless_ids` is `Some` with the host ids
/// that a rootless container maps, `None` for a root-run container. Pure,
/// so tests can pin the ids.
pub fn default_config_json(rootless_ids: Option<RootlessIds>) -> Value {
    let rootless = rootless_ids.is_some();
    let mut linux = json!({
        "namespaces": namespaces(rootless),
        // Files under /proc and /sys that leak host information or let a
        // process poke the kernel: hidden (masked) or made read-only.
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
        ],
        "readonlyPaths": [
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
        ]
    });
    if !rootless {
        // The devices controller starts from "deny all"; glassbox then
        // allows what every container needs (cgroups/devices.rs). Without
        // this rule the container could open any device node it is given or
        // makes. Rootless: no cgroup may be ours to write, and in a user
        // namespace device nodes are binds of the host's, guarded by their
        // owner and mode on the host.
        linux["resources"] = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    }
    if let Some(ids) = rootless_ids {
        linux["uidMappings"] = id_mappings(ids.uid, ids.subordinate.map(|(uids, _)| uids));
        linux["gidMappings"] = id_mappings(ids.gid, ids.subordinate.map(|(_, gids)| gids));
    }
    json!({
        "ociVersion": OCI_VERSION,
        "process": process(),
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "glassbox",
        "mounts": mounts(rootless),
        "linux": linux
    })
}

/// Parse our own JSON through oci-spec, so what `spec` writes is exactly
/// what `create` will read back.
fn spec_from_json(config: Value) -> Spec {
    // The unit tests parse every variant, so this cannot fail at run time.
    serde_json::from_value(config).expect("the built-in default config.json is valid runtime-spec")
}

fn process() -> Value {
    // A small capability set, as runc gives: enough to write audit records,
    // signal processes and bind ports below 1024 — not enough to mount,
    // load modules or change the host. Inheritable and ambient stay empty so
    // that a program exec'd inside cannot pass capabilities on by itself.
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "terminal": false,
        "user": { "uid": 0, "gid": 0 },
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm"
        ],
        "cwd": "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps
        },
        "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
        // setuid binaries inside cannot gain privileges (prctl PR_SET_NO_NEW_PRIVS).
        "noNewPrivileges": true
    })
}

fn namespaces(rootless: bool) -> Value {
    let mut kinds = vec!["pid"];
    // Rootless: creating a network namespace is allowed, but with only
    // loopback and no privileged helper to plug it in, it would be useless,
    // and it would stop /sys being shown (see `mounts`). runc leaves it out.
    if !rootless {
        kinds.push("network");
    }
    kinds.extend(["ipc", "uts", "mount", "cgroup"]);
    if rootless {
        kinds.push("user");
    }
    Value::Array(kinds.into_iter().map(|k| json!({ "type": k })).collect())
}

#[rustfmt::skip] // one mount per line reads like the config.json it makes
fn mounts(rootless: bool) -> Value {
    // gid=5 is the "tty" group of most distributions, the owner of new ptys.
    // In a rootless container with only our own gid mapped, gid 5 does not
    // exist there and devpts would refuse the mount.
    let mut devpts = vec![
        "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
    ];
    if !rootless {
        devpts.push("gid=5");
    }
    let mut list = vec![
        json!({ "destination": "/proc", "type": "proc", "source": "proc" }),
        json!({ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }),
        json!({ "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": devpts }),
        json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] }),
        json!({ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"] }),
    ];
    if rootless {
        // sysfs may only be mounted by a user who owns the network namespace
        // it describes; a rootless container keeps the host's, so it sees the
        // host's /sys through a recursive, read-only bind mount instead. That
        // bind already holds /sys/fs/cgroup, hence no cgroup mount.
        list.push(json!({ "destination": "/sys", "type": "none", "source": "/sys",
                          "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] }));
    } else {
        list.push(json!({ "destination": "/sys", "type": "sysfs", "source": "sysfs",
                          "options": ["nosuid", "noexec", "nodev", "ro"] }));
        list.push(json!({ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }));
    }
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceType;

    fn destinations(spec: &Spec) -> Vec<String> {
        spec.mounts().iter().flatten().map(|m| m.destination().display().to_string()).collect()
    }

    fn namespace_types(spec: &Spec) -> Vec<LinuxNamespaceType> {
        let linux = spec.linux().as_ref().expect("linux section");
        linux.namespaces().iter().flatten().map(|n| n.typ()).collect()
    }

    #[test]
    fn json_round_trips_through_oci_spec_without_losing_a_field() {
        let full = RootlessIds { uid: 1000, gid: 1000, subordinate: Some(((100000, 65536), (200000, 65536))) };
        for ids in [None, Some(RootlessIds { subordinate: None, ..full }), Some(full)] {
            let json = default_config_json(ids);
            let spec = spec_from_json(json.clone());
            let mut back = serde_json::to_value(&spec).unwrap();
            // oci-spec holds capabilities in a HashSet: compare them as sets.
            for set in ["bounding", "effective", "permitted"] {
                let list = back["process"]["capabilities"][set].as_array_mut().unwrap();
                list.sort_by_key(|c| c.as_str().unwrap().to_string());
            }
            assert_eq!(back, json, "a field was dropped or renamed by oci-spec (ids {ids:?})");
        }
    }

    #[test]
    fn default_has_the_expected_process() {
        let spec = default_spec(false);
        assert_eq!(spec.version(), "1.3.0");
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.terminal(), Some(false));
        assert_eq!(p.args().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(p.no_new_privileges(), Some(true));
        let caps = p.capabilities().as_ref().unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 3);
        assert!(caps.inheritable().is_none() && caps.ambient().is_none());
        let root = spec.root().as_ref().unwrap();
        assert_eq!(root.path().to_str(), Some("rootfs"));
        assert_eq!(root.readonly(), Some(true));
        assert_eq!(spec.hostname().as_deref(), Some("glassbox"));
    }

    #[test]
    fn default_has_the_expected_mounts_and_namespaces() {
        let spec = default_spec(false);
        assert_eq!(
            destinations(&spec),
            ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
        );
        use LinuxNamespaceType::*;
        assert_eq!(namespace_types(&spec), [Pid, Network, Ipc, Uts, Mount, Cgroup]);
        let linux = spec.linux().as_ref().unwrap();
        assert!(linux.uid_mappings().is_none());
        assert_eq!(linux.masked_paths().as_ref().unwrap().len(), 10);
        assert_eq!(linux.readonly_paths().as_ref().unwrap().len(), 5);
        // runc's default: the devices controller starts from "deny all".
        let rules = linux.resources().as_ref().unwrap().devices().as_ref().unwrap();
        assert_eq!(rules.len(), 1);
        assert!(!rules[0].allow() && rules[0].typ().is_none() && rules[0].major().is_none());
        assert_eq!(rules[0].access().as_deref(), Some("rwm"));
    }

    #[test]
    fn rootless_maps_the_caller_and_binds_sys() {
        let spec = spec_from_json(default_config_json(Some(RootlessIds { uid: 1234, gid: 5678, subordinate: None })));
        use LinuxNamespaceType::*;
        let kinds = namespace_types(&spec);
        assert!(kinds.contains(&User) && !kinds.contains(&Network));
        let linux = spec.linux().as_ref().unwrap();
        let uid = &linux.uid_mappings().as_ref().unwrap()[0];
        assert_eq!((uid.container_id(), uid.host_id(), uid.size()), (0, 1234, 1));
        let gid = &linux.gid_mappings().as_ref().unwrap()[0];
        assert_eq!((gid.container_id(), gid.host_id(), gid.size()), (0, 5678, 1));

        assert!(!destinations(&spec).contains(&"/sys/fs/cgroup".to_string()));
        assert!(linux.resources().is_none(), "no cgroup rules a rootless container may be unable to write");
        let mounts = spec.mounts().as_ref().unwrap();
        let sys = mounts.iter().find(|m| m.destination().to_str() == Some("/sys")).unwrap();
        assert_eq!(sys.typ().as_deref(), Some("none"));
        assert!(sys.options().as_ref().unwrap().contains(&"rbind".to_string()));
        let pts = mounts.iter().find(|m| m.destination().to_str() == Some("/dev/pts")).unwrap();
        assert!(!pts.options().as_ref().unwrap().iter().any(|o| o.starts_with("gid=")));
    }

    #[test]
    fn rootless_with_subordinate_ids_maps_them_after_root() {
        let ids = RootlessIds { uid: 1001, gid: 1002, subordinate: Some(((100000, 65536), (200000, 1000))) };
        let json = default_config_json(Some(ids));
        assert_eq!(
            json["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1001, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}])
        );
        assert_eq!(json["linux"]["gidMappings"][1], json!({"containerID": 1, "hostID": 200000, "size": 1000}));
    }

    #[test]
    fn spec_json_keeps_capabilities_in_order() {
        let json = default_spec_json(false);
        assert_eq!(
            json["process"]["capabilities"]["bounding"],
            json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
        );
        assert_eq!(default_spec_json(true)["linux"]["uidMappings"][0]["size"], 1);
    }

    #[test]
    fn rootless_spec_uses_the_real_euid() {
        let spec = default_spec(true);
        let linux = spec.linux().as_ref().unwrap();
        let uid = &linux.uid_mappings().as_ref().unwrap()[0];
        assert_eq!(uid.host_id(), nix::unistd::geteuid().as_raw());
    }
}
