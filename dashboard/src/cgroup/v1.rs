//! cgroup v1 files, one hierarchy per controller (Documentation/admin-guide/
//! cgroup-v1 in the kernel tree). Each reader takes the container's
//! directory in that controller's hierarchy.

use std::path::Path;

use super::{keyed, number, read, Cpu, Io, Memory, Pids};

/// v1 writes "no limit" as the largest page-aligned counter
/// (9223372036854771712 on x86_64): anything from 2^62 up is no limit.
const UNLIMITED: u64 = 1 << 62;

/// memory.usage_in_bytes (pages charged: anonymous memory and page cache),
/// memory.limit_in_bytes, memory.failcnt (times the charge hit the limit),
/// memory.oom_control's `oom_kill` (processes the OOM killer ended here,
/// kernels from 4.13), and memory.stat's `total_inactive_file` for the
/// working set (hierarchical, as the usage is).
pub fn memory(dir: &Path) -> Option<Memory> {
    let usage = number(&read(dir, "memory.usage_in_bytes")?)?;
    let stat = read(dir, "memory.stat").unwrap_or_default();
    let inactive_file = keyed(&stat, "total_inactive_file").or_else(|| keyed(&stat, "inactive_file")).unwrap_or(0);
    Some(Memory {
        usage,
        working_set: usage.saturating_sub(inactive_file),
        limit: read(dir, "memory.limit_in_bytes").and_then(|t| number(&t)).filter(|l| *l < UNLIMITED),
        failcnt: read(dir, "memory.failcnt").and_then(|t| number(&t)),
        oom_kills: read(dir, "memory.oom_control").and_then(|t| keyed(&t, "oom_kill")).unwrap_or(0),
    })
}

/// cpuacct.usage (ns of CPU time, every task of the cgroup), and from the
/// cpu controller the CFS bandwidth settings (cpu.cfs_quota_us, -1 for
/// none; cpu.cfs_period_us) and what they did (cpu.stat: nr_periods,
/// nr_throttled, throttled_time in ns).
pub fn cpu(cpu: Option<&Path>, cpuacct: Option<&Path>) -> Cpu {
    let stat = cpu.and_then(|d| read(d, "cpu.stat")).unwrap_or_default();
    let quota = cpu.and_then(|d| read(d, "cpu.cfs_quota_us")).and_then(|t| t.trim().parse::<i64>().ok());
    Cpu {
        usage_ns: cpuacct.and_then(|d| read(d, "cpuacct.usage")).and_then(|t| number(&t)).unwrap_or(0),
        periods: keyed(&stat, "nr_periods").unwrap_or(0),
        throttled_periods: keyed(&stat, "nr_throttled").unwrap_or(0),
        throttled_ns: keyed(&stat, "throttled_time").unwrap_or(0),
        quota_us: quota.filter(|q| *q > 0),
        period_us: cpu.and_then(|d| read(d, "cpu.cfs_period_us")).and_then(|t| number(&t)).unwrap_or(0),
    }
}

/// pids.current, pids.max (`max` for none), and pids.events' `max`: forks
/// and clones refused because the cgroup was full (they failed with EAGAIN).
/// The same files in v1 and v2.
pub fn pids(dir: &Path) -> Pids {
    Pids {
        current: read(dir, "pids.current").and_then(|t| number(&t)).unwrap_or(0),
        max: read(dir, "pids.max").and_then(|t| number(&t)),
        refused: read(dir, "pids.events").and_then(|t| keyed(&t, "max")).unwrap_or(0),
    }
}

/// blkio.throttle.io_service_bytes(_recursive): `MAJ:MIN Read N` lines per
/// device; the throttle files count every request, whatever the I/O scheduler.
pub fn io(dir: &Path) -> Io {
    let text = read(dir, "blkio.throttle.io_service_bytes_recursive")
        .or_else(|| read(dir, "blkio.throttle.io_service_bytes"))
        .unwrap_or_default();
    let mut io = Io::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_device, op, value] = fields[..] {
            let value = value.parse::<u64>().unwrap_or(0);
            match op {
                "Read" => io.read_bytes += value,
                "Write" => io.write_bytes += value,
                _ => {}
            }
        }
    }
    io
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    #[test]
    fn v1_files_read_as_the_kernel_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        files(
            d,
            &[
                ("memory.usage_in_bytes", "33554432\n"),
                ("memory.limit_in_bytes", "33554432\n"),
                ("memory.failcnt", "1234\n"),
                ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
                ("memory.stat", "cache 4096\ninactive_file 100\ntotal_cache 4096\ntotal_inactive_file 8192\n"),
                ("cpuacct.usage", "1500000000\n"),
                ("cpu.stat", "nr_periods 20\nnr_throttled 18\nthrottled_time 1700000000\n"),
                ("cpu.cfs_quota_us", "10000\n"),
                ("cpu.cfs_period_us", "100000\n"),
                ("pids.current", "5\n"),
                ("pids.max", "5\n"),
                ("pids.events", "max 3\n"),
                (
                    "blkio.throttle.io_service_bytes_recursive",
                    "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:16 Read 1\nTotal 4609\n",
                ),
            ],
        );
        let m = memory(d).unwrap();
        assert_eq!(
            m,
            Memory {
                usage: 33554432,
                working_set: 33554432 - 8192,
                limit: Some(33554432),
                failcnt: Some(1234),
                oom_kills: 2
            }
        );
        let c = cpu(Some(d), Some(d));
        assert_eq!((c.usage_ns, c.periods, c.throttled_periods, c.throttled_ns), (1500000000, 20, 18, 1700000000));
        assert_eq!((c.quota_us, c.period_us), (Some(10000), 100000));
        assert_eq!(pids(d), Pids { current: 5, max: Some(5), refused: 3 });
        assert_eq!(io(d), Io { read_bytes: 4097, write_bytes: 512 });

        // No limits: the huge "unlimited" values and -1 read as none.
        files(
            d,
            &[("memory.limit_in_bytes", "9223372036854771712\n"), ("cpu.cfs_quota_us", "-1\n"), ("pids.max", "max\n")],
        );
        assert_eq!(memory(d).unwrap().limit, None);
        assert_eq!(cpu(Some(d), Some(d)).quota_us, None);
        assert_eq!(pids(d).max, None);
        // A cgroup that is gone: no sample.
        assert_eq!(memory(&d.join("gone")), None);
    }
}
