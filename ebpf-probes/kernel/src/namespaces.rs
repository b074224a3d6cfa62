//! The namespaces of each followed process, read from its task_struct:
//! nsproxy->{mnt,uts,ipc,net,cgroup}_ns and pid_ns_for_children, the pid
//! namespace it is itself in (thread_pid->numbers[level].ns, what
//! task_active_pid_ns returns), and cred->user_ns; each one's
//! `ns.inum`, the number `readlink /proc/PID/ns/*` shows. Sent as a
//! NamespaceRecord when a followed process forks a child (the child's
//! task: its CLONE_NEW* namespaces exist by then), and after a successful
//! execve, unshare or setns. See namespaces(7), unshare(2), setns(2).
//!
//! aya-ebpf has no CO-RE relocations, so the field offsets come from the
//! loader, which reads them from the running kernel's BTF
//! (/sys/kernel/btf/vmlinux) into the global TASK_OFFSETS; without BTF it
//! leaves `available` at 0 and no namespace record is sent.

use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_probe_read_kernel},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use glassbox_probes_common::{ns, ns_why, NamespaceRecord, RecordKind, TaskOffsets};

use crate::maps::{cgroup_id, count_lost, current_ids, now_ns, owner_of, RECORDS};

const NR_UNSHARE: u64 = 272;
const NR_SETNS: u64 = 308;

/// Set by the loader from BTF (see the module comment).
// SAFETY: TaskOffsets is u32 fields only; all-zero bytes are a valid value.
#[unsafe(no_mangle)]
static TASK_OFFSETS: TaskOffsets = unsafe { core::mem::zeroed() };

#[inline(always)]
fn offsets() -> TaskOffsets {
    // SAFETY: a reference to a static, valid and aligned (volatile: the
    // loader rewrites the bytes, as for maps::global).
    unsafe { core::ptr::read_volatile(&TASK_OFFSETS) }
}

#[inline(always)]
fn read_ptr(base: u64, off: u32) -> u64 {
    if base == 0 {
        return 0;
    }
    // SAFETY: copies from any kernel address without faulting (a bad one is
    // an error) into a u64 of ours.
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const u64) }.unwrap_or(0)
}

#[inline(always)]
fn read_u32(base: u64, off: u32) -> u32 {
    if base == 0 {
        return 0;
    }
    // SAFETY: as in read_ptr, into a u32 of ours.
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const u32) }.unwrap_or(0)
}

/// `ns_ptr->ns.inum`, where `common` is the offset of `ns` in its struct.
#[inline(always)]
fn inum(ns_ptr: u64, common: u32, o: &TaskOffsets) -> u32 {
    if ns_ptr == 0 {
        return 0;
    }
    read_u32(ns_ptr, common + o.ns_common_inum)
}

/// The raw tracepoint sched_process_fork(parent, child): a followed
/// process made a process (threads share their namespaces and are skipped).
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn ns_fork(ctx: RawTracePointContext) -> i32 {
    let (_, tgid) = current_ids();
    let owner = owner_of(tgid) as u32;
    if owner == 0 {
        return 0;
    }
    let o = offsets();
    if o.available == 0 {
        return 0;
    }
    let child: u64 = ctx.arg(1);
    let pid = read_u32(child, o.task_pid);
    if pid == 0 || pid != read_u32(child, o.task_tgid) {
        return 0;
    }
    emit(&o, child, pid, pid, ns_why::FORK, owner);
    0
}

/// Runs at sys_exit after the SyscallRecord: a successful call that may
/// have changed the caller's namespaces, or started a new program.
#[inline(always)]
pub fn after_syscall(tid: u32, tgid: u32, nr: u64, ret: i64) {
    if ret != 0 {
        return;
    }
    let why = match nr {
        crate::detail::NR_EXECVE | crate::detail::NR_EXECVEAT => ns_why::EXEC,
        NR_UNSHARE => ns_why::UNSHARE,
        NR_SETNS => ns_why::SETNS,
        _ => return,
    };
    let o = offsets();
    if o.available == 0 {
        return;
    }
    // SAFETY: a helper that takes nothing; the address it returns is only
    // ever read through bpf_probe_read_kernel (read_ptr, read_u32).
    let task = unsafe { bpf_get_current_task() };
    emit(&o, task, tgid, tid, why, owner_of(tgid) as u32);
}

#[inline(always)]
fn emit(o: &TaskOffsets, task: u64, pid: u32, tid: u32, why: u32, owner: u32) {
    let Some(mut entry) = RECORDS.reserve::<NamespaceRecord>(0) else {
        count_lost();
        return;
    };
    let nsproxy = read_ptr(task, o.task_nsproxy);
    let user_ns = read_ptr(read_ptr(task, o.task_cred), o.cred_user_ns);
    let thread_pid = read_ptr(task, o.task_thread_pid);
    let level = read_u32(thread_pid, o.pid_level) & 0xff;
    let (upid_size, upid_ns) = o.upid();
    let pid_ns = read_ptr(thread_pid, o.pid_numbers + level * upid_size + upid_ns);
    let mut inums = [0u32; ns::COUNT];
    inums[ns::MNT] = inum(read_ptr(nsproxy, o.nsproxy_mnt), o.mnt_ns_common, o);
    inums[ns::PID] = inum(pid_ns, o.pid_ns_common, o);
    inums[ns::PID_FOR_CHILDREN] = inum(read_ptr(nsproxy, o.nsproxy_pid_for_children), o.pid_ns_common, o);
    inums[ns::NET] = inum(read_ptr(nsproxy, o.nsproxy_net), o.net_ns_common, o);
    inums[ns::UTS] = inum(read_ptr(nsproxy, o.nsproxy_uts), o.uts_ns_common, o);
    inums[ns::IPC] = inum(read_ptr(nsproxy, o.nsproxy_ipc), o.ipc_ns_common, o);
    inums[ns::USER] = inum(user_ns, o.user_ns_common, o);
    inums[ns::CGROUP] = inum(read_ptr(nsproxy, o.nsproxy_cgroup), o.cgroup_ns_common, o);
    entry.write(NamespaceRecord {
        kind: RecordKind::Namespaces as u32,
        pid,
        tid,
        why,
        ts_ns: now_ns(),
        owner,
        _pad: 0,
        cgroup_id: cgroup_id(),
        inums,
    });
    entry.submit(0);
}
