//! `linux.resources` as systemd unit properties (systemd.resource-control(5)).
//!
//! On a systemd host the container's cgroup belongs to a unit, and systemd
//! writes that unit's cgroup files from the unit's properties whenever it
//! sees fit (a `daemon-reload`, a change to a sibling): a limit written
//! straight into a file that systemd also manages would be reset behind
//! our back. So every limit systemd has a property for goes to systemd as
//! that property; the rest (hugetlb, io.max, cpu.idle, …) systemd never
//! touches, and those are written as files.
//!
//! The planner starts from the cgroupfs plan ([`super::super::plan_resources`]:
//! file, value, config field) and moves each write it can into a property.
//! Pure: the narrator and the tests read the result.

use super::wire::Value;
use crate::cgroups::{CgroupVersion, CgroupWrite};

/// One unit property: its name, its D-Bus value and the config.json field
/// it comes from (none for the unit's own settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: &'static str,
    pub value: Value,
    pub field: Option<String>,
}

impl Property {
    fn own(name: &'static str, value: Value) -> Property {
        Property { name, value, field: None }
    }

    /// `MemoryMax=67108864`, `Delegate=yes`, `PIDs=4242`, as
    /// `systemctl show` spells them (u64::MAX is "infinity").
    pub fn shown(&self) -> String {
        format!("{}={}", self.name, shown_value(&self.value))
    }

    /// The `(sv)` pair StartTransientUnit and SetUnitProperties take.
    pub fn to_dbus(&self) -> Value {
        Value::Struct(vec![Value::Str(self.name.into()), Value::Variant(Box::new(self.value.clone()))])
    }
}

fn shown_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::U64(u64::MAX) => "infinity".into(),
        Value::U64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::Array(e, bytes) if e == "y" => {
            let byte = |v: &Value| if let Value::Byte(b) = v { *b } else { 0 };
            let bits = bytes
                .iter()
                .map(byte)
                .enumerate()
                .flat_map(|(i, b)| (0..8).filter(move |bit| b & (1 << bit) != 0).map(move |bit| i * 8 + bit));
            bits.map(|n| n.to_string()).collect::<Vec<_>>().join(" ")
        }
        Value::Array(_, items) => items.iter().map(shown_value).collect::<Vec<_>>().join(" "),
        other => other.as_str().map(str::to_string).unwrap_or_else(|| format!("{other:?}")),
    }
}

/// The properties of the container's scope itself: what it is, where it
/// goes, who is in it, and that its cgroup is the container's to manage
/// (`Delegate`): systemd then leaves the files below it alone and lets the
/// runtime move processes and attach programs there.
pub fn scope_properties(id: &str, slice: &str, init_pid: u32, version: CgroupVersion) -> Vec<Property> {
    let io_accounting = if version == CgroupVersion::V2 { "IOAccounting" } else { "BlockIOAccounting" };
    vec![
        Property::own("Description", Value::Str(format!("glassbox container {id}"))),
        Property::own("Slice", Value::Str(slice.into())),
        Property::own("PIDs", Value::Array("u".into(), vec![Value::U32(init_pid)])),
        Property::own("Delegate", Value::Bool(true)),
        // Not stopped with the slices at shutdown ordering: the engine stops it.
        Property::own("DefaultDependencies", Value::Bool(false)),
        Property::own("MemoryAccounting", Value::Bool(true)),
        Property::own("CPUAccounting", Value::Bool(true)),
        Property::own(io_accounting, Value::Bool(true)),
        Property::own("TasksAccounting", Value::Bool(true)),
    ]
}

/// Split the cgroupfs plan `writes` into unit properties and the writes
/// that stay files.
pub fn plan_properties(writes: &[CgroupWrite], version: CgroupVersion) -> (Vec<Property>, Vec<CgroupWrite>) {
    let mut props = Vec::new();
    let mut files = Vec::new();
    // cgroup v1 spreads the CPU quota over two files: the period is needed
    // to turn the quota into systemd's "per second".
    let v1_period = writes.iter().find(|w| w.file == "cpu.cfs_period_us").and_then(|w| w.value.parse::<u64>().ok());
    for w in writes {
        let field = Some(format!("linux.resources.{}", w.field));
        let prop = |name: &'static str, value: Value| Property { name, value, field: field.clone() };
        let found: Option<Vec<Property>> = match (version, w.file.as_str()) {
            (CgroupVersion::V2, "memory.max") => limit(&w.value).map(|v| vec![prop("MemoryMax", v)]),
            (CgroupVersion::V2, "memory.high") => limit(&w.value).map(|v| vec![prop("MemoryHigh", v)]),
            (CgroupVersion::V2, "memory.low") => limit(&w.value).map(|v| vec![prop("MemoryLow", v)]),
            (CgroupVersion::V2, "memory.min") => limit(&w.value).map(|v| vec![prop("MemoryMin", v)]),
            (CgroupVersion::V2, "memory.swap.max") => limit(&w.value).map(|v| vec![prop("MemorySwapMax", v)]),
            (CgroupVersion::V2, "cpu.weight") => w.value.parse().ok().map(|n| vec![prop("CPUWeight", Value::U64(n))]),
            (CgroupVersion::V2, "cpu.max") => cpu_max(&w.value).map(|(quota, period)| {
                vec![prop("CPUQuotaPerSecUSec", Value::U64(quota)), prop("CPUQuotaPeriodUSec", Value::U64(period))]
            }),
            (CgroupVersion::V2, "io.weight") => w
                .value
                .strip_prefix("default ")
                .and_then(|n| n.parse().ok())
                .map(|n| vec![prop("IOWeight", Value::U64(n))]),
            (CgroupVersion::V1, "memory.limit_in_bytes") => limit(&w.value).map(|v| vec![prop("MemoryLimit", v)]),
            (CgroupVersion::V1, "cpu.shares") => w.value.parse().ok().map(|n| vec![prop("CPUShares", Value::U64(n))]),
            (CgroupVersion::V1, "cpu.cfs_period_us") => Some(Vec::new()), // with the quota, below
            (CgroupVersion::V1, "cpu.cfs_quota_us") => {
                let line = format!("{} {}", w.value, v1_period.unwrap_or(DEFAULT_PERIOD));
                cpu_max(&line).map(|(quota, period)| {
                    vec![prop("CPUQuotaPerSecUSec", Value::U64(quota)), prop("CPUQuotaPeriodUSec", Value::U64(period))]
                })
            }
            (CgroupVersion::V1, "blkio.weight") => {
                w.value.parse().ok().map(|n| vec![prop("BlockIOWeight", Value::U64(n))])
            }
            (_, "pids.max") => limit(&w.value).map(|v| vec![prop("TasksMax", v)]),
            (_, "cpuset.cpus") => cpu_list_mask(&w.value).map(|m| vec![prop("AllowedCPUs", m)]),
            (_, "cpuset.mems") => cpu_list_mask(&w.value).map(|m| vec![prop("AllowedMemoryNodes", m)]),
            _ => None,
        };
        match found {
            Some(p) => props.extend(p),
            None => files.push(w.clone()),
        }
    }
    // A v1 period without a quota stays a file.
    if version == CgroupVersion::V1 && !writes.iter().any(|w| w.file == "cpu.cfs_quota_us") {
        files.extend(writes.iter().filter(|w| w.file == "cpu.cfs_period_us").cloned());
    }
    (props, files)
}

/// The kernel's default CPU period, 100 ms.
const DEFAULT_PERIOD: u64 = 100_000;

/// "max" or -1 (no limit) is systemd's infinity, u64::MAX.
fn limit(value: &str) -> Option<Value> {
    match value {
        "max" | "-1" => Some(Value::U64(u64::MAX)),
        n => n.parse::<u64>().ok().map(Value::U64),
    }
}

/// cpu.max's "QUOTA PERIOD" (or "max PERIOD") as systemd's quota per
/// second of wall time and its period, both in µs. systemd keeps the quota
/// in hundredths of a percent when it writes the unit down, so a quota
/// that is not a whole percent is rounded up to the next one (so that it
/// reads back the same after a `daemon-reload`, and never limits more than
/// asked).
fn cpu_max(line: &str) -> Option<(u64, u64)> {
    let (quota, period) = line.split_once(' ')?;
    let period: u64 = period.trim().parse().ok().filter(|p| *p > 0)?;
    if quota == "max" || quota == "-1" {
        return Some((u64::MAX, period));
    }
    let quota: u64 = quota.parse().ok()?;
    let per_sec = (quota * 1_000_000).div_ceil(period);
    Some((per_sec.div_ceil(10_000) * 10_000, period))
}

/// A cpuset list, "0-3,6", as the bitmask AllowedCPUs takes: bit n of
/// byte n/8 for CPU n.
fn cpu_list_mask(list: &str) -> Option<Value> {
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => (part.parse().ok()?, part.parse().ok()?),
        };
        if first > last || last >= 8192 {
            return None;
        }
        for cpu in first..=last {
            if bytes.len() <= cpu / 8 {
                bytes.resize(cpu / 8 + 1, 0);
            }
            bytes[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    Some(Value::Array("y".into(), bytes.into_iter().map(Value::Byte).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::plan_resources;

    fn split(json: &str, version: CgroupVersion) -> (Vec<String>, Vec<String>) {
        let resources = serde_json::from_str(json).unwrap();
        let writes = plan_resources(&resources, version).unwrap();
        let (props, files) = plan_properties(&writes, version);
        (props.iter().map(Property::shown).collect(), files.iter().map(|w| format!("{}={}", w.file, w.value)).collect())
    }

    #[test]
    fn limits_systemd_knows_become_properties_on_v2() {
        let (props, files) = split(
            r#"{"memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
                "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,5", "burst": 1000},
                "pids": {"limit": 20}, "blockIO": {"weight": 500},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
                "unified": {"memory.high": "50331648", "cpu.idle": "0"}}"#,
            CgroupVersion::V2,
        );
        assert_eq!(
            props,
            [
                "MemoryLow=33554432",
                "MemoryMax=67108864",
                "MemorySwapMax=67108864",
                "AllowedCPUs=0 1 2 5",
                "CPUWeight=39",
                "CPUQuotaPerSecUSec=500000",
                "CPUQuotaPeriodUSec=100000",
                "TasksMax=20",
                "IOWeight=4950",
                "MemoryHigh=50331648",
            ]
        );
        assert_eq!(files, ["cpu.max.burst=1000", "hugetlb.2MB.max=0", "cpu.idle=0"]);
    }

    #[test]
    fn no_limit_is_infinity() {
        let (props, _) = split(r#"{"memory": {"limit": -1}, "pids": {"limit": 0}}"#, CgroupVersion::V2);
        assert_eq!(props, ["MemoryMax=infinity", "TasksMax=infinity"]);
        let (props, _) = split(r#"{"cpu": {"quota": -1, "period": 100000}}"#, CgroupVersion::V2);
        assert_eq!(props, ["CPUQuotaPerSecUSec=infinity", "CPUQuotaPeriodUSec=100000"]);
    }

    #[test]
    fn a_quota_rounds_up_to_a_whole_percent() {
        assert_eq!(cpu_max("50000 100000"), Some((500_000, 100_000)));
        assert_eq!(cpu_max("150000 100000"), Some((1_500_000, 100_000)), "1.5 CPUs");
        assert_eq!(cpu_max("12345 100000"), Some((130_000, 100_000)));
        assert_eq!(cpu_max("1000 0"), None);
    }

    #[test]
    fn v1_names() {
        let (props, files) = split(
            r#"{"memory": {"limit": 67108864, "swappiness": 10}, "cpu": {"shares": 512, "quota": 20000, "period": 50000},
                "blockIO": {"weight": 300}, "pids": {"limit": 7}}"#,
            CgroupVersion::V1,
        );
        assert_eq!(
            props,
            [
                "MemoryLimit=67108864",
                "CPUShares=512",
                "CPUQuotaPerSecUSec=400000",
                "CPUQuotaPeriodUSec=50000",
                "TasksMax=7",
                "BlockIOWeight=300"
            ]
        );
        assert_eq!(files, ["memory.swappiness=10"]);
    }

    #[test]
    fn cpu_masks() {
        assert_eq!(cpu_list_mask("0"), Some(Value::Array("y".into(), vec![Value::Byte(1)])));
        assert_eq!(cpu_list_mask("9"), Some(Value::Array("y".into(), vec![Value::Byte(0), Value::Byte(2)])));
        assert_eq!(cpu_list_mask("3-1"), None);
        assert_eq!(cpu_list_mask("x"), None);
    }

    #[test]
    fn the_scope_is_delegated_and_holds_the_init() {
        let shown: Vec<String> =
            scope_properties("web", "machine.slice", 4242, CgroupVersion::V2).iter().map(Property::shown).collect();
        assert!(shown.contains(&"Delegate=yes".to_string()), "{shown:?}");
        assert!(shown.contains(&"PIDs=4242".to_string()), "{shown:?}");
        assert!(shown.contains(&"Slice=machine.slice".to_string()), "{shown:?}");
    }
}
