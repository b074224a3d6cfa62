//! `glassbox features`: what this runtime can do, as the JSON document of
//! runtime-spec's features.md. A higher-level tool (containerd, podman, a
//! learner) reads it instead of guessing, so it must be **truthful**: every
//! list names only what the code really applies, and nothing it merely
//! parses and ignores. Whoever changes the mount options (rootfs/options.rs),
//! the hooks (hooks/), the namespaces, cgroups or seccomp (security/) must
//! keep this file in step; the tests check the parts that can be checked.

use serde_json::{json, Value};

/// The runtime-spec versions whose config.json glassbox accepts.
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.3.0";

/// The hooks run by hooks/ at their lifecycle points (`prestart` is the
/// deprecated name of the createRuntime point, still run for old configs).
const HOOKS: &[&str] = &["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

/// Mount options that rootfs/options.rs turns into mount(2) flags,
/// propagation changes or bind mounts. Options it recognises but ignores
/// (the `r…` recursive forms, `idmap`, `tmpcopyup`) are left out on
/// purpose; anything else (`mode=755`…) goes to the filesystem as data.
const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

/// namespaces.rs creates and joins all eight kinds (time since Linux 5.6).
const NAMESPACES: &[&str] = &["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"];

/// security/seccomp_plan.rs maps these to libseccomp; SCMP_ACT_NOTIFY is
/// refused (it needs a listener glassbox does not run yet).
const SECCOMP_ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

const SECCOMP_OPERATORS: &[&str] =
    &["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"];

/// The x86 family: the architectures a filter built on this amd64 machine
/// can cover (64-bit, 32-bit compat and the x32 ABI).
const SECCOMP_ARCHS: &[&str] = &["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"];

/// Flags glassbox understands in `linux.seccomp.flags`.
const SECCOMP_KNOWN_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// The features document printed by `glassbox features`.
pub fn features_json() -> Value {
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": capabilities(),
            // cgroups-rs drives v1, v2 and this machine's hybrid of both
            // through cgroupfs; --systemd-cgroup asks the system's systemd
            // for a scope (not a user's systemd yet); no rdma limits.
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": true,
                "systemdUser": false,
                "rdma": false
            },
            "seccomp": {
                "enabled": true,
                "actions": SECCOMP_ACTIONS,
                "operators": SECCOMP_OPERATORS,
                "archs": SECCOMP_ARCHS,
                "knownFlags": SECCOMP_KNOWN_FLAGS,
                "supportedFlags": supported_seccomp_flags()
            },
            // The kernel here has no AppArmor; glassbox does not set SELinux
            // labels or Intel RDT classes (nor 1.3's schemata and
            // enableMonitoring), so it claims none of them: bundle/ refuses
            // linux.intelRdt.
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false, "schemata": false, "monitoring": false },
            "mountExtensions": { "idmap": { "enabled": false } },
            // runtime-spec 1.3: security/memory_policy.rs knows every mode
            // and flag (the kernel may still refuse a new one, naming it)...
            "memoryPolicy": {
                "modes": crate::security::MEMORY_POLICY_MODES.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
                "flags": crate::security::MEMORY_POLICY_FLAGS.iter().map(|(name, _)| *name).collect::<Vec<_>>()
            },
            // ...but no host network interface is moved in: linux.netDevices is refused.
            "netDevices": { "enabled": false }
        },
        "annotations": {
            "io.glassbox.version": env!("CARGO_PKG_VERSION")
        }
    })
}

/// Every capability the caps crate can name, by bit number (CAP_CHOWN is 0),
/// the same names config.json uses.
fn capabilities() -> Vec<String> {
    let mut all: Vec<caps::Capability> = caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter().map(|c| c.to_string()).collect()
}

/// The known flags this libseccomp can set. WAIT_KILLABLE_RECV needs
/// libseccomp 2.6 (and Linux 5.19); the others are in every 2.5 release,
/// which the libseccomp crate requires anyway.
fn supported_seccomp_flags() -> Vec<&'static str> {
    let has_2_6 = libseccomp::check_version(libseccomp::ScmpVersion::from((2, 6, 0))).unwrap_or(false);
    SECCOMP_KNOWN_FLAGS.iter().copied().filter(|f| has_2_6 || *f != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV").collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options::parse_options;

    #[test]
    fn document_has_the_required_keys_and_parses_as_oci_features() {
        let doc = features_json();
        for key in ["ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations"] {
            assert!(doc.get(key).is_some(), "missing {key}");
        }
        let linux = &doc["linux"];
        for key in ["namespaces", "capabilities", "cgroup", "seccomp", "apparmor", "selinux", "intelRdt"] {
            assert!(linux.get(key).is_some(), "missing linux.{key}");
        }
        let text = serde_json::to_string(&doc).unwrap();
        let parsed: oci_spec::runtime::Features = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.oci_version_min(), "1.0.0");
        assert_eq!(parsed.oci_version_max(), "1.3.0");
        let linux = parsed.linux().as_ref().unwrap();
        let policy = linux.memory_policy().as_ref().unwrap();
        assert!(policy.modes().as_ref().unwrap().contains(&"MPOL_WEIGHTED_INTERLEAVE".to_string()));
        assert_eq!(policy.flags().as_ref().unwrap().len(), 3);
        assert_eq!(linux.net_devices().as_ref().unwrap().enabled(), &Some(false));
        assert_eq!(linux.intel_rdt().as_ref().unwrap().schemata(), &Some(false));
    }

    /// Every memory policy mode and flag claimed is one a config may use.
    #[test]
    fn every_memory_policy_mode_claimed_is_planned() {
        for (mode, _) in crate::security::MEMORY_POLICY_MODES {
            let nodes = if ["MPOL_DEFAULT", "MPOL_LOCAL"].contains(mode) { "" } else { "0" };
            let json = json!({ "mode": mode, "nodes": nodes });
            let policy: oci_spec::runtime::LinuxMemoryPolicy = serde_json::from_value(json).unwrap();
            crate::security::plan_memory_policy(&policy).unwrap();
        }
    }

    #[test]
    fn every_mount_option_claimed_is_one_rootfs_acts_on() {
        for option in MOUNT_OPTIONS {
            let parsed = parse_options(&[*option]);
            assert!(
                parsed.data.is_empty() && parsed.ignored.is_empty(),
                "{option} is listed in features but rootfs/options.rs does not apply it"
            );
        }
    }

    #[test]
    fn capabilities_are_named_as_in_config_json() {
        let caps = capabilities();
        assert_eq!(caps[0], "CAP_CHOWN");
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(caps.len() >= 38, "only {} capabilities", caps.len());
    }

    /// A profile using every claimed action, operator and arch must be
    /// accepted by the seccomp planner, so the lists cannot run ahead of it.
    #[test]
    fn every_seccomp_action_operator_and_arch_claimed_is_planned() {
        let syscalls: Vec<Value> = SECCOMP_ACTIONS
            .iter()
            .map(|action| json!({ "names": ["getpid"], "action": action }))
            .chain(SECCOMP_OPERATORS.iter().map(|op| {
                json!({ "names": ["read"], "action": "SCMP_ACT_ERRNO",
                        "args": [{ "index": 0, "value": 1, "valueTwo": 1, "op": op }] })
            }))
            .collect();
        let profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": SECCOMP_ARCHS,
            "flags": supported_seccomp_flags(),
            "syscalls": syscalls
        });
        let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(profile).unwrap();
        crate::security::plan_seccomp(&profile).unwrap();
    }

    #[test]
    fn supported_seccomp_flags_are_known_flags() {
        for flag in supported_seccomp_flags() {
            assert!(SECCOMP_KNOWN_FLAGS.contains(&flag));
        }
        assert!(supported_seccomp_flags().contains(&"SECCOMP_FILTER_FLAG_TSYNC"));
    }
}
