//! The ring's records, read in order and made whole: a record alone does
//! not know everything its event says. A syscall's detail (its strings)
//! comes as a record of its own right before the syscall, an exec does not
//! carry its parent (the fork before it did), and a syscall does not carry
//! the namespaces its process is in (the last namespaces record did). The
//! [`RecordStream`] remembers those between records. Pure — bytes in,
//! [`KernelRecord`]s out — so the tracer's whole reading path is tested and
//! fuzzed (fuzz/) without a kernel.

use std::collections::HashMap;

use glassbox_probes_common::DetailRecord;

use crate::record::{decode_any, Decoded, KernelRecord, NsInodes};

/// What the records read so far say about the ones to come.
#[derive(Debug, Default)]
pub struct RecordStream {
    /// child → parent, from the fork records seen, to give execs a ppid.
    parents: HashMap<u32, u32>,
    /// Syscall details waiting for their syscall record, by tid.
    details: HashMap<u32, Box<DetailRecord>>,
    /// The namespaces each followed process was last seen in.
    namespaces: HashMap<u32, NsInodes>,
    /// Records this loader could not decode (should stay 0).
    undecodable: u64,
}

impl RecordStream {
    pub fn new() -> RecordStream {
        RecordStream::default()
    }

    /// The next record off the ring: the [`KernelRecord`] it makes, filled
    /// in from what came before; `None` for a detail (kept for its
    /// syscall) and for bytes this loader cannot decode (counted).
    pub fn push(&mut self, bytes: &[u8]) -> Option<KernelRecord> {
        match decode_any(bytes) {
            Some(Decoded::Record(mut rec)) => {
                self.annotate(&mut rec);
                Some(rec)
            }
            Some(Decoded::Detail(d)) => {
                self.details.insert(d.tid, d);
                None
            }
            None => {
                self.undecodable += 1;
                None
            }
        }
    }

    /// Records pushed that could not be decoded.
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// Fills in what one record cannot know alone: an exec's parent, a
    /// syscall's detail and its process's namespaces.
    fn annotate(&mut self, rec: &mut KernelRecord) {
        match rec {
            KernelRecord::Fork { parent, child, thread: false, .. } => {
                self.parents.insert(*child, *parent);
            }
            KernelRecord::Exec { pid, ppid, .. } => *ppid = self.parents.get(pid).copied(),
            KernelRecord::Namespaces { pid, inums, .. } => {
                self.namespaces.insert(*pid, *inums);
            }
            KernelRecord::Syscall(call) => {
                if self.details.get(&call.tid).is_some_and(|d| d.ts_ns == call.ts_ns) {
                    call.detail = self.details.remove(&call.tid);
                }
                call.ns = self.namespaces.get(&call.tgid).copied();
            }
            // A process's exit is reported when its main thread exits (tid
            // = tgid = pid): nothing more comes about it, so what was kept
            // for it goes — its parent, its namespaces, and a detail whose
            // syscall record was lost (a full ring).
            KernelRecord::Exit { pid, .. } => {
                self.parents.remove(pid);
                self.namespaces.remove(pid);
                self.details.remove(pid);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::bytes_of;
    use glassbox_probes_common::{ProcessRecord, RecordKind, SyscallRecord, FILENAME_LEN};

    fn process(kind: RecordKind, pid: u32, ppid: u32) -> Vec<u8> {
        let rec = ProcessRecord {
            kind: kind as u32,
            pid,
            ppid,
            flags: 0,
            exit_code: 0,
            owner: 1,
            ts_ns: 1,
            cgroup_id: 1,
            filename: [0; FILENAME_LEN],
        };
        bytes_of(&rec)
    }

    #[test]
    fn an_exec_gets_the_parent_its_fork_named_and_a_syscall_its_detail() {
        let mut stream = RecordStream::new();
        assert!(matches!(stream.push(&process(RecordKind::Fork, 20, 10)), Some(KernelRecord::Fork { .. })));
        assert!(matches!(
            stream.push(&process(RecordKind::Exec, 20, 0)),
            Some(KernelRecord::Exec { ppid: Some(10), .. })
        ));

        let detail = crate::decoded::detail(161, &[b"/newroot"], 0, [0; 4]);
        assert_eq!(stream.push(&bytes_of(&detail)), None, "a detail waits for its syscall");
        let call = SyscallRecord {
            kind: RecordKind::Syscall as u32,
            nr: 161,
            tid: 11,
            tgid: 10,
            ts_ns: 100,
            ..Default::default()
        };
        let Some(KernelRecord::Syscall(call)) = stream.push(&bytes_of(&call)) else { panic!("a syscall") };
        assert_eq!(call.detail.as_deref(), Some(&detail));

        assert_eq!(stream.push(&[9, 0, 0, 0]), None);
        assert_eq!(stream.undecodable(), 1);
    }

    /// A tracer follows a shell loop for hours: what it remembers about a
    /// process must go when the process does, or every fork ever seen
    /// stays in memory.
    #[test]
    fn nothing_is_kept_about_a_process_that_exited() {
        let mut stream = RecordStream::new();
        for pid in 100..1100 {
            stream.push(&process(RecordKind::Fork, pid, 10));
            stream.push(&process(RecordKind::Exec, pid, 0));
            let mut detail = crate::decoded::detail(165, &[b"/x"], 0, [0; 4]);
            (detail.tid, detail.tgid) = (pid, pid);
            stream.push(&bytes_of(&detail)); // its syscall record was lost
            stream.push(&process(RecordKind::Exit, pid, pid));
        }
        assert_eq!((stream.parents.len(), stream.details.len(), stream.namespaces.len()), (0, 0, 0));
    }
}
