//! Which device nodes the container may use: `linux.resources.devices`.
//!
//! A device node in /dev is only a name; what the kernel lets a process do
//! with it (read, write, mknod) is decided by the devices controller. On
//! cgroup v1 that is an allowlist written rule by rule into devices.allow
//! and devices.deny ("c 1:3 rwm"); on cgroup v2 it is an eBPF program of
//! type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (not written yet).
//!
//! After the config's rules come the devices every container needs
//! (/dev/null, zero, full, random, urandom, tty, console, ptmx, pts/*), as
//! runc appends them too: a config that starts with "deny all" would
//! otherwise leave the container without /dev/null.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupWrite;

/// The devices allowed to every container: (type, major, minor).
const ALWAYS_ALLOWED: &[(char, &str, &str)] = &[
    ('c', "1", "3"),   // /dev/null
    ('c', "1", "5"),   // /dev/zero
    ('c', "1", "7"),   // /dev/full
    ('c', "1", "8"),   // /dev/random
    ('c', "1", "9"),   // /dev/urandom
    ('c', "5", "0"),   // /dev/tty
    ('c', "5", "1"),   // /dev/console
    ('c', "5", "2"),   // /dev/ptmx
    ('c', "136", "*"), // /dev/pts/*
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
    writes.extend(ALWAYS_ALLOWED.iter().map(|(kind, major, minor)| CgroupWrite {
        controller: "devices",
        file: "devices.allow".into(),
        value: format!("{kind} {major}:{minor} rwm"),
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
        assert_eq!(w[2].value, "c 1:3 rwm");
        assert_eq!(w.last().unwrap().value, "c 136:* rwm");
    }
}
