//! config.json as `glassbox create` reads it, before anything is made: any
//! bytes are parsed (`bundle::parse_config`), and what parses is checked
//! (`check_version`, `check_supported`); a config that passes then goes
//! through every pure planner create and the init run later (cgroup writes,
//! namespaces, mounts, device nodes, masked paths, rlimits, scheduler,
//! ioprio, personality, capabilities, seccomp, hooks). Whatever the input,
//! each must answer with a value or an error — never a panic, a hang or a
//! huge allocation — and an error must have something to say.
//!
//! The rootfs is not looked at: `Bundle::load` resolves `root.path` on
//! disk, which is no parser's business.

#![no_main]

use std::path::{Path, PathBuf};

use glassbox::bundle::{check_supported, check_version, parse_config};
use glassbox::cgroups::{cgroup_path, plan_device_rules_v1, plan_resources, CgroupVersion};
use glassbox::idmap::id_map_lines;
use glassbox::namespaces::NamespacePlan;
use glassbox::rootfs::devices::{plan_devices, DeviceAction};
use glassbox::rootfs::mount_plan::{plan_mounts, CgroupEntry, CgroupLayout};
use glassbox::rootfs::{masks::plan_finish, preparation_propagation};
use glassbox::security::{
    ioprio_value, personality_value, plan_capabilities, plan_rlimits, plan_scheduler, plan_seccomp,
};
use libfuzzer_sys::fuzz_target;

/// An error is for a person: it must say something. The value, if any.
fn said<T, E: std::fmt::Display>(result: Result<T, E>) -> Option<T> {
    if let Err(e) = &result {
        assert!(!e.to_string().trim().is_empty(), "an error with nothing to say");
    }
    result.ok()
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("config.json");
    let Some(spec) = said(parse_config(path, data)) else { return };
    said(check_version(path, spec.version()));
    if said(check_supported(&spec)).is_none() {
        return;
    }

    // Only what passed the checks is planned, as in `create`.
    let linux = spec.linux().as_ref().expect("check_supported demands linux");
    said(cgroup_path(linux.cgroups_path().as_deref(), "glassbox", "fuzz"));
    if let Some(resources) = linux.resources() {
        said(plan_resources(resources, CgroupVersion::V1));
        if said(plan_resources(resources, CgroupVersion::V2)).is_some() {
            // The rules the kernel is given are the rules the config gave.
            let rules = resources.devices().as_deref().unwrap_or_default();
            for (rule, write) in rules.iter().zip(plan_device_rules_v1(rules)) {
                let numbers = write.value.split_whitespace().nth(1).expect("type, numbers, access");
                let shown = |n: Option<i64>| n.filter(|n| *n != -1).map_or("*".to_string(), |n| n.to_string());
                assert_eq!(numbers, format!("{}:{}", shown(rule.major()), shown(rule.minor())), "{rule:?}");
            }
        }
    }
    let _ = NamespacePlan::from_spec(&linux.namespaces().clone().unwrap_or_default());
    let _ = id_map_lines(linux.uid_mappings().as_deref().unwrap_or_default());
    let _ = id_map_lines(linux.gid_mappings().as_deref().unwrap_or_default());

    said(preparation_propagation(&spec));
    let legacy = CgroupLayout::Legacy(vec![
        CgroupEntry::Dir { name: "memory".into(), source: PathBuf::from("/sys/fs/cgroup/memory/glassbox/fuzz") },
        CgroupEntry::Link { name: "cpuacct".into(), target: PathBuf::from("cpu,cpuacct") },
    ]);
    said(plan_mounts(&spec, &legacy));
    said(plan_mounts(&spec, &CgroupLayout::Unified));
    if let Some(actions) = said(plan_devices(&spec, false)) {
        // The node made is the device asked for: its numbers survive
        // makedev(3), which keeps only the bits a dev_t has.
        for action in actions {
            if let DeviceAction::Mknod { node, .. } = action {
                let dev = libc::makedev(node.major as u32, node.minor as u32);
                let kept = (u64::from(libc::major(dev)), u64::from(libc::minor(dev)));
                assert!(node.major <= u32::MAX.into() && kept == (node.major, node.minor), "{node}");
                assert!(node.major < 1 << 12 && node.minor < 1 << 20, "{node} has no dev_t");
            }
        }
    }
    said(plan_devices(&spec, true));
    said(plan_finish(&spec));
    if let Some(seccomp) = linux.seccomp() {
        said(plan_seccomp(seccomp));
    }
    if let Some(io) = linux.personality() {
        let _ = personality_value(io);
    }

    if let Some(process) = spec.process() {
        said(plan_rlimits(process.rlimits().as_deref().unwrap_or_default()));
        if let Some(scheduler) = process.scheduler() {
            said(plan_scheduler(scheduler));
        }
        if let Some(io) = process.io_priority() {
            said(ioprio_value(io));
        }
        let every_capability = glassbox::security::known_capabilities(u64::MAX);
        said(plan_capabilities(process.capabilities().as_ref(), &every_capability));
    }

    if let Some(hooks) = spec.hooks() {
        let lists = [
            ("prestart", hooks.prestart()),
            ("createRuntime", hooks.create_runtime()),
            ("createContainer", hooks.create_container()),
            ("startContainer", hooks.start_container()),
            ("poststart", hooks.poststart()),
            ("poststop", hooks.poststop()),
        ];
        for (kind, list) in lists {
            for (i, hook) in list.iter().flatten().enumerate() {
                said(glassbox::hooks::plan_hook(kind, i, hook));
            }
        }
    }
});
