//! Which device nodes the container may use: `linux.resources.devices`.
//!
//! A device node in /dev is only a name; what the kernel lets a process do
//! with it (read, write, mknod) is decided by the devices controller. On
//! cgroup v1 that is an allowlist written rule by rule into devices.allow
//! and devices.deny ("c 1:3 rwm"); on cgroup v2 it is an eBPF program of
//! type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup ([`super::bpf_devices`]).
//!
//! After the config's rules come the ones runc appends to every container,
//! so that a config that starts with "deny all" (as `glassbox spec`'s, and
//! podman's, do) still leaves the container what every program expects:
//! - `c *:* m` and `b *:* m`: **mknod(2) of any device is allowed, using it
//!   is not**. Creating a node is harmless by itself (it also needs
//!   CAP_MKNOD); opening it is what the rules guard. Images that make their
//!   own nodes at start, and engines that rely on runc's defaults (podman
//!   sends only "deny all"), need it;
//! - read, write and mknod of /dev/null, zero, full, random, urandom, tty,
//!   ptmx, the pseudo-terminals (/dev/pts/*, which /dev/console is bound
//!   from) and /dev/net/tun (a tun device lives in the container's own
//!   network namespace).
//!
//! Not the host's console, c 5:1: with mknod allowed for all, allowing it
//! would let any container with CAP_MKNOD write to the machine's console.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupWrite;

/// The rules appended for every container, runc's: (type, major, minor, access).
pub const ALWAYS_ALLOWED: &[(char, &str, &str, &str)] = &[
    ('c', "*", "*", "m"),      // mknod of any character device
    ('b', "*", "*", "m"),      // mknod of any block device
    ('c', "1", "3", "rwm"),    // /dev/null
    ('c', "1", "5", "rwm"),    // /dev/zero
    ('c', "1", "7", "rwm"),    // /dev/full
    ('c', "1", "8", "rwm"),    // /dev/random
    ('c', "1", "9", "rwm"),    // /dev/urandom
    ('c', "5", "0", "rwm"),    // /dev/tty
    ('c', "5", "2", "rwm"),    // /dev/ptmx
    ('c', "136", "*", "rwm"),  // /dev/pts/* (and /dev/console, bound from one)
    ('c', "10", "200", "rwm"), // /dev/net/tun
];

/// One rule in the kernel's own syntax: "c 1:3 rwm", "a *:* rwm".
pub fn rule_line(rule: &LinuxDeviceCgroup) -> String {
    let kind = match rule.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => 'p',
        Some(LinuxDeviceType::A) | None => 'a',
    };
    let num = |n: Option<i64>| n.filter(|n| *n >= 0).map_or("*".to_string(), |n| n.to_string());
    let access = rule.access().as_deref().filter(|a| !a.is_empty()).unwrap_or("rwm");
    format!("{kind} {}:{} {access}", num(rule.major()), num(rule.minor()))
}

/// The v1 writes for the config's rules followed by the always-allowed devices.
pub fn plan_device_rules_v1(rules: &[LinuxDeviceCgroup]) -> Vec<CgroupWrite> {
    let mut writes: Vec<CgroupWrite> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| CgroupWrite {
            controller: "devices",
            file: if r.allow() { "devices.allow" } else { "devices.deny" }.into(),
            value: rule_line(r),
            field: format!("devices[{i}]"),
        })
        .collect();
    writes.extend(ALWAYS_ALLOWED.iter().map(|(kind, major, minor, access)| CgroupWrite {
        controller: "devices",
        file: "devices.allow".into(),
        value: format!("{kind} {major}:{minor} {access}"),
        field: "devices (always allowed)".into(),
    }));
    writes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_default_deny_all_then_the_basics() {
        let rules: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]"#).unwrap();
        let w = plan_device_rules_v1(&rules);
        assert_eq!((w[0].file.as_str(), w[0].value.as_str()), ("devices.deny", "a *:* rwm"));
        assert_eq!((w[1].file.as_str(), w[1].value.as_str()), ("devices.allow", "c 10:229 rw"));
        let appended: Vec<&str> = w[2..].iter().map(|w| w.value.as_str()).collect();
        // runc 1.1's list, as its containers' devices.list shows it.
        assert_eq!(
            appended,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:2 rwm",
                "c 136:* rwm",
                "c 10:200 rwm"
            ]
        );
        assert!(w[2..].iter().all(|w| w.file == "devices.allow"));
        assert!(!appended.contains(&"c 5:1 rwm"), "not the host's console");
    }
}
