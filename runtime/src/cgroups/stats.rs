//! What a container's cgroup has counted: CPU time, memory, pids, OOM kills.
//! `glassbox events` prints these in runc's JSON shape, so tools that read
//! runc's stats read ours.
//!
//! Every number comes straight from a cgroup file (listed next to each
//! field), so a learner can `cat` the same file and compare.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{CgroupVersion, ContainerCgroup};

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    /// Per page size ("2MB"): hugetlb.<size>.* files.
    pub hugetlb: BTreeMap<String, MemoryEntry>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BlkioStats {
    /// Bytes read and written per device: blkio.throttle.io_service_bytes_recursive (v1), io.stat (v2).
    #[serde(rename = "ioServiceBytesRecursive")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds of CPU time.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuUsage {
    pub total: u64,
    /// Per CPU (v1 cpuacct.usage_percpu; v2 has no per-CPU numbers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub user: u64,
    pub kernel: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Throttling {
    pub periods: u64,
    #[serde(rename = "throttledPeriods")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryStats {
    /// Page cache: memory.stat's "cache" (v1) or "file" (v2).
    pub cache: u64,
    pub usage: MemoryEntry,
    /// v1: memory+swap (memsw); v2: swap alone.
    pub swap: MemoryEntry,
    /// memory.stat, as the kernel names its lines.
    pub raw: BTreeMap<String, u64>,
    /// OOM kills in this cgroup so far.
    #[serde(rename = "oomKills")]
    pub oom_kills: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub usage: u64,
    pub max: u64,
    /// 0 when unlimited.
    pub limit: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct PidsStats {
    pub current: u64,
    /// 0 when unlimited.
    pub limit: u64,
}

fn read(dir: Option<&Path>, file: &str) -> Option<String> {
    std::fs::read_to_string(dir?.join(file)).ok()
}

fn number(dir: Option<&Path>, file: &str) -> u64 {
    read(dir, file).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// A number, or 0 for "max" and v1's huge "unlimited" values.
fn limit(dir: Option<&Path>, file: &str) -> u64 {
    match read(dir, file).map(|s| s.trim().to_string()).as_deref() {
        Some("max") | None => 0,
        Some(v) => v.parse().ok().filter(|n: &u64| *n < (1 << 62)).unwrap_or(0),
    }
}

/// "key value" lines (cpu.stat, memory.stat, memory.events, oom_control).
pub fn keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

impl ContainerCgroup {
    pub fn stats(&self) -> Stats {
        match self.version() {
            CgroupVersion::V1 => self.stats_v1(),
            CgroupVersion::V2 => self.stats_v2(),
        }
    }

    /// OOM kills so far: memory.oom_control (v1) or memory.events (v2), `oom_kill`.
    pub fn oom_kills(&self) -> u64 {
        let (file, dir) = match self.version() {
            CgroupVersion::V1 => ("memory.oom_control", self.dir_of("memory")),
            CgroupVersion::V2 => ("memory.events", self.dir_of("memory")),
        };
        read(dir.as_deref(), file).map(|t| keyed(&t).get("oom_kill").copied().unwrap_or(0)).unwrap_or(0)
    }

    fn stats_v1(&self) -> Stats {
        let cpuacct = self.dir_of("cpuacct");
        let cpu = self.dir_of("cpu");
        let memory = self.dir_of("memory");
        let pids = self.dir_of("pids");
        // cpuacct.stat counts in USER_HZ ticks (100 per second).
        let ticks = keyed(&read(cpuacct.as_deref(), "cpuacct.stat").unwrap_or_default());
        let cpu_stat = keyed(&read(cpu.as_deref(), "cpu.stat").unwrap_or_default());
        let tick_ns = 1_000_000_000 / 100;
        let raw_v1 = keyed(&read(memory.as_deref(), "memory.stat").unwrap_or_default());
        let blkio = self.dir_of("blkio");
        let service = read(blkio.as_deref(), "blkio.throttle.io_service_bytes_recursive").unwrap_or_default();
        Stats {
            cpu: CpuStats {
                usage: CpuUsage {
                    total: number(cpuacct.as_deref(), "cpuacct.usage"),
                    percpu: read(cpuacct.as_deref(), "cpuacct.usage_percpu")
                        .map(|t| t.split_whitespace().filter_map(|n| n.parse().ok()).collect())
                        .unwrap_or_default(),
                    user: ticks.get("user").copied().unwrap_or(0) * tick_ns,
                    kernel: ticks.get("system").copied().unwrap_or(0) * tick_ns,
                },
                throttling: Throttling {
                    periods: cpu_stat.get("nr_periods").copied().unwrap_or(0),
                    throttled_periods: cpu_stat.get("nr_throttled").copied().unwrap_or(0),
                    throttled_time: cpu_stat.get("throttled_time").copied().unwrap_or(0),
                },
            },
            memory: MemoryStats {
                cache: raw_v1.get("cache").copied().unwrap_or(0),
                usage: MemoryEntry {
                    usage: number(memory.as_deref(), "memory.usage_in_bytes"),
                    max: number(memory.as_deref(), "memory.max_usage_in_bytes"),
                    limit: limit(memory.as_deref(), "memory.limit_in_bytes"),
                    failcnt: number(memory.as_deref(), "memory.failcnt"),
                },
                swap: MemoryEntry {
                    usage: number(memory.as_deref(), "memory.memsw.usage_in_bytes"),
                    max: number(memory.as_deref(), "memory.memsw.max_usage_in_bytes"),
                    limit: limit(memory.as_deref(), "memory.memsw.limit_in_bytes"),
                    failcnt: number(memory.as_deref(), "memory.memsw.failcnt"),
                },
                raw: raw_v1,
                oom_kills: self.oom_kills(),
            },
            pids: PidsStats {
                current: number(pids.as_deref(), "pids.current"),
                limit: limit(pids.as_deref(), "pids.max"),
            },
            blkio: BlkioStats { io_service_bytes_recursive: service_bytes_v1(&service) },
            hugetlb: hugetlb(self.dir_of("hugetlb").as_deref(), false),
        }
    }

    fn stats_v2(&self) -> Stats {
        let dir = self.dir_of("memory");
        let d = dir.as_deref();
        let cpu_stat = keyed(&read(d, "cpu.stat").unwrap_or_default());
        let usec = |k: &str| cpu_stat.get(k).copied().unwrap_or(0) * 1000;
        let events = keyed(&read(d, "memory.events").unwrap_or_default());
        let raw_v2 = keyed(&read(d, "memory.stat").unwrap_or_default());
        Stats {
            cpu: CpuStats {
                usage: CpuUsage {
                    total: usec("usage_usec"),
                    percpu: Vec::new(),
                    user: usec("user_usec"),
                    kernel: usec("system_usec"),
                },
                throttling: Throttling {
                    periods: cpu_stat.get("nr_periods").copied().unwrap_or(0),
                    throttled_periods: cpu_stat.get("nr_throttled").copied().unwrap_or(0),
                    throttled_time: usec("throttled_usec"),
                },
            },
            memory: MemoryStats {
                cache: raw_v2.get("file").copied().unwrap_or(0),
                swap: MemoryEntry {
                    usage: number(d, "memory.swap.current"),
                    max: number(d, "memory.swap.peak"),
                    limit: limit(d, "memory.swap.max"),
                    failcnt: keyed(&read(d, "memory.swap.events").unwrap_or_default()).get("max").copied().unwrap_or(0),
                },
                usage: MemoryEntry {
                    usage: number(d, "memory.current"),
                    max: number(d, "memory.peak"),
                    limit: limit(d, "memory.max"),
                    failcnt: events.get("max").copied().unwrap_or(0),
                },
                raw: raw_v2,
                oom_kills: events.get("oom_kill").copied().unwrap_or(0),
            },
            pids: PidsStats { current: number(d, "pids.current"), limit: limit(d, "pids.max") },
            blkio: BlkioStats { io_service_bytes_recursive: service_bytes_v2(&read(d, "io.stat").unwrap_or_default()) },
            hugetlb: hugetlb(d, true),
        }
    }
}

/// v1 lines "8:0 Read 4096" (and a closing "Total N").
fn service_bytes_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (major, minor) = it.next()?.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: it.next()?.to_string(),
                value: it.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// v2 lines "8:0 rbytes=4096 wbytes=0 rios=1 …", as runc reports them (Read/Write).
fn service_bytes_v2(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else { continue };
        for kv in it {
            let op = match kv.split_once('=') {
                Some(("rbytes", v)) => ("Read", v),
                Some(("wbytes", v)) => ("Write", v),
                _ => continue,
            };
            out.push(BlkioEntry { major, minor, op: op.0.into(), value: op.1.parse().unwrap_or(0) });
        }
    }
    out
}

/// hugetlb.<size>.{usage_in_bytes,max_usage_in_bytes,limit_in_bytes,failcnt} (v1)
/// or hugetlb.<size>.{current,max,events} (v2), for each page size found.
fn hugetlb(dir: Option<&Path>, v2: bool) -> BTreeMap<String, MemoryEntry> {
    let mut out = BTreeMap::new();
    let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else { return out };
    let suffix = if v2 { ".current" } else { ".usage_in_bytes" };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(size) = name.strip_prefix("hugetlb.").and_then(|r| r.strip_suffix(suffix)) else { continue };
        if size.contains('.') {
            continue; // hugetlb.2MB.rsvd.* files
        }
        let f = |file: &str| format!("hugetlb.{size}.{file}");
        let entry = if v2 {
            MemoryEntry {
                usage: number(dir, &f("current")),
                max: 0,
                limit: limit(dir, &f("max")),
                failcnt: keyed(&read(dir, &f("events")).unwrap_or_default()).get("max").copied().unwrap_or(0),
            }
        } else {
            MemoryEntry {
                usage: number(dir, &f("usage_in_bytes")),
                max: number(dir, &f("max_usage_in_bytes")),
                limit: limit(dir, &f("limit_in_bytes")),
                failcnt: number(dir, &f("failcnt")),
            }
        };
        out.insert(size.to_string(), entry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_lines() {
        let k = keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        assert_eq!(k.get("oom_kill"), Some(&3));
        assert_eq!(keyed("garbage\nx notanumber\n").len(), 0);
    }

    #[test]
    fn io_bytes_both_versions() {
        let v1 = service_bytes_v1("8:0 Read 4096\n8:0 Write 512\nTotal 4608\n");
        assert_eq!(v1.len(), 2);
        assert_eq!((v1[1].op.as_str(), v1[1].value), ("Write", 512));
        let v2 = service_bytes_v2("8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n");
        assert_eq!(v2, service_bytes_v1("8:0 Read 4096\n8:0 Write 512\n"));
    }

    #[test]
    fn unlimited_is_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pids.max"), "max\n").unwrap();
        std::fs::write(dir.path().join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        std::fs::write(dir.path().join("memory.max"), "1048576\n").unwrap();
        assert_eq!(limit(Some(dir.path()), "pids.max"), 0);
        assert_eq!(limit(Some(dir.path()), "memory.limit_in_bytes"), 0);
        assert_eq!(limit(Some(dir.path()), "memory.max"), 1_048_576);
    }
}
