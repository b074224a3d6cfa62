//! Kernel records as glassbox [`Event`]s (`source: kernel`), so the probes'
//! view and the runtime's own stage events merge into one timeline: both
//! stamp CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns is that clock).

use glassbox_events::{Event, Kind, ProcessChange, Source, SCHEMA_VERSION};

use crate::record::{KernelRecord, NsInodes};
use crate::syscalls::syscall_name;

/// What a record alone does not say: which container it belongs to, and
/// how to turn its monotonic time into wall-clock time for people.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub container: String,
    /// CLOCK_REALTIME − CLOCK_MONOTONIC, in ns, measured once.
    pub wall_offset_ns: i64,
}

impl EventContext {
    /// Measures the offset between the two clocks now (clock_gettime(2)).
    pub fn new(container: &str) -> EventContext {
        let ns = |clock| {
            let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: t is a valid timespec to write into.
            unsafe { libc::clock_gettime(clock, &mut t) };
            t.tv_sec * 1_000_000_000 + t.tv_nsec
        };
        let wall_offset_ns = ns(libc::CLOCK_REALTIME) - ns(libc::CLOCK_MONOTONIC);
        EventContext { container: container.to_string(), wall_offset_ns }
    }

    /// The wall-clock time of monotonic `ts_ns`, in ns since the epoch. A
    /// time no clock of this machine gives (a corrupt record's) is held at
    /// the end of the range, never wrapped round (nor, in a debug build, a
    /// panic on overflow).
    pub fn wall_ns(&self, ts_ns: u64) -> i64 {
        i64::try_from(ts_ns).unwrap_or(i64::MAX).saturating_add(self.wall_offset_ns)
    }
}

/// The event for `rec`, numbered `seq` in its stream.
pub fn to_event(rec: &KernelRecord, seq: u64, ctx: &EventContext) -> Event {
    let wall = chrono::DateTime::from_timestamp_nanos(ctx.wall_ns(rec.ts_ns()))
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let process = |change, ppid: Option<u32>, filename: Option<&String>, exit_code| Kind::Process {
        change,
        ppid: ppid.map(|p| p as i32),
        filename: filename.cloned(),
        exit_code,
        ns: None,
    };
    let (pid, kind) = match rec {
        KernelRecord::Syscall(s) => (
            s.tgid,
            Kind::Syscall {
                nr: s.nr,
                name: syscall_name(s.nr).map(String::from).unwrap_or_else(|| format!("syscall_{}", s.nr)),
                args: s.args.to_vec(),
                ret: s.ret,
                latency_ns: s.latency_ns,
                decoded: s.decoded(),
                // Only on the calls that make a container: a process's
                // namespaces are also in its `namespaces` events, and on
                // every one of a busy process's calls they would double the record.
                ns: s.detail.as_ref().and(s.ns.as_ref()).map(ns_map),
            },
        ),
        KernelRecord::Namespaces { pid, inums, .. } => (
            *pid,
            Kind::Process {
                change: ProcessChange::Namespaces,
                ppid: None,
                filename: None,
                exit_code: None,
                ns: Some(ns_map(inums)),
            },
        ),
        KernelRecord::Fork { parent, child, .. } => (*child, process(ProcessChange::Fork, Some(*parent), None, None)),
        KernelRecord::Exec { pid, ppid, filename, .. } => {
            (*pid, process(ProcessChange::Exec, *ppid, Some(filename), None))
        }
        KernelRecord::Exit { pid, exit_code, .. } => (*pid, process(ProcessChange::Exit, None, None, *exit_code)),
    };
    Event {
        v: SCHEMA_VERSION,
        seq,
        ts_ns: rec.ts_ns(),
        wall,
        container: ctx.container.clone(),
        pid: pid as i32,
        source: Source::Kernel,
        kind,
    }
}

/// {"mnt": 4026531841, "pid": …}: the names /proc/PID/ns/ uses; slots the
/// probe could not read (0) are left out.
pub fn ns_map(inums: &NsInodes) -> serde_json::Map<String, serde_json::Value> {
    glassbox_probes_common::ns::NAMES
        .iter()
        .zip(inums)
        .filter(|(_, &n)| n != 0)
        .map(|(name, &n)| (name.to_string(), serde_json::Value::from(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use glassbox_probes_common::{RecordKind, SyscallRecord};

    fn ctx() -> EventContext {
        EventContext { container: "c1".into(), wall_offset_ns: 1_700_000_000_000_000_000 }
    }

    #[test]
    fn a_syscall_becomes_a_kernel_syscall_event_by_name() {
        let rec = KernelRecord::Syscall(crate::Call::new(SyscallRecord {
            kind: RecordKind::Syscall as u32,
            nr: 165,
            tid: 41,
            tgid: 40,
            args: [1, 2, 3, 0, 0, 0],
            ret: 0,
            ts_ns: 5_000,
            latency_ns: 1_234,
            cgroup_id: 1,
            ..Default::default()
        }));
        let e = to_event(&rec, 3, &ctx());
        assert_eq!((e.seq, e.ts_ns, e.pid, e.source), (3, 5_000, 40, Source::Kernel));
        assert_eq!(e.container, "c1");
        assert!(e.wall.starts_with("2023-11-14T22:13:20.000005"), "{}", e.wall);
        assert_eq!(
            e.kind,
            Kind::Syscall {
                nr: 165,
                name: "mount".into(),
                args: vec![1, 2, 3, 0, 0, 0],
                ret: 0,
                latency_ns: 1_234,
                decoded: None,
                ns: None
            }
        );
        let line = glassbox_events::to_line(&e);
        assert!(line.contains(r#""source":"kernel","type":"syscall""#), "{line}");
    }

    #[test]
    fn process_changes_become_process_events() {
        let fork = KernelRecord::Fork { ts_ns: 1, parent: 10, child: 11, thread: false, cgroup_id: 0 };
        let e = to_event(&fork, 0, &ctx());
        assert_eq!(e.pid, 11);
        assert_eq!(
            e.kind,
            Kind::Process { change: ProcessChange::Fork, ppid: Some(10), filename: None, exit_code: None, ns: None }
        );

        let exec = KernelRecord::Exec { ts_ns: 2, pid: 11, ppid: Some(10), filename: "/bin/true".into(), cgroup_id: 0 };
        let e = to_event(&exec, 1, &ctx());
        assert_eq!(
            e.kind,
            Kind::Process {
                change: ProcessChange::Exec,
                ppid: Some(10),
                filename: Some("/bin/true".into()),
                exit_code: None,
                ns: None
            }
        );

        let exit = KernelRecord::Exit { ts_ns: 3, pid: 11, exit_code: Some(0), cgroup_id: 0 };
        let e = to_event(&exit, 2, &ctx());
        assert_eq!(
            e.kind,
            Kind::Process { change: ProcessChange::Exit, ppid: None, filename: None, exit_code: Some(0), ns: None }
        );
    }

    #[test]
    fn decoded_arguments_and_namespaces_ride_on_the_syscall_event() {
        let d = crate::decoded::detail(161, &[b"/newroot"], 0, [0; 4]);
        let mut call = crate::Call::new(SyscallRecord { nr: 161, tgid: 10, ..Default::default() });
        call.detail = Some(Box::new(d));
        call.ns = Some([11, 12, 12, 14, 15, 16, 17, 0]);
        let e = to_event(&KernelRecord::Syscall(call), 0, &ctx());
        let v: serde_json::Value = serde_json::from_str(&glassbox_events::to_line(&e)).unwrap();
        assert_eq!(v["decoded"], serde_json::json!({"path": "/newroot"}));
        assert_eq!(v["ns"]["mnt"], 11);
        assert_eq!(v["ns"].get("cgroup"), None, "unreadable slots are left out");
        let n = KernelRecord::Namespaces { ts_ns: 1, pid: 7, why: 1, owner: 1, cgroup_id: 0, inums: [1; 8] };
        let v = serde_json::to_value(to_event(&n, 1, &ctx())).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["change"].as_str(), v["ns"]["uts"].as_u64()),
            (Some("process"), Some("namespaces"), Some(1))
        );
    }

    /// Found by fuzz/ (kernel_record): a record's ts_ns is whatever the
    /// ring held, and `ts_ns as i64 + offset` overflowed.
    #[test]
    fn a_time_from_a_corrupt_record_still_gets_a_wall_text() {
        for ts_ns in [u64::MAX, i64::MAX as u64, i64::MAX as u64 + 1] {
            let rec = KernelRecord::Exit { ts_ns, pid: 1, exit_code: None, cgroup_id: 0 };
            assert_eq!(to_event(&rec, 0, &ctx()).wall, "2262-04-11T23:47:16.854775807Z", "{ts_ns}");
        }
        let before_the_epoch = EventContext { container: "c1".into(), wall_offset_ns: i64::MIN };
        let rec = KernelRecord::Exit { ts_ns: 0, pid: 1, exit_code: None, cgroup_id: 0 };
        assert!(to_event(&rec, 0, &before_the_epoch).wall.starts_with("1677-09-21T00:12:43"));
    }

    #[test]
    fn an_unknown_number_is_named_by_number() {
        let rec = KernelRecord::Syscall(SyscallRecord { nr: 9999, ..Default::default() }.into());
        assert!(matches!(to_event(&rec, 0, &ctx()).kind, Kind::Syscall { name, .. } if name == "syscall_9999"));
    }
}
