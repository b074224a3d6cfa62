//! `process.scheduler`: the CPU scheduling policy and its parameters, set with
//! sched_setattr(2) (man7.org/linux/man-pages/man2/sched_setattr.2.html; the
//! policies are described in sched(7)).
//!
//! glibc has no wrapper for sched_setattr and nix does not cover it, so the
//! struct is laid out here and passed through libc::syscall. The plan checks
//! the combinations sched(7) forbids, so the learner gets a sentence instead of
//! a bare EINVAL.

use nix::errno::Errno;
use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler};

use super::SecurityError;

/// The kernel's `struct sched_attr` (include/uapi/linux/sched/types.h), in its
/// second version (with the utilization clamps), as runc passes it too.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

fn policy_number(p: LinuxSchedulerPolicy) -> u32 {
    use LinuxSchedulerPolicy::*;
    match p {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        // Reserved in mainline headers: only patched (-ck) kernels implement it.
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    }
}

fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    use LinuxSchedulerFlag::*;
    match f {
        SchedResetOnFork => 0x01,
        SchedFlagReclaim => 0x02,
        SchedFlagDLOverrun => 0x04,
        SchedFlagKeepPolicy => 0x08,
        SchedFlagKeepParams => 0x10,
        SchedFlagUtilClampMin => 0x20,
        SchedFlagUtilClampMax => 0x40,
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SecurityError {
    SecurityError::SchedulerInvalid { field, reason: reason.into() }
}

/// Check the spec's scheduler block against sched(7) and build the struct. Pure.
pub fn plan_scheduler(s: &Scheduler) -> Result<SchedAttr, SecurityError> {
    use LinuxSchedulerPolicy::*;
    let policy = *s.policy();
    let priority = s.priority().unwrap_or(0);
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(invalid("nice", format!("{nice} is outside -20..=19")));
    }
    match policy {
        SchedFifo | SchedRr if !(1..=99).contains(&priority) => {
            return Err(invalid("priority", format!("{policy} needs a real-time priority in 1..=99, got {priority}")));
        }
        SchedFifo | SchedRr => {}
        _ if priority != 0 => {
            return Err(invalid(
                "priority",
                format!(
                    "{priority}: only SCHED_FIFO and SCHED_RR use a static priority; leave it out or 0 for {policy}"
                ),
            ));
        }
        _ => {}
    }
    let (runtime, deadline, period) = (s.runtime().unwrap_or(0), s.deadline().unwrap_or(0), s.period().unwrap_or(0));
    if policy == SchedDeadline {
        if runtime == 0 {
            return Err(invalid("runtime", "SCHED_DEADLINE needs a runtime (nanoseconds of CPU per period)"));
        }
        // A zero period means "the same as the deadline" to the kernel.
        if runtime > deadline || (period != 0 && deadline > period) {
            return Err(invalid(
                "deadline",
                format!("SCHED_DEADLINE needs runtime <= deadline <= period, got {runtime} <= {deadline} <= {period}"),
            ));
        }
    } else if runtime != 0 || deadline != 0 || period != 0 {
        return Err(invalid(
            "runtime",
            format!("runtime, deadline and period are only used by SCHED_DEADLINE, not {policy}"),
        ));
    }
    let flags = s.flags().iter().flatten().fold(0, |acc, f| acc | flag_bit(*f));
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy_number(policy),
        sched_flags: flags,
        sched_nice: nice,
        sched_priority: priority as u32,
        sched_runtime: runtime,
        sched_deadline: deadline,
        sched_period: period,
        ..SchedAttr::default()
    })
}

pub(crate) fn set_scheduler(attr: &SchedAttr) -> Result<(), SecurityError> {
    // SAFETY: attr points to a live, correctly sized sched_attr the kernel only reads.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
    Errno::result(rc).map(drop).map_err(|source| SecurityError::Scheduler {
        policy: policy_name(attr.sched_policy),
        source,
        hint: match (attr.sched_policy, source) {
            (4, Errno::EINVAL) => "SCHED_ISO exists only in patched kernels; mainline Linux rejects it",
            (_, Errno::EPERM) => "real-time policies, negative nice values and SCHED_DEADLINE need CAP_SYS_NICE (and an RLIMIT_RTPRIO that allows the priority)",
            (_, Errno::EBUSY) => "the SCHED_DEADLINE admission test failed: not enough CPU bandwidth left",
            _ => "check the values against sched(7)",
        },
    })
}

fn policy_name(n: u32) -> String {
    ["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"]
        .get(n as usize)
        .map_or_else(|| n.to_string(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(json: &str) -> Scheduler {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn struct_is_the_kernels_version_one_size() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
    }

    #[test]
    fn every_policy_maps_to_its_kernel_number() {
        for (name, n) in [("SCHED_OTHER", 0), ("SCHED_BATCH", 3), ("SCHED_ISO", 4), ("SCHED_IDLE", 5)] {
            let attr = plan_scheduler(&sched(&format!(r#"{{"policy":"{name}","nice":5}}"#))).unwrap();
            assert_eq!((attr.sched_policy, attr.sched_nice), (n, 5), "{name}");
            assert_eq!(policy_name(n), name);
        }
        let fifo = plan_scheduler(&sched(r#"{"policy":"SCHED_FIFO","priority":10}"#)).unwrap();
        assert_eq!((fifo.sched_policy, fifo.sched_priority), (1, 10));
        let rr = plan_scheduler(&sched(r#"{"policy":"SCHED_RR","priority":99}"#)).unwrap();
        assert_eq!(rr.sched_policy, 2);
        let dl = plan_scheduler(&sched(
            r#"{"policy":"SCHED_DEADLINE","runtime":10000000,"deadline":30000000,"period":30000000}"#,
        ))
        .unwrap();
        assert_eq!((dl.sched_policy, dl.sched_runtime, dl.sched_period), (6, 10_000_000, 30_000_000));
    }

    #[test]
    fn flags_are_or_ed() {
        let attr = plan_scheduler(&sched(
            r#"{"policy":"SCHED_OTHER","flags":["SCHED_RESET_ON_FORK","SCHED_FLAG_KEEP_PARAMS","SCHED_FLAG_UTIL_CLAMP_MAX"]}"#,
        ))
        .unwrap();
        assert_eq!(attr.sched_flags, 0x01 | 0x10 | 0x40);
    }

    #[test]
    fn forbidden_combinations_are_explained() {
        let err = |j: &str| plan_scheduler(&sched(j)).unwrap_err().to_string();
        assert!(err(r#"{"policy":"SCHED_FIFO"}"#).contains("process.scheduler.priority"));
        assert!(err(r#"{"policy":"SCHED_OTHER","priority":5}"#).contains("only SCHED_FIFO and SCHED_RR"));
        assert!(err(r#"{"policy":"SCHED_OTHER","nice":20}"#).contains("process.scheduler.nice: 20"));
        assert!(err(r#"{"policy":"SCHED_DEADLINE","runtime":5,"deadline":3}"#).contains("runtime <= deadline"));
        assert!(err(r#"{"policy":"SCHED_BATCH","period":3}"#).contains("only used by SCHED_DEADLINE"));
    }
}
