//! Every syscall of a followed process: `sys_enter` remembers the number,
//! arguments and time per thread; `sys_exit` pairs them with the result and
//! either emits a SyscallRecord or, in aggregate mode, counts it into STATS
//! with a log2 latency histogram.
//!
//! These hooks fire for every syscall on the machine, so they are *raw*
//! tracepoints (BPF_PROG_TYPE_RAW_TRACEPOINT): the program gets the
//! tracepoint's C arguments (`struct pt_regs *regs, long id` on entry,
//! `regs, long ret` on return) without the kernel first formatting a
//! trace record. An untraced process costs one array lookup (TRACED) on
//! entry and one on return.
//! The per-thread entry in PENDING is written in place and marked consumed
//! (ts_ns = 0) rather than inserted and deleted each time: a hash update
//! allocates, a write through the looked-up pointer does not.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, BPF_RB_RING_SIZE},
    helpers::bpf_probe_read_kernel,
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use glassbox_probes_common::{latency_bucket, PendingSyscall, RecordKind, SyscallRecord, MAX_SYSCALLS};

use crate::maps::{aggregate, cgroup_id, count_lost, current_ids, now_ns, owner_of, PENDING, RECORDS, SENT, STATS};

/// x86_64 `struct pt_regs` up to `di`, 8 bytes a register, in the order the
/// kernel saves them (arch/x86/include/asm/ptrace.h): r15 r14 r13 r12 bp bx
/// r11 r10 r9 r8 ax cx dx si di.
type Regs = [u64; 15];
/// The syscall argument registers, in argument order: di si dx r10 r8 r9.
const ARG_REGS: [usize; 6] = [14, 13, 12, 7, 9, 8];

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    let (tid, tgid) = current_ids();
    if owner_of(tgid) == 0 {
        return 0;
    }
    let regs: *const Regs = ctx.arg(0);
    let nr: u64 = ctx.arg(1);
    // SAFETY: the helper copies from any address without faulting (a bad
    // one is an error) into a value of ours; [u64; 15] takes any bits.
    let r = unsafe { bpf_probe_read_kernel(regs) }.unwrap_or([0; 15]);
    let args = [r[ARG_REGS[0]], r[ARG_REGS[1]], r[ARG_REGS[2]], r[ARG_REGS[3]], r[ARG_REGS[4]], r[ARG_REGS[5]]];
    let ts_ns = now_ns();
    let pending = PendingSyscall { nr, args, ts_ns };
    match PENDING.get_ptr_mut(tid) {
        // SAFETY: the entry is this thread's (keyed by its id): only programs
        // running on this thread, one at a time, read or write it; and a
        // hash map's element stays valid memory until the program ends
        // (RCU), even if deleted meanwhile.
        Some(slot) => unsafe { *slot = pending },
        None => {
            let _ = PENDING.insert(tid, pending, 0);
        }
    }
    if crate::detail::wants(nr) && !aggregate() {
        crate::detail::capture(tid, tgid, nr, &args, ts_ns);
    }
    0
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    let now = now_ns();
    let (tid, tgid) = current_ids();
    let owner = owner_of(tgid);
    if owner == 0 {
        return 0;
    }
    let Some(slot) = PENDING.get_ptr_mut(tid) else {
        return 0;
    };
    // SAFETY: this thread's own entry, valid until the program ends (as in
    // sys_enter); a copy of plain integers.
    let pending = unsafe { *slot };
    if pending.ts_ns == 0 {
        return 0;
    }
    // SAFETY: the same entry, ours alone to write (keyed by this thread).
    unsafe { (*slot).ts_ns = 0 };
    let latency_ns = now.saturating_sub(pending.ts_ns);
    let ret: i64 = ctx.arg(1);
    if aggregate() {
        count(pending.nr, latency_ns, ret);
        return 0;
    }
    crate::detail::track_fd(tid, tgid, pending.nr, pending.args[0], pending.ts_ns, ret);
    // Syscall records may fill the ring only to three quarters: the rest is
    // kept for fork/exec/exit records, rarer and needed to follow the tree.
    let waiting = RECORDS.query(BPF_RB_AVAIL_DATA as u64);
    let size = RECORDS.query(BPF_RB_RING_SIZE as u64);
    if waiting >= size / 4 * 3 {
        count_lost();
        return 0;
    }
    if crate::detail::wants(pending.nr) {
        crate::detail::emit(tid, pending.nr, pending.ts_ns);
    }
    let Some(mut entry) = RECORDS.reserve::<SyscallRecord>(0) else {
        count_lost();
        return 0;
    };
    entry.write(SyscallRecord {
        kind: RecordKind::Syscall as u32,
        nr: pending.nr as u32,
        tid,
        tgid,
        args: pending.args,
        ret,
        ts_ns: pending.ts_ns,
        latency_ns,
        cgroup_id: cgroup_id(),
        owner: owner as u32,
        _pad: 0,
    });
    // Waking the reader for every syscall record costs more than making
    // the record (an irq_work and a context switch each time the reader has
    // caught up), so syscall records wake it only once the ring is an
    // eighth full, and then every 64th record; otherwise the reader's poll
    // timeout collects them. Fork, exec and exit records still wake it at
    // once (process.rs).
    let wake =
        if waiting >= size / 8 && sent_count().is_multiple_of(64) { BPF_RB_FORCE_WAKEUP } else { BPF_RB_NO_WAKEUP };
    entry.submit(wake as u64);
    crate::namespaces::after_syscall(tid, tgid, pending.nr, ret);
    0
}

/// Counts one more syscall record sent from this CPU; returns the count.
#[inline(always)]
fn sent_count() -> u64 {
    match SENT.get_ptr_mut(0) {
        // SAFETY: this CPU's element, as in maps::count_lost: valid, and
        // only another program preempted on this CPU could race it (a
        // wakeup paced a little off, nothing worse).
        Some(n) => unsafe {
            *n += 1;
            *n
        },
        None => 0,
    }
}

/// Aggregate mode: one more call of `nr` that took `latency_ns`.
#[inline(always)]
fn count(nr: u64, latency_ns: u64, ret: i64) {
    if nr >= MAX_SYSCALLS as u64 {
        return;
    }
    let Some(stats) = STATS.get_ptr_mut(nr as u32) else {
        return;
    };
    // SAFETY: this CPU's element of STATS, valid for the map's life; no other
    // CPU's program touches it, and one preempted on this CPU could only
    // lose the other's counts (see maps::count_lost), never reach memory
    // outside the element.
    let stats = unsafe { &mut *stats };
    stats.count += 1;
    stats.total_ns += latency_ns;
    if ret < 0 {
        stats.errors += 1;
    }
    if let Some(bucket) = stats.histogram.get_mut(latency_bucket(latency_ns)) {
        *bucket += 1;
    }
}
