//! The maps and globals the programs share with the loader (names in
//! glassbox_probes_common::maps / ::globals). Sizes here are defaults: the
//! loader sets the ring buffer's with EbpfLoader::set_max_entries.

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, bpf_ktime_get_ns},
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
};
use glassbox_probes_common::{OwnerInfo, PendingSyscall, SyscallStats, MAX_OWNER, MAX_SYSCALLS};

/// The followed processes: TRACED[tgid] = the owner slot of the session
/// following it (0: none). An array indexed by pid, not
/// a hash, because it is asked on every syscall of every process on the
/// machine, and the kernel inlines an array lookup into a bounds check and
/// an address computation. The loader sizes it to pid_max (at most 4 Mi
/// entries, 4 MiB).
#[map]
pub static TRACED: Array<u8> = Array::with_max_entries(1 << 22, 0);

/// The sessions, by owner slot: where their events go. Only user space
/// reads and writes it (sessions claim a slot with BPF_NOEXIST); it is here
/// so that a hub pins it with TRACED for runtimes to register through.
#[map]
pub static OWNERS: HashMap<u32, OwnerInfo> = HashMap::with_max_entries(MAX_OWNER + 1, 0);

/// Syscalls entered and not yet returned: PENDING_SLOTS[tid & PENDING_MASK],
/// each entry tagged with its thread. An array, like TRACED, because it is
/// written on every followed syscall's entry and read on its return: the
/// lookup is a bounds check and an address, where a hash map's is a helper
/// call that hashes the key and walks a bucket (measured here, that was
/// most of what a followed sys_enter cost). The loader sizes it to pid_max
/// rounded up to a power of two, so every thread has a slot of its own —
/// up to 64 Ki slots (4 MiB); where pid_max is larger, a thread whose slot
/// another thread's unfinished call holds goes to [`PENDING`] instead.
#[map]
pub static PENDING_SLOTS: Array<PendingSyscall> = Array::with_max_entries(1 << 16, 0);

/// The overflow of [`PENDING_SLOTS`], by thread id.
#[map]
pub static PENDING: HashMap<u32, PendingSyscall> = HashMap::with_max_entries(4096, 0);

/// The records, for the loader to read.
#[map]
pub static RECORDS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);

/// Records the ring buffer had no room for (per CPU; the loader sums them).
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Per CPU: [syscall records sent, bytes waiting in the ring when last
/// asked]. Paces the reader's wakeups and how often the ring is asked.
#[map]
pub static SENT: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(1, 0);

/// Aggregate mode: per syscall number.
#[map]
pub static STATS: PerCpuArray<SyscallStats> = PerCpuArray::with_max_entries(MAX_SYSCALLS, 0);

// Globals the loader sets before loading (aya's EbpfLoader::set_global).
// They live in .rodata, so the verifier sees them as constants and prunes
// the mode that is off.

/// 1: count syscalls into STATS (with latencies, at sys_exit) instead of
/// emitting records; 2: count them at sys_enter only (the loader attaches
/// no sys_exit program then).
#[unsafe(no_mangle)]
static AGGREGATE: u8 = 0;
/// Where sched_process_fork keeps `child_pid` (from its tracefs format).
#[unsafe(no_mangle)]
static FORK_CHILD_PID_OFFSET: u32 = 20;
/// Where sched_process_exec keeps the `filename` __data_loc.
#[unsafe(no_mangle)]
static EXEC_FILENAME_OFFSET: u32 = 8;
/// The ring buffer's size in bytes, as the loader made it: a constant to
/// the verifier, where asking the ring (BPF_RB_RING_SIZE) is a helper call
/// on every syscall record.
#[unsafe(no_mangle)]
static RING_BYTES: u64 = 1 << 20;
/// PENDING_SLOTS' size − 1, as the loader made it.
#[unsafe(no_mangle)]
static PENDING_MASK: u32 = (1 << 16) - 1;

#[inline(always)]
fn global<T: Copy>(g: &T) -> T {
    // A plain read would be folded to the compile-time value; the loader
    // rewrites the bytes, so read them.
    // SAFETY: `g` is a reference, so valid and aligned for a read of T.
    unsafe { core::ptr::read_volatile(g) }
}

/// CLOCK_MONOTONIC in nanoseconds, the clock the runtime's events use.
#[inline(always)]
pub fn now_ns() -> u64 {
    // SAFETY: a helper that takes nothing and returns a number.
    unsafe { bpf_ktime_get_ns() }
}

/// The cgroup (v2) the calling task is in, by its id.
#[inline(always)]
pub fn cgroup_id() -> u64 {
    // SAFETY: a helper that takes nothing and returns a number.
    unsafe { bpf_get_current_cgroup_id() }
}

pub fn aggregate() -> bool {
    global(&AGGREGATE) != 0
}

pub fn counts_only() -> bool {
    global(&AGGREGATE) == 2
}

pub fn ring_bytes() -> u64 {
    global(&RING_BYTES)
}

pub fn fork_child_pid_offset() -> usize {
    global(&FORK_CHILD_PID_OFFSET) as usize
}

pub fn exec_filename_offset() -> usize {
    global(&EXEC_FILENAME_OFFSET) as usize
}

/// The calling task's (tid, tgid).
#[inline(always)]
pub fn current_ids() -> (u32, u32) {
    let id = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    (id as u32, (id >> 32) as u32)
}

/// The owner slot following `tgid`; 0 when none does.
#[inline(always)]
pub fn owner_of(tgid: u32) -> u8 {
    TRACED.get(tgid).copied().unwrap_or(0)
}

/// Marks `tgid` followed by session `on` (its owner slot), or not (0).
#[inline(always)]
pub fn set_traced(tgid: u32, on: u8) {
    if let Some(slot) = TRACED.get_ptr_mut(tgid) {
        // SAFETY: an array element lives as long as the map, and the lookup
        // checked the index. Each element is one process's: its parent's
        // fork sets it before the child runs, its own exit clears it, so no
        // two programs store into one element at once.
        unsafe { *slot = on };
    }
}

/// Where sys_enter writes `tid`'s call: its slot, unless another thread's
/// unfinished call holds it, then its entry in the overflow hash.
#[inline(always)]
pub fn pending_for_enter(tid: u32) -> Option<*mut PendingSyscall> {
    let slot = PENDING_SLOTS.get_ptr_mut(tid & global(&PENDING_MASK))?;
    // SAFETY: an array element lives as long as the map and the lookup
    // checked the index; plain integers are read. Another thread sharing
    // the slot (only where pid_max exceeds the slots) could be writing it
    // on another CPU: then the tid read may be either's, and either way
    // this call goes to the hash or overwrites an entry that is already
    // consumed, never out of the element.
    let free = unsafe { (*slot).ts_ns == 0 || (*slot).tid == tid };
    if free {
        return Some(slot);
    }
    if let Some(p) = PENDING.get_ptr_mut(tid) {
        return Some(p);
    }
    let _ = PENDING.insert(tid, PendingSyscall::default(), 0);
    PENDING.get_ptr_mut(tid)
}

/// `tid`'s unfinished call, wherever sys_enter put it.
#[inline(always)]
pub fn pending_of(tid: u32) -> Option<*mut PendingSyscall> {
    if let Some(slot) = PENDING_SLOTS.get_ptr_mut(tid & global(&PENDING_MASK)) {
        // SAFETY: as in pending_for_enter: an element of the map, integers read.
        if unsafe { (*slot).tid == tid && (*slot).ts_ns != 0 } {
            return Some(slot);
        }
    }
    // SAFETY: a hash element stays valid memory until the program ends (RCU).
    PENDING.get_ptr_mut(tid).filter(|p| unsafe { (**p).ts_ns } != 0)
}

/// Forgets `tid`'s unfinished call (the thread exits inside it: exit, exit_group, a signal).
#[inline(always)]
pub fn forget_pending(tid: u32) {
    if let Some(slot) = PENDING_SLOTS.get_ptr_mut(tid & global(&PENDING_MASK)) {
        // SAFETY: as in pending_for_enter; the slot is only marked free if it is this thread's.
        unsafe {
            if (*slot).tid == tid {
                (*slot).ts_ns = 0;
            }
        }
    }
    let _ = PENDING.remove(tid);
}

/// Counts a record that found the ring buffer full: never lost silently.
#[inline(always)]
pub fn count_lost() {
    if let Some(n) = LOST.get_ptr_mut(0) {
        // SAFETY: this CPU's element of a per-CPU array: valid for the map's
        // life, and no other CPU's program touches it. A program preempted
        // on this CPU (preemptible RCU only disables migration) could have
        // its increment overwritten: a count lost, no memory touched amiss.
        unsafe { *n += 1 };
    }
}
