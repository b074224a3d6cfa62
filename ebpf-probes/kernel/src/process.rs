//! The followed process tree: `sched:sched_process_fork` adds a traced
//! parent's child to TRACED (so the tree is followed in the kernel, with no
//! race against the child's first syscall), `sched:sched_process_exec`
//! reports the new program, `sched:sched_process_exit` reports the exit and
//! forgets the process. See sched(7) and the tracefs formats under
//! events/sched/.

use aya_ebpf::{
    bindings::BPF_RB_FORCE_WAKEUP,
    helpers::{bpf_probe_read_kernel_str_bytes, bpf_probe_read_user},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext,
};
use glassbox_probes_common::{ProcessRecord, RecordKind, FILENAME_LEN};

use crate::maps::{
    cgroup_id, count_lost, current_ids, exec_filename_offset, forget_pending, fork_child_pid_offset, now_ns, owner_of,
    pending_of, set_traced, RECORDS,
};

const CLONE_THREAD: u64 = 0x0001_0000;
pub const NR_CLONE: u64 = 56;
pub const NR_FORK: u64 = 57;
pub const NR_VFORK: u64 = 58;
pub const NR_EXIT: u64 = 60;
pub const NR_EXIT_GROUP: u64 = 231;
pub const NR_CLONE3: u64 = 435;

/// Runs in the parent, inside its clone/fork syscall.
#[tracepoint]
pub fn sched_process_fork(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current_ids();
    let owner = owner_of(tgid);
    if owner == 0 {
        return 0;
    }
    // SAFETY: read_at reads through bpf_probe_read_kernel (no fault on any
    // address) at an offset tracefs gave for this tracepoint's record.
    let Ok(child) = (unsafe { ctx.read_at::<u32>(fork_child_pid_offset()) }) else {
        return 0;
    };
    let thread = made_a_thread(tid);
    if !thread {
        // A thread shares its tgid, which is traced already; a process
        // joins its parent's session.
        set_traced(child, owner);
    }
    emit(owner, RecordKind::Fork, child, tgid, if thread { ProcessRecord::THREAD } else { 0 }, 0, None);
    0
}

/// Whether the clone in progress on `tid` makes a thread: its flags are in
/// the pending sys_enter (clone's first argument; clone3's struct clone_args
/// in user memory starts with them).
#[inline(always)]
fn made_a_thread(tid: u32) -> bool {
    // SAFETY: the entry of the thread running this program, which only
    // programs on this thread write (and not while this one runs); map
    // memory stays valid until the program ends. A copy of plain integers.
    let Some(p) = pending_of(tid).map(|p| unsafe { *p }) else {
        return false;
    };
    let flags = match p.nr as u64 {
        NR_CLONE => p.args[0],
        // SAFETY: copies from any user address without faulting (a bad one
        // is an error) into a u64 of ours.
        NR_CLONE3 => unsafe { bpf_probe_read_user(p.args[0] as *const u64) }.unwrap_or(0),
        _ => 0,
    };
    flags & CLONE_THREAD != 0
}

/// Runs in the process after a successful execve, before it returns.
#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    let (_, tgid) = current_ids();
    let owner = owner_of(tgid);
    if owner == 0 {
        return 0;
    }
    // SAFETY: as in sched_process_fork: a fault-proof read at tracefs's offset.
    let Ok(loc) = (unsafe { ctx.read_at::<u32>(exec_filename_offset()) }) else {
        return 0;
    };
    // A __data_loc: the string's offset from the record start (low 16 bits).
    // Only ever read through bpf_probe_read_kernel_str_bytes, so wrapping
    // arithmetic does: it asks nothing of the offset.
    let name = (ctx.as_ptr() as *const u8).wrapping_add((loc & 0xffff) as usize);
    emit(owner, RecordKind::Exec, tgid, 0, 0, 0, Some(name));
    0
}

/// Runs in each exiting thread.
#[tracepoint]
pub fn sched_process_exit(_ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current_ids();
    let owner = owner_of(tgid);
    if owner == 0 {
        return 0;
    }
    // exit_group/exit never return, so their entry is still pending and
    // holds the status the process asked for; a signal death has none.
    // SAFETY: this thread's own entry, as in made_a_thread: a copy.
    let (flags, code) = match pending_of(tid).map(|p| unsafe { *p }) {
        Some(p) if p.nr as u64 == NR_EXIT_GROUP || p.nr as u64 == NR_EXIT => {
            (ProcessRecord::CODE_KNOWN, p.args[0] as i32)
        }
        _ => (0, 0),
    };
    forget_pending(tid);
    if tid == tgid {
        set_traced(tgid, 0);
        emit(owner, RecordKind::Exit, tgid, tgid, flags, code, None);
    }
    0
}

#[inline(always)]
fn emit(owner: u8, kind: RecordKind, pid: u32, ppid: u32, flags: u32, exit_code: i32, filename: Option<*const u8>) {
    let Some(mut entry) = RECORDS.reserve::<ProcessRecord>(0) else {
        count_lost();
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: `rec` is ring buffer space reserved for one ProcessRecord and
    // ours alone until submit; fields are written through the raw pointer
    // (no reference to the uninitialised whole), and the filename is copied
    // by a helper that reads any address without faulting and writes at
    // most FILENAME_LEN bytes into `dst`.
    unsafe {
        (*rec).kind = kind as u32;
        (*rec).pid = pid;
        (*rec).ppid = ppid;
        (*rec).flags = flags;
        (*rec).exit_code = exit_code;
        (*rec).owner = owner as u32;
        (*rec).ts_ns = now_ns();
        (*rec).cgroup_id = cgroup_id();
        (*rec).filename[0] = 0;
        if let Some(src) = filename {
            let dst: &mut [u8; FILENAME_LEN] = &mut (*rec).filename;
            let _ = bpf_probe_read_kernel_str_bytes(src, dst);
        }
    }
    // Forks, execs and exits wake the reader at once even when unread
    // syscall records (sent without a wakeup) wait before them: the
    // default, adaptive wakeup would only fire on an empty ring.
    entry.submit(BPF_RB_FORCE_WAKEUP as u64);
}
