//! Aggregate mode's result: per syscall, how many calls, how long they took
//! in total, and a log2 histogram of their latencies (as `strace -c` and
//! bcc's syscount/funclatency show them).

use glassbox_probes_common::{SyscallStats, LATENCY_BUCKETS};

use crate::syscalls::syscall_name;

/// One syscall's totals over the whole trace, all CPUs added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallSummary {
    pub nr: u32,
    pub name: String,
    pub count: u64,
    pub errors: u64,
    pub total_ns: u64,
    /// histogram[i]: calls that took [2^i, 2^(i+1)) ns.
    pub histogram: [u64; LATENCY_BUCKETS],
}

impl SyscallSummary {
    /// Adds up one syscall's per-CPU slots; `None` if it was never called.
    pub fn from_per_cpu(nr: u32, slots: &[SyscallStats]) -> Option<SyscallSummary> {
        let mut s = SyscallSummary {
            nr,
            name: syscall_name(nr).map(String::from).unwrap_or_else(|| format!("syscall_{nr}")),
            count: 0,
            errors: 0,
            total_ns: 0,
            histogram: [0; LATENCY_BUCKETS],
        };
        for slot in slots {
            s.count += slot.count;
            s.errors += slot.errors;
            s.total_ns += slot.total_ns;
            for (sum, n) in s.histogram.iter_mut().zip(slot.histogram) {
                *sum += n;
            }
        }
        (s.count > 0).then_some(s)
    }

    /// Mean latency in ns.
    pub fn mean_ns(&self) -> u64 {
        self.total_ns.checked_div(self.count).unwrap_or(0)
    }

    /// The latency below which `fraction` of the calls fell, to the upper
    /// edge of its log2 bucket (so p50 of calls taking 300 ns says 512).
    pub fn percentile_ns(&self, fraction: f64) -> u64 {
        let want = (self.count as f64 * fraction).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.histogram.iter().enumerate() {
            seen += n;
            if seen >= want.max(1) {
                return 1u64 << (i + 1);
            }
        }
        1u64 << LATENCY_BUCKETS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glassbox_probes_common::latency_bucket;

    #[test]
    fn per_cpu_slots_add_up() {
        let mut a = SyscallStats { count: 3, total_ns: 900, ..Default::default() };
        a.histogram[latency_bucket(300)] = 3;
        let mut b = SyscallStats { count: 1, total_ns: 5000, errors: 1, ..Default::default() };
        b.histogram[latency_bucket(5000)] = 1;
        let s = SyscallSummary::from_per_cpu(0, &[a, b]).unwrap();
        assert_eq!((s.name.as_str(), s.count, s.errors, s.total_ns, s.mean_ns()), ("read", 4, 1, 5900, 1475));
        assert_eq!(s.percentile_ns(0.5), 512);
        assert_eq!(s.percentile_ns(1.0), 8192);
        assert_eq!(SyscallSummary::from_per_cpu(1, &[SyscallStats::default()]), None);
    }
}
