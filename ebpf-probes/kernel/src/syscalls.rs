//! Every syscall of a followed process: `raw_syscalls:sys_enter` remembers
//! the number, arguments and time per thread; `raw_syscalls:sys_exit` pairs
//! them with the result and either emits a SyscallRecord or, in aggregate
//! mode, counts it into STATS with a log2 latency histogram. These two
//! tracepoints fire for every syscall on the machine, so an untraced
//! process costs one hash lookup on entry and one on return.

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, bpf_ktime_get_ns},
    macros::tracepoint,
    programs::TracePointContext,
};
use glassbox_probes_common::{latency_bucket, PendingSyscall, RecordKind, SyscallRecord, MAX_SYSCALLS};

use crate::maps::{aggregate, count_lost, current_ids, is_traced, PENDING, RECORDS, STATS};

// raw_syscalls/sys_enter: `long id` at 8, `unsigned long args[6]` at 16;
// sys_exit: `long id` at 8, `long ret` at 16 (tracefs events/raw_syscalls/*/format,
// unchanged since the tracepoints were added).
const ID: usize = 8;
const ARGS: usize = 16;
const RET: usize = 16;

#[tracepoint]
pub fn sys_enter(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current_ids();
    if !is_traced(tgid) {
        return 0;
    }
    let nr: u64 = unsafe { ctx.read_at(ID) }.unwrap_or(u64::MAX);
    let args: [u64; 6] = unsafe { ctx.read_at(ARGS) }.unwrap_or([0; 6]);
    let pending = PendingSyscall { nr, args, ts_ns: unsafe { bpf_ktime_get_ns() } };
    let _ = PENDING.insert(&tid, &pending, 0);
    0
}

#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current_ids();
    // Only threads whose entry was seen have a pending entry: the cheap
    // filter for every untraced process.
    let Some(pending) = (unsafe { PENDING.get(&tid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(&tid);
    let now = unsafe { bpf_ktime_get_ns() };
    let latency_ns = now.saturating_sub(pending.ts_ns);
    let ret: i64 = unsafe { ctx.read_at(RET) }.unwrap_or(0);
    if aggregate() {
        count(pending.nr, latency_ns, ret);
        return 0;
    }
    match RECORDS.reserve::<SyscallRecord>(0) {
        Some(mut entry) => {
            entry.write(SyscallRecord {
                kind: RecordKind::Syscall as u32,
                nr: pending.nr as u32,
                tid,
                tgid,
                args: pending.args,
                ret,
                ts_ns: pending.ts_ns,
                latency_ns,
                cgroup_id: unsafe { bpf_get_current_cgroup_id() },
            });
            entry.submit(0);
        }
        None => count_lost(),
    }
    0
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
