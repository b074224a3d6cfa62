//! Which file descriptors a process entering the container may hold.
//!
//! The init and an `exec`'d process start with a copy of the runtime's
//! descriptor table (clone(2) without CLONE_FILES copies it) and so of
//! whatever the runtime and *its* caller had open. A descriptor that names
//! a host directory is a door out: `/proc/self/fd/N/..` walks from it to
//! the host's `/`. With `process.cwd = "/proc/self/fd/9"` (CVE-2024-21626's
//! pattern) the container's program would start *in* the host. So, first
//! thing after clone, each of them closes every descriptor except the few
//! it needs ([`close_all_but`]): stdin/stdout/stderr, the caller's
//! `--preserve-fds`, the channel to the runtime, exec.fifo (an O_PATH to a
//! FIFO) and the event sinks (a file opened for appending, sockets). None
//! of those is a directory; the rest are closed at execve anyway (they are
//! all O_CLOEXEC), but a container can reach into a process well before it
//! execs — which is why the process is also non-dumpable (see
//! [`make_unreachable`]).

use std::os::fd::RawFd;

/// Close every descriptor from 3 up except those in `keep` (0–2 stay).
/// A few close_range(2) calls, one per gap between kept descriptors.
pub fn close_all_but(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep.iter().filter(|fd| **fd > 2).map(|fd| *fd as u32).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for fd in keep.into_iter().chain(std::iter::once(u32::MAX)) {
        if fd > first {
            close_range(first, fd - 1);
        }
        first = fd.saturating_add(1);
    }
}

/// The descriptors a process joining the container inherits on purpose:
/// `--preserve-fds N` passes 3 … 3+N-1 through to the program (runc's
/// contract with podman and containerd, e.g. for socket activation).
pub fn preserved(preserve_fds: i32) -> impl Iterator<Item = RawFd> {
    3..3 + preserve_fds.max(0)
}

fn close_range(first: u32, last: u32) {
    // SAFETY: close_range(2) only closes descriptors; none of those in the
    // range is owned by Rust code that will use it again (the caller keeps
    // the ones it needs out of the range).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if rc != 0 {
        // Kernels before 5.9: one close(2) per descriptor up to the limit in use.
        let limit = nix::unistd::sysconf(nix::unistd::SysconfVar::OPEN_MAX).ok().flatten().unwrap_or(1024) as u32;
        for fd in first..=last.min(limit) {
            // SAFETY: as above.
            unsafe { libc::close(fd as RawFd) };
        }
    }
}

/// PR_SET_DUMPABLE 0 (prctl(2), "ptrace access mode" in ptrace(2)): the
/// process's /proc/<pid>/{fd,exe,cwd,root,mem,environ} open only to holders
/// of CAP_SYS_PTRACE, and it cannot be ptraced by the container. The
/// runtime calls it on itself just before cloning a process that will
/// enter the container, so the child is unreachable from its first
/// instruction; execve(2) of the container's program makes it dumpable
/// again by the usual rules, once nothing of the host is left in it.
pub fn make_unreachable() -> nix::Result<()> {
    nix::sys::prctl::set_dumpable(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// The descriptors open in this process, from /proc/self/fd.
    fn open_fds() -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        fds.sort_unstable();
        fds
    }

    #[test]
    fn only_the_kept_descriptors_and_stdio_survive() {
        let files: Vec<std::fs::File> = (0..6).map(|_| std::fs::File::open("/").unwrap()).collect();
        let kept = [files[1].as_raw_fd(), files[4].as_raw_fd()];
        // In a child: the test harness's own threads hold descriptors too.
        // SAFETY: the child only makes syscalls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                close_all_but(&kept);
                // read_dir opens one descriptor of its own, the lowest free one.
                let left: Vec<RawFd> = open_fds().into_iter().filter(|fd| *fd > 2).collect();
                let ok = left.len() == 3 && left.contains(&kept[0]) && left.contains(&kept[1]);
                // SAFETY: leave the forked test process without running its destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn preserve_fds_names_the_descriptors_after_stdio() {
        assert_eq!(preserved(2).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(preserved(0).count(), 0);
        assert_eq!(preserved(-1).count(), 0);
    }
}
