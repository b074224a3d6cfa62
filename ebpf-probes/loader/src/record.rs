//! Turning the bytes of one ring-buffer record back into a [`KernelRecord`]:
//! the tag at the start says which `#[repr(C)]` layout of
//! glassbox_probes_common follows. Pure, so it is tested without a kernel.

use glassbox_probes_common::{ProcessRecord, RecordKind, SyscallRecord, FILENAME_LEN};

/// One thing the probes saw, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelRecord {
    /// A syscall that returned (numbers only; see [`crate::syscall_name`]).
    Syscall(SyscallRecord),
    /// A followed process forked `child` (a thread when `thread`).
    Fork { ts_ns: u64, parent: u32, child: u32, thread: bool, cgroup_id: u64 },
    /// `pid` executed `filename`; `ppid` when the tracer saw it forked.
    Exec { ts_ns: u64, pid: u32, ppid: Option<u32>, filename: String, cgroup_id: u64 },
    /// `pid` exited; `exit_code` when it called exit/exit_group (not when a
    /// signal killed it).
    Exit { ts_ns: u64, pid: u32, exit_code: Option<i32>, cgroup_id: u64 },
}

impl KernelRecord {
    /// CLOCK_MONOTONIC ns: entry for a syscall, the moment otherwise.
    pub fn ts_ns(&self) -> u64 {
        match self {
            KernelRecord::Syscall(s) => s.ts_ns,
            KernelRecord::Fork { ts_ns, .. } | KernelRecord::Exec { ts_ns, .. } | KernelRecord::Exit { ts_ns, .. } => {
                *ts_ns
            }
        }
    }

    /// The process the record is about (the parent, for a fork).
    pub fn pid(&self) -> u32 {
        match self {
            KernelRecord::Syscall(s) => s.tgid,
            KernelRecord::Fork { parent, .. } => *parent,
            KernelRecord::Exec { pid, .. } | KernelRecord::Exit { pid, .. } => *pid,
        }
    }
}

/// Decodes one record; `None` for an unknown tag or a short buffer (a
/// loader older than its probes), which the caller counts, not guesses at.
pub fn decode(bytes: &[u8]) -> Option<KernelRecord> {
    let tag = u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?);
    match RecordKind::from_tag(tag)? {
        RecordKind::Syscall => Some(KernelRecord::Syscall(read::<SyscallRecord>(bytes)?)),
        kind => {
            let p = read::<ProcessRecord>(bytes)?;
            Some(match kind {
                RecordKind::Fork => KernelRecord::Fork {
                    ts_ns: p.ts_ns,
                    parent: p.ppid,
                    child: p.pid,
                    thread: p.flags & ProcessRecord::THREAD != 0,
                    cgroup_id: p.cgroup_id,
                },
                RecordKind::Exec => KernelRecord::Exec {
                    ts_ns: p.ts_ns,
                    pid: p.pid,
                    ppid: None,
                    filename: c_string(&p.filename),
                    cgroup_id: p.cgroup_id,
                },
                _ => KernelRecord::Exit {
                    ts_ns: p.ts_ns,
                    pid: p.pid,
                    exit_code: (p.flags & ProcessRecord::CODE_KNOWN != 0).then_some(p.exit_code),
                    cgroup_id: p.cgroup_id,
                },
            })
        }
    }
}

/// Copies a `T` out of the front of `bytes` (ring memory is only 8-aligned).
fn read<T: Copy>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked, read_unaligned copes with any
    // alignment, and T is one of the common crate's plain-integer records,
    // for which every bit pattern is valid.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

fn c_string(buf: &[u8; FILENAME_LEN]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(FILENAME_LEN);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The bytes the kernel would have written for `rec`: for tests.
#[cfg(test)]
pub(crate) fn bytes_of<T: Copy>(rec: &T) -> Vec<u8> {
    // SAFETY: reading the plain-integer record as bytes.
    unsafe { std::slice::from_raw_parts((rec as *const T).cast::<u8>(), std::mem::size_of::<T>()) }.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(kind: RecordKind, pid: u32, ppid: u32, flags: u32, code: i32, name: &str) -> ProcessRecord {
        let mut filename = [0u8; FILENAME_LEN];
        filename[..name.len()].copy_from_slice(name.as_bytes());
        ProcessRecord {
            kind: kind as u32,
            pid,
            ppid,
            flags,
            exit_code: code,
            owner: 1,
            ts_ns: 7,
            cgroup_id: 9,
            filename,
        }
    }

    #[test]
    fn a_syscall_record_round_trips() {
        let rec = SyscallRecord {
            kind: RecordKind::Syscall as u32,
            nr: 165,
            tid: 11,
            tgid: 10,
            args: [1, 2, 3, 4, 5, 6],
            ret: -2,
            ts_ns: 100,
            latency_ns: 50,
            cgroup_id: 3,
            ..Default::default()
        };
        assert_eq!(decode(&bytes_of(&rec)), Some(KernelRecord::Syscall(rec)));
    }

    #[test]
    fn process_records_decode_by_tag() {
        let fork = process(RecordKind::Fork, 20, 10, ProcessRecord::THREAD, 0, "");
        assert_eq!(
            decode(&bytes_of(&fork)),
            Some(KernelRecord::Fork { ts_ns: 7, parent: 10, child: 20, thread: true, cgroup_id: 9 })
        );
        let exec = process(RecordKind::Exec, 20, 0, 0, 0, "/bin/true");
        assert_eq!(
            decode(&bytes_of(&exec)),
            Some(KernelRecord::Exec { ts_ns: 7, pid: 20, ppid: None, filename: "/bin/true".into(), cgroup_id: 9 })
        );
        let exit = process(RecordKind::Exit, 20, 20, ProcessRecord::CODE_KNOWN, 3, "");
        assert_eq!(
            decode(&bytes_of(&exit)),
            Some(KernelRecord::Exit { ts_ns: 7, pid: 20, exit_code: Some(3), cgroup_id: 9 })
        );
        let killed = process(RecordKind::Exit, 20, 20, 0, 0, "");
        assert!(matches!(decode(&bytes_of(&killed)), Some(KernelRecord::Exit { exit_code: None, .. })));
    }

    #[test]
    fn unknown_tags_and_short_buffers_are_refused() {
        assert_eq!(decode(&[5, 0, 0, 0, 1, 2]), None);
        assert_eq!(decode(&[1, 0, 0, 0, 1, 2]), None);
        assert_eq!(decode(&[]), None);
    }
}
