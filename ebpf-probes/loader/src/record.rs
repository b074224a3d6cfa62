//! Turning the bytes of one ring-buffer record back into a [`KernelRecord`]:
//! the tag at the start says which `#[repr(C)]` layout of
//! glassbox_probes_common follows. Pure, so it is tested without a kernel.

use glassbox_probes_common::{DetailRecord, NamespaceRecord, ProcessRecord, RecordKind, SyscallRecord};

/// The namespace inode numbers of a process, indexed by
/// `glassbox_probes_common::ns` (mnt, pid, pid_for_children, net, uts,
/// ipc, user, cgroup); 0 = could not be read.
pub type NsInodes = [u32; glassbox_probes_common::ns::COUNT];

/// A syscall that returned, with what the tracer knows beside its numbers:
/// the strings its arguments pointed at (sent by the probes for the
/// container-making syscalls only) and the namespaces its process was last
/// seen in. Derefs to the [`SyscallRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub record: SyscallRecord,
    pub detail: Option<Box<DetailRecord>>,
    pub ns: Option<NsInodes>,
}

impl Call {
    pub fn new(record: SyscallRecord) -> Call {
        Call { record, detail: None, ns: None }
    }

    /// The decoded arguments (flag names, strings), for the syscalls that
    /// make a container.
    pub fn decoded(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        crate::decoded::decode_args(&self.record, self.detail.as_deref())
    }
}

impl std::ops::Deref for Call {
    type Target = SyscallRecord;
    fn deref(&self) -> &SyscallRecord {
        &self.record
    }
}

impl From<SyscallRecord> for Call {
    fn from(record: SyscallRecord) -> Call {
        Call::new(record)
    }
}

/// One thing the probes saw, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelRecord {
    /// A syscall that returned (see [`crate::syscall_name`]).
    Syscall(Call),
    /// A followed process forked `child` (a thread when `thread`).
    Fork { ts_ns: u64, parent: u32, child: u32, thread: bool, cgroup_id: u64 },
    /// `pid` executed `filename`; `ppid` when the tracer saw it forked.
    Exec { ts_ns: u64, pid: u32, ppid: Option<u32>, filename: String, cgroup_id: u64 },
    /// `pid` exited; `exit_code` when it called exit/exit_group (not when a
    /// signal killed it).
    Exit { ts_ns: u64, pid: u32, exit_code: Option<i32>, cgroup_id: u64 },
    /// The namespaces `pid` is in, sent when it was forked (`why` =
    /// `ns_why::FORK`), exec'd, or after unshare/setns.
    Namespaces { ts_ns: u64, pid: u32, why: u32, owner: u32, cgroup_id: u64, inums: NsInodes },
}

/// A record off the ring: a [`KernelRecord`], or a syscall's detail that
/// waits for the syscall record right behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Record(KernelRecord),
    Detail(Box<DetailRecord>),
}

impl KernelRecord {
    /// CLOCK_MONOTONIC ns: entry for a syscall, the moment otherwise.
    pub fn ts_ns(&self) -> u64 {
        match self {
            KernelRecord::Syscall(s) => s.ts_ns,
            KernelRecord::Fork { ts_ns, .. }
            | KernelRecord::Exec { ts_ns, .. }
            | KernelRecord::Exit { ts_ns, .. }
            | KernelRecord::Namespaces { ts_ns, .. } => *ts_ns,
        }
    }

    /// The process the record is about (the parent, for a fork).
    pub fn pid(&self) -> u32 {
        match self {
            KernelRecord::Syscall(s) => s.tgid,
            KernelRecord::Fork { parent, .. } => *parent,
            KernelRecord::Exec { pid, .. } | KernelRecord::Exit { pid, .. } | KernelRecord::Namespaces { pid, .. } => {
                *pid
            }
        }
    }
}

/// Decodes one record; `None` for an unknown tag or a short buffer (a
/// loader older than its probes), which the caller counts, not guesses at.
/// A detail record is not a KernelRecord on its own: see [`decode_any`].
pub fn decode(bytes: &[u8]) -> Option<KernelRecord> {
    match decode_any(bytes)? {
        Decoded::Record(r) => Some(r),
        Decoded::Detail(_) => None,
    }
}

/// Decodes any record, details included.
pub fn decode_any(bytes: &[u8]) -> Option<Decoded> {
    let tag = u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?);
    Some(Decoded::Record(match RecordKind::from_tag(tag)? {
        RecordKind::Detail => return Some(Decoded::Detail(Box::new(read::<DetailRecord>(bytes)?))),
        RecordKind::Namespaces => {
            let n = read::<NamespaceRecord>(bytes)?;
            KernelRecord::Namespaces {
                ts_ns: n.ts_ns,
                pid: n.pid,
                why: n.why,
                owner: n.owner,
                cgroup_id: n.cgroup_id,
                inums: n.inums,
            }
        }
        RecordKind::Syscall => KernelRecord::Syscall(Call::new(read::<SyscallRecord>(bytes)?)),
        kind => {
            let p = read::<ProcessRecord>(bytes)?;
            match kind {
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
            }
        }
    }))
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

pub(crate) fn c_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(until_nul(bytes)).into_owned()
}

/// `bytes` up to its first NUL (all of it when there is none): how the
/// kernel side and C structs hand over strings.
pub(crate) fn until_nul(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())]
}

/// The bytes the kernel would have written for `rec`: for tests.
#[cfg(test)]
pub(crate) fn bytes_of<T: Copy>(rec: &T) -> Vec<u8> {
    // SAFETY: `rec` is a live reference, so its size_of::<T>() bytes are
    // readable while the slice exists (it is copied out at once); the tests
    // pass only the common crate's records, which have no padding, so every
    // byte read is initialised.
    unsafe { std::slice::from_raw_parts((rec as *const T).cast::<u8>(), std::mem::size_of::<T>()) }.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(kind: RecordKind, pid: u32, ppid: u32, flags: u32, code: i32, name: &str) -> ProcessRecord {
        let mut filename = [0u8; glassbox_probes_common::FILENAME_LEN];
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
        assert_eq!(decode(&bytes_of(&rec)), Some(KernelRecord::Syscall(Call::new(rec))));
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
    fn detail_and_namespace_records_decode() {
        let d = crate::decoded::detail(165, &[b"proc", b"/proc\0proc"], 0, [0; 4]);
        assert_eq!(decode_any(&bytes_of(&d)), Some(Decoded::Detail(Box::new(d))));
        assert_eq!(decode(&bytes_of(&d)), None, "a detail alone is not a KernelRecord");
        let n = NamespaceRecord {
            kind: RecordKind::Namespaces as u32,
            pid: 42,
            tid: 42,
            why: glassbox_probes_common::ns_why::FORK,
            ts_ns: 9,
            owner: 1,
            _pad: 0,
            cgroup_id: 3,
            inums: [1, 2, 3, 4, 5, 6, 7, 8],
        };
        assert_eq!(
            decode(&bytes_of(&n)),
            Some(KernelRecord::Namespaces {
                ts_ns: 9,
                pid: 42,
                why: 1,
                owner: 1,
                cgroup_id: 3,
                inums: [1, 2, 3, 4, 5, 6, 7, 8]
            })
        );
        assert_eq!(decode(&bytes_of(&n)[..40]), None);
    }

    #[test]
    fn unknown_tags_and_short_buffers_are_refused() {
        // A tag no record kind has, on a buffer long enough for any record.
        let mut unknown = [0u8; 1024];
        unknown[0] = 99;
        assert_eq!(decode(&unknown), None);
        assert_eq!(decode(&[5, 0, 0, 0, 1, 2]), None, "a detail record cut short");
        assert_eq!(decode(&[1, 0, 0, 0, 1, 2]), None);
        assert_eq!(decode(&[]), None);
    }
}
