//! clone3(2) with CLONE_INTO_CGROUP: a child born inside a cgroup2
//! directory. Moving a process in afterwards means a cgroup.procs write,
//! and the first such write after a quiet moment waits for an RCU grace
//! period — 10 ms and more (book: cgroup.md). Both the container's init
//! (`spawn`) and a process `exec` adds (`join`) start this way when the
//! container has a cgroup2 directory (its own on v2, the twin on hybrid
//! hosts).

use std::os::fd::AsRawFd;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::Pid;

/// clone3(2)'s argument block, version 2 (the one with `cgroup`;
/// include/uapi/linux/sched.h). glibc has no wrapper, libc no struct.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Start the child in the cgroup2 directory `clone_args.cgroup` names.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Start a child with `flags` (namespaces to make) in the cgroup2
/// directory `dir`, running `child`. Like fork(2), without a stack of its
/// own: the child runs on a copy of ours and leaves through _exit(2) with
/// what `child` returns (or execs before), never returning here. `None`
/// when there is no directory, or clone3 did not start the child (a kernel
/// without clone3 or CLONE_INTO_CGROUP, a directory that cannot take it;
/// said with --debug): the caller then clones or forks without it and
/// writes cgroup.procs.
///
/// The caller must be single-threaded: the child's copy of memory must hold
/// no lock another thread owned.
pub fn clone_into_cgroup(flags: CloneFlags, dir: Option<&Path>, child: impl FnOnce() -> i32) -> Option<Pid> {
    let dir = dir?;
    let started = clone3(flags, dir, child);
    if let Err(e) = &started {
        let dir = dir.display();
        crate::log::debug(&format!("clone3 into {dir}: {e}; a plain clone instead, then a cgroup.procs write"));
    }
    started.ok()
}

fn clone3(flags: CloneFlags, dir: &Path, child: impl FnOnce() -> i32) -> nix::Result<Pid> {
    let dir = open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut args = CloneArgs {
        flags: flags.bits() as u32 as u64 | CLONE_INTO_CGROUP,
        exit_signal: Signal::SIGCHLD as u64,
        cgroup: dir.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: clone3 reads `size` bytes of `args`; the caller is
    // single-threaded, and the child never returns into our frames.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match ret {
        0 => {
            // The child's copy of the directory: a host directory, never to
            // reach the container, even when a large --preserve-fds range
            // would keep its number open (process/fds.rs).
            drop(dir);
            let code = child();
            // SAFETY: leaving the child without running our frames' destructors.
            unsafe { libc::_exit(code) }
        }
        pid if pid > 0 => Ok(Pid::from_raw(pid as i32)),
        _ => Err(nix::errno::Errno::last()),
    }
}
