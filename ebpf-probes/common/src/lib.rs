//! The records glassbox's eBPF programs put on the ring buffer and the
//! values they keep in maps: `#[repr(C)]` plain data that the kernel side
//! (ebpf-probes/kernel, built for bpfel) writes and the loader
//! (ebpf-probes/loader) reads back byte for byte. Both sides compile this
//! one file, so a layout can never disagree between them.
//!
//! Every ring-buffer record starts with a `u32` [`RecordKind`] tag, so one
//! ring carries records of several shapes and sizes; a later "detail" record
//! (decoded strings: mount source/target/fstype, execve argv, a cgroup file
//! and the value written) takes the next tag.
//!
//! With the `user` feature the types implement `aya::Pod`, which is what
//! lets aya copy them out of maps.
#![no_std]

/// The tag at the start of every ring-buffer record.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A [`SyscallRecord`]: one syscall that returned.
    Syscall = 1,
    /// A [`ProcessRecord`] for fork(2)/clone(2) of a followed process.
    Fork = 2,
    /// A [`ProcessRecord`] for a successful execve(2).
    Exec = 3,
    /// A [`ProcessRecord`] for the exit of a followed process.
    Exit = 4,
    /// A [`DetailRecord`]: the strings and structs a container-making
    /// syscall pointed at, sent right before its [`SyscallRecord`].
    Detail = 5,
    /// A [`NamespaceRecord`]: the namespaces a followed process is in.
    Namespaces = 6,
}

impl RecordKind {
    /// The kind a tag read off the ring names, if any.
    pub fn from_tag(tag: u32) -> Option<RecordKind> {
        match tag {
            1 => Some(RecordKind::Syscall),
            2 => Some(RecordKind::Fork),
            3 => Some(RecordKind::Exec),
            4 => Some(RecordKind::Exit),
            5 => Some(RecordKind::Detail),
            6 => Some(RecordKind::Namespaces),
            _ => None,
        }
    }
}

/// One syscall of a followed process, emitted when it returns (raw_syscalls
/// sys_exit). 96 bytes: tracing `dd bs=1` makes millions of these, so the
/// record carries numbers only, never strings.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallRecord {
    /// [`RecordKind::Syscall`].
    pub kind: u32,
    /// The syscall number (x86_64 table, asm/unistd_64.h).
    pub nr: u32,
    /// The thread that made it (the kernel's pid, gettid(2)).
    pub tid: u32,
    /// Its process (the kernel's tgid, getpid(2)).
    pub tgid: u32,
    /// The six argument registers as they were on entry; a syscall with
    /// fewer arguments leaves junk in the rest.
    pub args: [u64; 6],
    /// The return value: negative errno on failure.
    pub ret: i64,
    /// When it was entered: bpf_ktime_get_ns(), which is CLOCK_MONOTONIC.
    pub ts_ns: u64,
    /// From entry to return.
    pub latency_ns: u64,
    /// Always 0 now: reading the cgroup (bpf_get_current_cgroup_id) for
    /// every call cost a helper call each and no reader used it; the
    /// process's fork, exec and exit records carry it. Kept so the layout
    /// stays what fuzz/'s seeds and older readers expect.
    pub cgroup_id: u64,
    /// The session following this process: its owner slot, TRACED[tgid]
    /// (see [`OwnerInfo`]).
    pub owner: u32,
    pub _pad: u32,
}

/// Longest exec filename kept; longer ones are cut (and end in a NUL).
pub const FILENAME_LEN: usize = 128;

/// A change in a followed process tree. `kind` says which fields mean what.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessRecord {
    /// [`RecordKind::Fork`], [`RecordKind::Exec`] or [`RecordKind::Exit`].
    pub kind: u32,
    /// Fork: the new child (its tid, which is its pid when it is a process).
    /// Exec and exit: the process.
    pub pid: u32,
    /// Fork: the parent process (tgid). Exec: 0 (the loader knows the parent
    /// from the fork it saw). Exit: the process itself (tgid).
    pub ppid: u32,
    /// Fork: 1 when the child is a thread (CLONE_THREAD), else 0.
    /// Exit: 1 when [`exit_code`](Self::exit_code) is known (the process
    /// called exit/exit_group; not when a signal killed it).
    pub flags: u32,
    /// Exit: the status passed to exit_group(2)/exit(2).
    pub exit_code: i32,
    /// The owner slot of the session following the process (TRACED[tgid]).
    pub owner: u32,
    /// bpf_ktime_get_ns(): CLOCK_MONOTONIC.
    pub ts_ns: u64,
    /// The cgroup v2 id of the task reporting the change.
    pub cgroup_id: u64,
    /// Exec: the path given to execve, NUL-terminated (cut at
    /// [`FILENAME_LEN`]). Empty otherwise.
    pub filename: [u8; FILENAME_LEN],
}

impl ProcessRecord {
    /// The `flags` bit saying a fork made a thread.
    pub const THREAD: u32 = 1;
    /// The `flags` bit saying an exit's code is known.
    pub const CODE_KNOWN: u32 = 1;
}

/// What sys_enter remembers for sys_exit, per thread: the return carries
/// only the number and the result. `ts_ns == 0` marks an entry already
/// paired with its return (the slot is reused, not deleted). `tid` says
/// whose it is: PENDING_SLOTS is indexed by thread id modulo its size.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingSyscall {
    pub nr: u32,
    pub tid: u32,
    pub args: [u64; 6],
    pub ts_ns: u64,
}

/// Buckets of the latency histogram: bucket i counts calls that took
/// [2^i, 2^(i+1)) ns (bucket 0 also takes 0 ns; the last bucket everything
/// from 2^31 ns ≈ 2 s up).
pub const LATENCY_BUCKETS: usize = 32;

/// Syscall numbers the aggregate table has room for (x86_64 has < 512).
pub const MAX_SYSCALLS: u32 = 512;

/// Aggregate mode: one per syscall number (per CPU), no per-call records.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallStats {
    pub count: u64,
    pub total_ns: u64,
    /// Calls that returned a negative errno.
    pub errors: u64,
    pub histogram: [u64; LATENCY_BUCKETS],
}

impl Default for SyscallStats {
    fn default() -> Self {
        SyscallStats { count: 0, total_ns: 0, errors: 0, histogram: [0; LATENCY_BUCKETS] }
    }
}

/// The log2 bucket of a latency, as the kernel side files it.
#[inline(always)]
pub fn latency_bucket(ns: u64) -> usize {
    if ns == 0 {
        return 0;
    }
    let b = 63 - ns.leading_zeros() as usize;
    if b >= LATENCY_BUCKETS {
        LATENCY_BUCKETS - 1
    } else {
        b
    }
}

/// Owner slots: TRACED[tgid] holds the slot (1..=[`MAX_OWNER`]) of the
/// session following that process (0: not followed); a fork copies the
/// parent's slot to the child, and every record carries it as `owner`. So
/// one loaded set of probes serves several sessions at once (a hub and the
/// runtimes registering with it), and a reader knows whose record it is.
pub const MAX_OWNER: u32 = 255;

/// Longest events-file path an [`OwnerInfo`] holds (NUL-terminated).
pub const OWNER_PATH_LEN: usize = 256;
/// Longest container id an [`OwnerInfo`] holds (NUL-terminated).
pub const OWNER_CONTAINER_LEN: usize = 128;

/// OWNERS[slot]: where a session's kernel events go. Written by the session
/// (the runtime that claimed the slot with BPF_NOEXIST), read by the reader
/// (the hub, or the runtime's own tracer process). The kernel side never
/// reads it; it lives in the object so that it is pinned with the others.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnerInfo {
    /// The process that claimed the slot (the runtime; slot 0: the hub).
    pub pid: u32,
    /// [`OwnerInfo::OPENED`]: the reader has the events file open.
    pub flags: u32,
    /// The events file (`<root>/<id>/events.jsonl`), NUL-terminated.
    pub events_path: [u8; OWNER_PATH_LEN],
    /// The container id, NUL-terminated.
    pub container: [u8; OWNER_CONTAINER_LEN],
}

impl OwnerInfo {
    /// The `flags` bit a reader sets once it holds the events file open, so
    /// the session may let the file be renamed (delete keeps it elsewhere).
    pub const OPENED: u32 = 1;
}

/// Names of the globals the loader sets before loading (aya set_global).
pub mod globals {
    /// u8: 1 = aggregate mode (count into `STATS`, no syscall records).
    pub const AGGREGATE: &str = "AGGREGATE";
    /// u32: offset of `child_pid` in sched_process_fork's tracepoint record,
    /// read by the loader from tracefs (it moved between kernel versions).
    pub const FORK_CHILD_PID_OFFSET: &str = "FORK_CHILD_PID_OFFSET";
    /// u32: offset of the `filename` __data_loc in sched_process_exec's record.
    pub const EXEC_FILENAME_OFFSET: &str = "EXEC_FILENAME_OFFSET";
    /// u64: the ring buffer's size in bytes (RECORDS' max_entries).
    pub const RING_BYTES: &str = "RING_BYTES";
    /// u32: PENDING_SLOTS' size − 1 (a power of two − 1).
    pub const PENDING_MASK: &str = "PENDING_MASK";
}

/// Names of the maps, shared so the loader finds what the kernel declares.
pub mod maps {
    /// Array<u8> indexed by tgid (sized to pid_max): the owner slot, 0 = not followed.
    pub const TRACED: &str = "TRACED";
    /// HashMap<u32 slot, OwnerInfo>: the sessions (slot 0: the hub itself).
    pub const OWNERS: &str = "OWNERS";
    /// PerCpuArray<[u64; 2]>[1]: syscall records sent and the ring's fill
    /// level when last asked, pacing the reader's wakeups.
    pub const SENT: &str = "SENT";
    /// Array<PendingSyscall>, indexed by tid & PENDING_MASK: syscalls
    /// entered, not yet returned (sized by the loader: pid_max rounded up
    /// to a power of two, at most 64 Ki slots).
    pub const PENDING_SLOTS: &str = "PENDING_SLOTS";
    /// HashMap<u32 tid, PendingSyscall>: the same, for a thread whose slot
    /// another thread's call holds (only where pid_max exceeds the slots).
    pub const PENDING: &str = "PENDING";
    /// RingBuf: the records.
    pub const RECORDS: &str = "RECORDS";
    /// PerCpuArray<u64>[1]: records the ring buffer had no room for.
    pub const LOST: &str = "LOST";
    /// PerCpuArray<SyscallStats>[MAX_SYSCALLS]: aggregate mode's counts.
    pub const STATS: &str = "STATS";
}

/// aya copies a `Pod` value to and from map memory as bytes: every bit
/// pattern must be a valid value, and no byte may be padding (it would be
/// read uninitialised). Each type below is `#[repr(C)]` and made of
/// integers and arrays of integers only (any bits are a valid integer), and
/// `tests::layouts_have_no_hidden_padding` pins each size to the sum
/// of its fields' sizes (no padding; `_pad` fields are spelled out).
#[cfg(feature = "user")]
mod pod {
    // SAFETY: u32 and u64 fields, an explicit `_pad`; 104 bytes, pinned (see above).
    unsafe impl aya::Pod for super::SyscallRecord {}
    // SAFETY: u32/i32 fields, then u64s, then a byte array; size pinned (see above).
    unsafe impl aya::Pod for super::ProcessRecord {}
    // SAFETY: u64 fields and a u64 array; 64 bytes, pinned (see above).
    unsafe impl aya::Pod for super::PendingSyscall {}
    // SAFETY: u64 fields and a u64 array only: nothing to pad (see above).
    unsafe impl aya::Pod for super::SyscallStats {}
    // SAFETY: two u32s, then byte arrays; size pinned (see above).
    unsafe impl aya::Pod for super::OwnerInfo {}
}

// ---------------------------------------------------------------------------
// Detail and namespace records (issue 5): what a container-making syscall
// pointed at, and which namespaces each followed process is in.
// ---------------------------------------------------------------------------

/// Bytes of each string field of a [`DetailRecord`].
pub const DETAIL_STR_LEN: usize = 256;

/// Most argv strings an execve detail keeps.
pub const DETAIL_MAX_ARGS: usize = 8;

/// The user memory a container-making syscall pointed at, read at sys_enter
/// (while the pointers are valid) and sent at sys_exit right before the
/// call's [`SyscallRecord`], which has the same `tid` and `ts_ns`. Which
/// field means what depends on `nr`; the loader's decoder says it per
/// syscall (ebpf-probes/README.md has the table). 832 bytes, sent only for
/// the dozen syscalls that build a container, never for read/write traffic.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetailRecord {
    /// [`RecordKind::Detail`].
    pub kind: u32,
    pub nr: u32,
    pub tid: u32,
    pub tgid: u32,
    /// The entry time of the call: equal to its SyscallRecord's `ts_ns`.
    pub ts_ns: u64,
    /// Whose trace this is: the TRACED value of the tgid.
    pub owner: u32,
    /// execve/execveat: argv strings read into `strs[1..]`; write: bytes of
    /// the buffer copied into `strs[1]`.
    pub count: u32,
    /// Numbers read from user memory: clone3 `clone_args.flags`; capset
    /// effective, permitted, inheritable (64-bit masks) and the header's
    /// version; write: the count asked for.
    pub nums: [u64; 4],
    /// NUL-terminated strings. execve packs argv NUL-separated from
    /// `strs[1]` on, running on into `strs[2]` (512 bytes together).
    pub strs: [[u8; DETAIL_STR_LEN]; 3],
}

/// Namespace kinds, in the order of [`NamespaceRecord::inums`].
pub mod ns {
    pub const MNT: usize = 0;
    /// The pid namespace the process itself is in (task_active_pid_ns).
    pub const PID: usize = 1;
    /// nsproxy->pid_ns_for_children: where its next children go; differs
    /// from PID after unshare(CLONE_NEWPID).
    pub const PID_FOR_CHILDREN: usize = 2;
    pub const NET: usize = 3;
    pub const UTS: usize = 4;
    pub const IPC: usize = 5;
    pub const USER: usize = 6;
    pub const CGROUP: usize = 7;
    pub const COUNT: usize = 8;
    /// Names as /proc/PID/ns/ spells them.
    pub const NAMES: [&str; COUNT] = ["mnt", "pid", "pid_for_children", "net", "uts", "ipc", "user", "cgroup"];
}

/// Why a [`NamespaceRecord`] was sent.
pub mod ns_why {
    /// A followed process forked a process (the child's namespaces).
    pub const FORK: u32 = 1;
    /// A successful execve/execveat.
    pub const EXEC: u32 = 2;
    /// A successful unshare(2).
    pub const UNSHARE: u32 = 3;
    /// A successful setns(2).
    pub const SETNS: u32 = 4;
}

/// The namespaces of one followed process: the inode numbers
/// `readlink /proc/PID/ns/*` shows. 0 in a slot means it could not be read.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamespaceRecord {
    /// [`RecordKind::Namespaces`].
    pub kind: u32,
    /// The process (tgid).
    pub pid: u32,
    /// The thread whose task was read (the child's tid for a fork).
    pub tid: u32,
    /// One of [`ns_why`].
    pub why: u32,
    pub ts_ns: u64,
    /// The TRACED value of the tgid (for a fork: the parent's).
    pub owner: u32,
    pub _pad: u32,
    /// bpf_get_current_cgroup_id (for a fork: the parent's cgroup, which
    /// the child starts in).
    pub cgroup_id: u64,
    /// Inode numbers, indexed by [`ns`].
    pub inums: [u32; ns::COUNT],
}

/// Byte offsets into kernel structs, computed by the loader from the
/// kernel's BTF (/sys/kernel/btf/vmlinux) and set as the global
/// `TASK_OFFSETS`: no CO-RE, no offsets compiled in. `available == 0`
/// (no BTF) turns namespace records off.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskOffsets {
    pub available: u32,
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_nsproxy: u32,
    pub task_cred: u32,
    pub task_thread_pid: u32,
    pub nsproxy_mnt: u32,
    pub nsproxy_pid_for_children: u32,
    pub nsproxy_net: u32,
    pub nsproxy_uts: u32,
    pub nsproxy_ipc: u32,
    pub nsproxy_cgroup: u32,
    pub cred_user_ns: u32,
    /// Offset of the `struct ns_common ns` member in each namespace struct.
    pub mnt_ns_common: u32,
    pub pid_ns_common: u32,
    pub net_ns_common: u32,
    pub uts_ns_common: u32,
    pub ipc_ns_common: u32,
    pub user_ns_common: u32,
    pub cgroup_ns_common: u32,
    pub ns_common_inum: u32,
    /// struct pid: `level`, `numbers[]`, and struct upid's size and `ns`.
    pub pid_level: u32,
    pub pid_numbers: u32,
    pub upid_size_ns: u32,
}

impl TaskOffsets {
    /// `upid_size_ns` packs sizeof(struct upid) (high 16 bits) and the
    /// offset of upid.ns (low 16 bits).
    pub fn upid(&self) -> (u32, u32) {
        (self.upid_size_ns >> 16, self.upid_size_ns & 0xffff)
    }
}

/// Names of the detail/namespace globals and maps.
pub mod detail_names {
    /// Global [`super::TaskOffsets`].
    pub const TASK_OFFSETS: &str = "TASK_OFFSETS";
    /// LruHashMap<u32 tid, DetailRecord>: details read at sys_enter.
    pub const DETAILS: &str = "DETAILS";
    /// PerCpuArray<DetailRecord>[1]: where a detail is built before it is
    /// stored (too big for the 512-byte BPF stack).
    pub const DETAIL_SCRATCH: &str = "DETAIL_SCRATCH";
    /// LruHashMap<u64 (tgid << 32 | fd), [u8; 256]>: cgroup files open.
    pub const CGROUP_FDS: &str = "CGROUP_FDS";
    /// Array<u32>[1]: cgroup fds ever remembered; 0 lets write(2) skip the
    /// CGROUP_FDS lookup (the dd bs=1 path).
    pub const CGROUP_FDS_USED: &str = "CGROUP_FDS_USED";
    /// The raw tracepoint program reporting a forked child's namespaces.
    pub const NS_FORK_PROGRAM: &str = "ns_fork";
}

/// As [`pod`]: `#[repr(C)]` integers and arrays of them, sizes pinned.
#[cfg(feature = "user")]
mod detail_pod {
    // SAFETY: u32 and u64 fields, a u64 array, byte arrays; size pinned (see `pod`).
    unsafe impl aya::Pod for super::DetailRecord {}
    // SAFETY: u32 and u64 fields, an explicit `_pad`, a u32 array; 72 bytes, pinned.
    unsafe impl aya::Pod for super::NamespaceRecord {}
    // SAFETY: 24 u32 fields; 96 bytes, pinned.
    unsafe impl aya::Pod for super::TaskOffsets {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_have_no_hidden_padding() {
        assert_eq!(core::mem::size_of::<SyscallRecord>(), 104);
        assert_eq!(core::mem::size_of::<OwnerInfo>(), 8 + OWNER_PATH_LEN + OWNER_CONTAINER_LEN);
        assert_eq!(core::mem::size_of::<ProcessRecord>(), 40 + FILENAME_LEN);
        assert_eq!(core::mem::size_of::<PendingSyscall>(), 64);
        assert_eq!(core::mem::size_of::<DetailRecord>(), 64 + 3 * DETAIL_STR_LEN);
        assert_eq!(core::mem::size_of::<NamespaceRecord>(), 72);
        assert_eq!(core::mem::size_of::<TaskOffsets>(), 4 * 24);
    }

    #[test]
    fn buckets_are_log2() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1), 0);
        assert_eq!(latency_bucket(1023), 9);
        assert_eq!(latency_bucket(1024), 10);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
    }
}
