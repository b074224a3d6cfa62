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
//! entry and one on return, and nothing else: the clock is read only once
//! a call is known to be followed.
//!
//! What a followed call pays is kept to the fewest helper calls (each is a
//! real call, and on a kernel with retpolines and return thunks, as here,
//! that is most of the cost): the argument registers are copied only when
//! something will read them (a record, or, in aggregate mode, the clone
//! and exit calls process.rs looks into), the ring's size is a constant the
//! loader sets rather than asked of the ring, and a syscall record does not
//! carry the cgroup (process records do).
//! The per-thread entry (maps::PENDING_SLOTS, an array) is written in
//! place and marked consumed (ts_ns = 0) rather than inserted and deleted
//! each time.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::bpf_probe_read_kernel,
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use glassbox_probes_common::{latency_bucket, PendingSyscall, RecordKind, SyscallRecord, MAX_SYSCALLS};

use crate::maps::{
    aggregate, count_lost, counts_only, current_ids, now_ns, owner_of, pending_for_enter, pending_of, ring_bytes,
    RECORDS, SENT, STATS,
};
use crate::process::{NR_CLONE, NR_CLONE3, NR_EXIT, NR_EXIT_GROUP, NR_FORK, NR_VFORK};

/// x86_64 `struct pt_regs` from `r10` to `di`, 8 bytes a register, in the
/// order the kernel saves them (arch/x86/include/asm/ptrace.h: r15 r14 r13
/// r12 bp bx, then these: r11 r10 r9 r8 ax cx dx si di); the six argument
/// registers are all in this stretch, so only it is copied.
type ArgRegs = [u64; 9];
/// Where the stretch starts in `struct pt_regs`, in registers.
const ARG_REGS_FROM: usize = 6;
/// The syscall argument registers in the stretch, in argument order: di si dx r10 r8 r9.
const ARG_REGS: [usize; 6] = [8, 7, 6, 1, 3, 2];

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    let (tid, tgid) = current_ids();
    if owner_of(tgid) == 0 {
        return 0;
    }
    let nr: u64 = ctx.arg(1);
    // fork and vfork too: their entry replaces a clone's from earlier, which,
    // never consumed in counts-only mode, would else say "thread" at the fork.
    let process_reads = matches!(nr, NR_CLONE | NR_FORK | NR_VFORK | NR_CLONE3 | NR_EXIT | NR_EXIT_GROUP);
    if counts_only() {
        // No return to wait for: count the call now, and remember only
        // what process.rs reads (clone's flags, exit's status).
        count_call(nr);
        if !process_reads {
            return 0;
        }
    }
    // Aggregate mode only counts: the arguments matter to process.rs alone
    // (clone's flags, exit's status), so the copy is skipped for the rest.
    let args = match aggregate() && !process_reads {
        true => [0; 6],
        false => {
            let regs = ctx.arg::<*const u64>(0).wrapping_add(ARG_REGS_FROM) as *const ArgRegs;
            // SAFETY: the helper copies from any address without faulting (a
            // bad one is an error) into a value of ours; [u64; 9] takes any bits.
            let r = unsafe { bpf_probe_read_kernel(regs) }.unwrap_or([0; 9]);
            [r[ARG_REGS[0]], r[ARG_REGS[1]], r[ARG_REGS[2]], r[ARG_REGS[3]], r[ARG_REGS[4]], r[ARG_REGS[5]]]
        }
    };
    let ts_ns = now_ns();
    let pending = PendingSyscall { nr: nr as u32, tid, args, ts_ns };
    if let Some(slot) = pending_for_enter(tid) {
        // SAFETY: the entry is this thread's (its own slot, a free one, or
        // its hash entry): only programs running on this thread, one at a
        // time, write it; map memory stays valid until the program ends.
        unsafe { *slot = pending };
    }
    if crate::detail::wants(nr) && !aggregate() {
        crate::detail::capture(tid, tgid, nr, &args, ts_ns);
    }
    0
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    let (tid, tgid) = current_ids();
    let owner = owner_of(tgid);
    if owner == 0 {
        return 0;
    }
    let now = now_ns();
    let Some(slot) = pending_of(tid) else {
        return 0;
    };
    // SAFETY: this thread's own entry, valid until the program ends (as in
    // sys_enter); a copy of plain integers.
    let pending = unsafe { *slot };
    // SAFETY: the same entry, ours alone to write (tagged with this thread).
    unsafe { (*slot).ts_ns = 0 };
    let nr = pending.nr as u64;
    let latency_ns = now.saturating_sub(pending.ts_ns);
    let ret: i64 = ctx.arg(1);
    if aggregate() {
        count(nr, latency_ns, ret);
        return 0;
    }
    crate::detail::track_fd(tid, tgid, nr, pending.args[0], pending.ts_ns, ret);
    // Syscall records may fill the ring only to three quarters: the rest is
    // kept for fork/exec/exit records, rarer and needed to follow the tree.
    // How full it is is asked of the ring every 16th record on this CPU
    // (a helper call) and remembered in between: a few records more may
    // land past the mark, in the quarter kept free.
    let (sent, waiting) = pace();
    let size = ring_bytes();
    if waiting >= size / 4 * 3 {
        count_lost();
        return 0;
    }
    if crate::detail::wants(nr) {
        crate::detail::emit(tid, nr, pending.ts_ns);
    }
    let Some(mut entry) = RECORDS.reserve::<SyscallRecord>(0) else {
        count_lost();
        return 0;
    };
    entry.write(SyscallRecord {
        kind: RecordKind::Syscall as u32,
        nr: nr as u32,
        tid,
        tgid,
        args: pending.args,
        ret,
        ts_ns: pending.ts_ns,
        latency_ns,
        cgroup_id: 0,
        owner: owner as u32,
        _pad: 0,
    });
    // Waking the reader for every syscall record costs more than making
    // the record (an irq_work and a context switch each time the reader has
    // caught up), so syscall records wake it only once the ring is half
    // full, and then every 64th record; otherwise the reader's poll timeout
    // (20 ms, a few MB at the fastest rate seen) collects them. Not sooner:
    // a reader busy with what it already has needs no wakeup, and each one
    // is an inter-processor interrupt (a trapped MSR write in a VM), which
    // at an eighth full cost a traced `dd bs=1` 7% (perf, bench/trace.sh).
    // Fork, exec and exit records still wake it at once (process.rs).
    let wake = if waiting >= size / 2 && sent.is_multiple_of(64) { BPF_RB_FORCE_WAKEUP } else { BPF_RB_NO_WAKEUP };
    entry.submit(wake as u64);
    crate::namespaces::after_syscall(tid, tgid, nr, ret);
    0
}

/// Counts one more syscall record on this CPU; returns the count and how
/// many bytes wait in the ring, asked of it when the count is a multiple
/// of 16 (and so at every 64th, when the wakeup is decided) and the
/// remembered figure otherwise.
#[inline(always)]
fn pace() -> (u64, u64) {
    match SENT.get_ptr_mut(0) {
        // SAFETY: this CPU's element, as in maps::count_lost: valid, and
        // only another program preempted on this CPU could race it (a
        // wakeup paced or a fill level read a little off, nothing worse).
        Some(p) => unsafe {
            let [sent, waiting] = &mut *p;
            *sent += 1;
            if sent.is_multiple_of(16) {
                *waiting = RECORDS.query(BPF_RB_AVAIL_DATA as u64);
            }
            (*sent, *waiting)
        },
        None => (0, RECORDS.query(BPF_RB_AVAIL_DATA as u64)),
    }
}

/// Counts-only mode: one more call of `nr`, at its entry.
#[inline(always)]
fn count_call(nr: u64) {
    if nr >= MAX_SYSCALLS as u64 {
        return;
    }
    if let Some(stats) = STATS.get_ptr_mut(nr as u32) {
        // SAFETY: this CPU's element of STATS, as in `count`.
        unsafe { (*stats).count += 1 };
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
