//! cgroup v2 files, all in the container's one directory
//! (Documentation/admin-guide/cgroup-v2.rst in the kernel tree). The pids
//! files are the same as v1's ([`super::v1::pids`]).

use std::path::Path;

use super::{keyed, number, read, Cpu, Io, Memory};

/// memory.current, memory.max (`max` for none), memory.events (`max`:
/// times usage hit the limit — v2's nearest to v1's failcnt; `oom_kill`:
/// processes the OOM killer ended), and memory.stat's `inactive_file`
/// (v2's memory.stat is hierarchical already).
pub fn memory(dir: &Path) -> Option<Memory> {
    let usage = number(&read(dir, "memory.current")?)?;
    let stat = read(dir, "memory.stat").unwrap_or_default();
    let events = read(dir, "memory.events").unwrap_or_default();
    Some(Memory {
        usage,
        working_set: usage.saturating_sub(keyed(&stat, "inactive_file").unwrap_or(0)),
        limit: read(dir, "memory.max").and_then(|t| number(&t)),
        failcnt: keyed(&events, "max"),
        oom_kills: keyed(&events, "oom_kill").unwrap_or(0),
    })
}

/// cpu.stat (usage_usec, nr_periods, nr_throttled, throttled_usec: v2
/// counts in µs) and cpu.max (`QUOTA PERIOD`, QUOTA `max` for none).
pub fn cpu(dir: &Path) -> Cpu {
    let stat = read(dir, "cpu.stat").unwrap_or_default();
    let max = read(dir, "cpu.max").unwrap_or_default();
    let mut max = max.split_whitespace();
    let quota = max.next().and_then(|q| q.parse::<i64>().ok());
    Cpu {
        usage_ns: keyed(&stat, "usage_usec").unwrap_or(0) * 1000,
        periods: keyed(&stat, "nr_periods").unwrap_or(0),
        throttled_periods: keyed(&stat, "nr_throttled").unwrap_or(0),
        throttled_ns: keyed(&stat, "throttled_usec").unwrap_or(0) * 1000,
        quota_us: quota,
        period_us: max.next().and_then(|p| p.parse().ok()).unwrap_or(100_000),
    }
}

/// io.stat: one line per device, `MAJ:MIN rbytes=N wbytes=N rios=N …`.
pub fn io(dir: &Path) -> Io {
    let mut io = Io::default();
    for field in read(dir, "io.stat").unwrap_or_default().split_whitespace() {
        match field.split_once('=') {
            Some(("rbytes", n)) => io.read_bytes += n.parse::<u64>().unwrap_or(0),
            Some(("wbytes", n)) => io.write_bytes += n.parse::<u64>().unwrap_or(0),
            _ => {}
        }
    }
    io
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_files_read_as_the_kernel_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, text) in [
            ("memory.current", "1048576\n"),
            ("memory.max", "2097152\n"),
            ("memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n"),
            ("memory.stat", "anon 4096\nfile 8192\ninactive_file 4096\nactive_file 4096\n"),
            ("cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 9\nnr_throttled 4\nthrottled_usec 300\n"),
            ("cpu.max", "10000 100000\n"),
            ("io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n"),
        ] {
            std::fs::write(d.join(name), text).unwrap();
        }
        assert_eq!(
            memory(d).unwrap(),
            Memory {
                usage: 1048576,
                working_set: 1048576 - 4096,
                limit: Some(2097152),
                failcnt: Some(7),
                oom_kills: 1
            }
        );
        let c = cpu(d);
        assert_eq!((c.usage_ns, c.periods, c.throttled_periods, c.throttled_ns), (2_500_000, 9, 4, 300_000));
        assert_eq!((c.quota_us, c.period_us), (Some(10000), 100000));
        assert_eq!(io(d), Io { read_bytes: 4097, write_bytes: 2 });
        std::fs::write(d.join("memory.max"), "max\n").unwrap();
        std::fs::write(d.join("cpu.max"), "max 100000\n").unwrap();
        assert_eq!((memory(d).unwrap().limit, cpu(d).quota_us), (None, None));
    }
}
