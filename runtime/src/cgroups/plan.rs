//! `linux.resources` → the exact cgroup files to write, and what to write
//! in them. Pure: the same config gives the same list, which the narrator
//! shows and the tests check, before anything touches the kernel.
//!
//! cgroup v1 spreads the files over one hierarchy per controller
//! (`memory/…/memory.limit_in_bytes`); cgroup v2 has one directory with
//! differently named files (`memory.max`) and some values in other units
//! (see [`super::convert`]). A field one version does not have is refused
//! with a line that says so, never dropped.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxResources};

use super::convert::{blkio_weight_to_io_weight, cpu_max, cpu_shares_to_weight, limit_value, swap_to_v2};
use crate::rootfs::devices::{MAX_MAJOR, MAX_MINOR};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One hierarchy per controller (also this machine's hybrid layout: the
    /// limits live in the v1 hierarchies).
    V1,
    /// The unified hierarchy.
    V2,
}

/// One write(2) into one cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupWrite {
    /// The controller whose directory holds the file (v1: its hierarchy).
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    /// The config.json field it comes from, for errors and the narrator.
    pub field: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("linux.resources.{field}: {message}")]
pub struct PlanError {
    pub field: String,
    pub message: String,
}

struct Planner {
    v2: bool,
    writes: Vec<CgroupWrite>,
}

impl Planner {
    fn write(&mut self, controller: &'static str, file: impl Into<String>, value: impl ToString, field: &str) {
        self.writes.push(CgroupWrite { controller, file: file.into(), value: value.to_string(), field: field.into() });
    }

    fn only_v1(&self, field: &str, what: &str) -> Result<(), PlanError> {
        if self.v2 {
            return Err(PlanError {
                field: field.into(),
                message: format!("{what} does not exist on cgroup v2; remove the field"),
            });
        }
        Ok(())
    }
}

/// Every file write `resources` asks for, in the order they must be made.
/// Device rules are planned separately (v1 allowlist, v2 eBPF filter).
pub fn plan_resources(resources: &LinuxResources, version: CgroupVersion) -> Result<Vec<CgroupWrite>, PlanError> {
    let mut p = Planner { v2: version == CgroupVersion::V2, writes: Vec::new() };
    for (i, rule) in resources.devices().iter().flatten().enumerate() {
        check_device_rule(i, rule)?;
    }
    if let Some(m) = resources.memory() {
        plan_memory(&mut p, m)?;
    }
    if let Some(c) = resources.cpu() {
        plan_cpu(&mut p, c)?;
    }
    if let Some(pids) = resources.pids() {
        let value = if pids.limit() > 0 { pids.limit().to_string() } else { "max".into() };
        p.write("pids", "pids.max", value, "pids.limit");
    }
    if let Some(b) = resources.block_io() {
        plan_block_io(&mut p, b)?;
    }
    for (i, h) in resources.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("hugepageLimits[{i}]");
        let size = h.page_size();
        if !size.ends_with('B') || size.contains('/') {
            return Err(PlanError { field, message: format!("pageSize {size:?} must look like \"2MB\" or \"1GB\"") });
        }
        let file = if p.v2 { format!("hugetlb.{size}.max") } else { format!("hugetlb.{size}.limit_in_bytes") };
        p.write("hugetlb", file, h.limit(), &field);
    }
    if let Some(n) = resources.network() {
        if let Some(class) = n.class_id() {
            p.only_v1("network.classID", "the net_cls controller")?;
            p.write("net_cls", "net_cls.classid", class, "network.classID");
        }
        for (i, prio) in n.priorities().iter().flatten().enumerate() {
            let field = format!("network.priorities[{i}]");
            p.only_v1(&field, "the net_prio controller")?;
            p.write("net_prio", "net_prio.ifpriomap", format!("{} {}", prio.name(), prio.priority()), &field);
        }
    }
    if let Some(rdma) = resources.rdma() {
        let mut devices: Vec<_> = rdma.iter().collect();
        devices.sort_by_key(|(name, _)| name.as_str());
        for (device, limits) in devices {
            let field = format!("rdma[{device:?}]");
            let value = |n: Option<u32>| n.map_or("max".to_string(), |n| n.to_string());
            let line = format!(
                "{device} hca_handle={} hca_object={}",
                value(limits.hca_handles()),
                value(limits.hca_objects())
            );
            p.write("rdma", "rdma.max", line, &field);
        }
    }
    if let Some(unified) = resources.unified() {
        if !p.v2 {
            return Err(PlanError {
                field: "unified".into(),
                message: "raw cgroup v2 files cannot be written on a cgroup v1 host".into(),
            });
        }
        let mut keys: Vec<_> = unified.iter().collect();
        keys.sort();
        for (file, value) in keys {
            if file.contains('/') || file.starts_with('.') || !file.contains('.') {
                return Err(PlanError {
                    field: format!("unified[{file:?}]"),
                    message: "must be a file name like \"memory.high\"".into(),
                });
            }
            let controller = controller_of_file(file);
            p.write(controller, file.clone(), value, &format!("unified[{file:?}]"));
        }
    }
    Ok(p.writes)
}

/// A device rule's numbers must be device numbers, or -1 (or no field) for
/// any: the v1 kernel parses them as 32-bit, the v2 filter compares 32-bit
/// values, so a bigger one would name another device there, and a negative
/// one other than -1 would silently widen the rule to every device.
/// Checked with the other resources, before the rules are planned.
fn check_device_rule(i: usize, rule: &LinuxDeviceCgroup) -> Result<(), PlanError> {
    for (what, n, max) in [("major", rule.major(), MAX_MAJOR), ("minor", rule.minor(), MAX_MINOR)] {
        match n {
            None | Some(-1) => {}
            Some(n) if (0..=max).contains(&n) => {}
            Some(n) => {
                return Err(PlanError {
                    field: format!("devices[{i}].{what}"),
                    message: format!("{n} is not a device {what}: 0–{max}, or -1 (or no field) for any"),
                })
            }
        }
    }
    Ok(())
}

/// `memory.high` → "memory"; used to find the v1-style controller name.
fn controller_of_file(file: &str) -> &'static str {
    match file.split('.').next().unwrap_or_default() {
        "memory" => "memory",
        "cpu" => "cpu",
        "cpuset" => "cpuset",
        "io" => "io",
        "pids" => "pids",
        "hugetlb" => "hugetlb",
        "rdma" => "rdma",
        "misc" => "misc",
        _ => "cgroup",
    }
}

fn plan_memory(p: &mut Planner, m: &LinuxMemory) -> Result<(), PlanError> {
    if p.v2 {
        if let Some(r) = m.reservation() {
            p.write("memory", "memory.low", limit_value(r, true), "memory.reservation");
        }
        if let Some(l) = m.limit() {
            p.write("memory", "memory.max", limit_value(l, true), "memory.limit");
        }
        if let Some(s) = m.swap() {
            let value =
                swap_to_v2(s, m.limit()).map_err(|message| PlanError { field: "memory.swap".into(), message })?;
            if let Some(v) = value {
                p.write("memory", "memory.swap.max", v, "memory.swap");
            }
        }
        for (set, field, what) in [
            (m.kernel().is_some(), "memory.kernel", "a kernel memory limit"),
            (m.kernel_tcp().is_some(), "memory.kernelTCP", "a kernel TCP memory limit"),
            (m.swappiness().is_some(), "memory.swappiness", "per-cgroup swappiness"),
            (m.disable_oom_killer() == Some(true), "memory.disableOOMKiller", "disabling the OOM killer"),
        ] {
            if set {
                p.only_v1(field, what)?;
            }
        }
        return Ok(());
    }
    if let Some(r) = m.reservation() {
        p.write("memory", "memory.soft_limit_in_bytes", limit_value(r, false), "memory.reservation");
    }
    // memory.memsw.limit_in_bytes may never be below memory.limit_in_bytes:
    // write the limit first; when swap is being raised past the old limit the
    // apply step retries in the other order.
    if let Some(l) = m.limit() {
        p.write("memory", "memory.limit_in_bytes", limit_value(l, false), "memory.limit");
    }
    if let Some(s) = m.swap() {
        p.write("memory", "memory.memsw.limit_in_bytes", limit_value(s, false), "memory.swap");
    }
    if let Some(k) = m.kernel() {
        p.write("memory", "memory.kmem.limit_in_bytes", limit_value(k, false), "memory.kernel");
    }
    if let Some(k) = m.kernel_tcp() {
        p.write("memory", "memory.kmem.tcp.limit_in_bytes", limit_value(k, false), "memory.kernelTCP");
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(PlanError { field: "memory.swappiness".into(), message: format!("{s} is out of range 0-100") });
        }
        p.write("memory", "memory.swappiness", s, "memory.swappiness");
    }
    if m.disable_oom_killer() == Some(true) {
        p.write("memory", "memory.oom_control", 1, "memory.disableOOMKiller");
    }
    if let Some(h) = m.use_hierarchy() {
        p.write("memory", "memory.use_hierarchy", u8::from(h), "memory.useHierarchy");
    }
    Ok(())
}

fn plan_cpu(p: &mut Planner, c: &LinuxCpu) -> Result<(), PlanError> {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        p.write("cpuset", "cpuset.cpus", cpus, "cpu.cpus");
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        p.write("cpuset", "cpuset.mems", mems, "cpu.mems");
    }
    if p.v2 {
        if let Some(shares) = c.shares().filter(|s| *s > 0) {
            p.write("cpu", "cpu.weight", cpu_shares_to_weight(shares), "cpu.shares");
        }
        if let Some(line) = cpu_max(c.quota(), c.period()) {
            p.write("cpu", "cpu.max", line, "cpu.quota");
        }
        if let Some(burst) = c.burst() {
            p.write("cpu", "cpu.max.burst", burst, "cpu.burst");
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            p.only_v1("cpu.realtimeRuntime", "real-time CPU bandwidth (cpu.rt_runtime_us)")?;
        }
    } else {
        if let Some(shares) = c.shares().filter(|s| *s > 0) {
            p.write("cpu", "cpu.shares", shares, "cpu.shares");
        }
        if let Some(period) = c.period().filter(|p| *p > 0) {
            p.write("cpu", "cpu.cfs_period_us", period, "cpu.period");
        }
        if let Some(quota) = c.quota().filter(|q| *q != 0) {
            p.write("cpu", "cpu.cfs_quota_us", quota, "cpu.quota");
        }
        if let Some(burst) = c.burst() {
            p.write("cpu", "cpu.cfs_burst_us", burst, "cpu.burst");
        }
        // The period goes first: the kernel checks runtime <= period.
        if let Some(period) = c.realtime_period().filter(|p| *p > 0) {
            p.write("cpu", "cpu.rt_period_us", period, "cpu.realtimePeriod");
        }
        if let Some(runtime) = c.realtime_runtime().filter(|r| *r != 0) {
            p.write("cpu", "cpu.rt_runtime_us", runtime, "cpu.realtimeRuntime");
        }
    }
    if let Some(idle) = c.idle() {
        p.write("cpu", "cpu.idle", idle, "cpu.idle");
    }
    Ok(())
}

fn plan_block_io(p: &mut Planner, b: &LinuxBlockIo) -> Result<(), PlanError> {
    let v2 = p.v2;
    if let Some(w) = b.weight().filter(|w| *w > 0) {
        if v2 {
            p.write("io", "io.weight", format!("default {}", blkio_weight_to_io_weight(w)), "blockIO.weight");
        } else {
            p.write("blkio", "blkio.weight", w, "blockIO.weight");
        }
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w > 0) {
        p.only_v1("blockIO.leafWeight", "blkio.leaf_weight")?;
        p.write("blkio", "blkio.leaf_weight", w, "blockIO.leafWeight");
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("blockIO.weightDevice[{i}]");
        if let Some(w) = d.weight() {
            if v2 {
                p.write(
                    "io",
                    "io.weight",
                    format!("{}:{} {}", d.major(), d.minor(), blkio_weight_to_io_weight(w)),
                    &field,
                );
            } else {
                p.write("blkio", "blkio.weight_device", format!("{}:{} {w}", d.major(), d.minor()), &field);
            }
        }
        if let Some(w) = d.leaf_weight() {
            p.only_v1(&field, "blkio.leaf_weight_device")?;
            p.write("blkio", "blkio.leaf_weight_device", format!("{}:{} {w}", d.major(), d.minor()), &field);
        }
    }
    let throttles = [
        ("throttleReadBpsDevice", b.throttle_read_bps_device(), "blkio.throttle.read_bps_device", "rbps"),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device(), "blkio.throttle.write_bps_device", "wbps"),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device(), "blkio.throttle.read_iops_device", "riops"),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device(), "blkio.throttle.write_iops_device", "wiops"),
    ];
    for (name, list, v1_file, v2_key) in throttles {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("blockIO.{name}[{i}]");
            if v2 {
                p.write("io", "io.max", format!("{}:{} {v2_key}={}", d.major(), d.minor(), d.rate()), &field);
            } else {
                p.write("blkio", v1_file, format!("{}:{} {}", d.major(), d.minor(), d.rate()), &field);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn lines(w: &[CgroupWrite]) -> Vec<String> {
        w.iter().map(|w| format!("{} = {}", w.file, w.value)).collect()
    }

    const TYPICAL: &str = r#"{
        "memory": {"limit": 104857600, "swap": 209715200, "reservation": 52428800},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 64},
        "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]
    }"#;

    #[test]
    fn typical_limits_on_v1() {
        let w = plan_resources(&resources(TYPICAL), CgroupVersion::V1).unwrap();
        assert_eq!(
            lines(&w),
            vec![
                "memory.soft_limit_in_bytes = 52428800",
                "memory.limit_in_bytes = 104857600",
                "memory.memsw.limit_in_bytes = 209715200",
                "cpuset.cpus = 0",
                "cpu.shares = 1024",
                "cpu.cfs_period_us = 100000",
                "cpu.cfs_quota_us = 50000",
                "pids.max = 64",
                "blkio.weight = 500",
                "blkio.throttle.read_bps_device = 8:0 1048576",
                "hugetlb.2MB.limit_in_bytes = 0",
            ]
        );
        assert_eq!(w[1].field, "memory.limit");
    }

    #[test]
    fn typical_limits_on_v2() {
        let w = plan_resources(&resources(TYPICAL), CgroupVersion::V2).unwrap();
        assert_eq!(
            lines(&w),
            vec![
                "memory.low = 52428800",
                "memory.max = 104857600",
                "memory.swap.max = 104857600",
                "cpuset.cpus = 0",
                "cpu.weight = 39",
                "cpu.max = 50000 100000",
                "pids.max = 64",
                "io.weight = default 4950",
                "io.max = 8:0 rbps=1048576",
                "hugetlb.2MB.max = 0",
            ]
        );
    }

    #[test]
    fn v1_only_fields_are_refused_on_v2() {
        let err = plan_resources(&resources(r#"{"memory": {"swappiness": 10}}"#), CgroupVersion::V2).unwrap_err();
        assert_eq!(err.field, "memory.swappiness");
        let err = plan_resources(&resources(r#"{"network": {"classID": 1}}"#), CgroupVersion::V2).unwrap_err();
        assert!(err.to_string().contains("cgroup v2"), "{err}");
    }

    #[test]
    fn unified_is_v2_only() {
        let r = resources(r#"{"unified": {"memory.high": "50M"}}"#);
        assert!(plan_resources(&r, CgroupVersion::V1).unwrap_err().to_string().contains("v1"));
        assert_eq!(lines(&plan_resources(&r, CgroupVersion::V2).unwrap()), vec!["memory.high = 50M"]);
        let bad = resources(r#"{"unified": {"../escape": "1"}}"#);
        assert!(plan_resources(&bad, CgroupVersion::V2).is_err());
    }

    #[test]
    fn rdma_limits_per_device() {
        let r = resources(r#"{"rdma": {"mlx5_0": {"hcaHandles": 3}}}"#);
        assert_eq!(
            lines(&plan_resources(&r, CgroupVersion::V2).unwrap()),
            vec!["rdma.max = mlx5_0 hca_handle=3 hca_object=max"]
        );
    }

    #[test]
    fn unlimited_pids_and_memory() {
        let r = resources(r#"{"memory": {"limit": -1}, "pids": {"limit": -1}}"#);
        assert_eq!(
            lines(&plan_resources(&r, CgroupVersion::V1).unwrap()),
            vec!["memory.limit_in_bytes = -1", "pids.max = max"]
        );
        assert_eq!(lines(&plan_resources(&r, CgroupVersion::V2).unwrap()), vec!["memory.max = max", "pids.max = max"]);
    }

    /// Seen while writing fuzz/'s config target: the v2 filter compared
    /// `major as i32` (4294967297 became 1, /dev/mem's major), and any
    /// negative number became "*", widening an allow rule to every device.
    #[test]
    fn device_rule_numbers_must_be_device_numbers() {
        for (major, minor) in [("4294967297", "1"), ("4096", "1"), ("1", "1048576"), ("-2", "1"), ("1", "-7")] {
            let r = resources(&format!(
                r#"{{"devices": [{{"allow": true, "type": "c", "major": {major}, "minor": {minor}, "access": "rw"}}]}}"#
            ));
            for version in [CgroupVersion::V1, CgroupVersion::V2] {
                let err = plan_resources(&r, version).unwrap_err().to_string();
                assert!(err.starts_with("linux.resources.devices[0].m"), "{major}:{minor}: {err}");
            }
        }
        let any = resources(
            r#"{"devices": [{"allow": true, "type": "c", "major": -1, "access": "rw"}, {"allow": true, "type": "b", "major": 4095, "minor": 1048575}]}"#,
        );
        assert!(plan_resources(&any, CgroupVersion::V2).is_ok());
    }
}
