//! The last execve(2): the container's program is started by a sealed
//! in-memory copy of a tiny program, `glassbox-exec`, never by glassbox's
//! own binary.
//!
//! Why (CVE-2019-5736's pattern). The init and an `exec`'d process run
//! glassbox's code inside the container until they exec, and for every
//! process `/proc/<pid>/exe` is a handle on the file it runs. If the
//! container's program is a script starting `#!/proc/self/exe`, the kernel
//! resolves that in the process calling execve — glassbox — and runs the
//! *host's glassbox binary* as a process of the container; another process
//! of the container opens its `/proc/<pid>/exe`, waits for it to end, and
//! opens that handle for writing: the next `glassbox` anyone runs on the
//! host is the container's. (While glassbox's code still runs in the
//! container, the process is non-dumpable, so no one there can open its
//! /proc files at all: [`fds::make_unreachable`](super::fds::make_unreachable).)
//!
//! So the init execs `glassbox-exec` first, from a memfd (memfd_create(2)):
//! a file in memory with no name on any filesystem, written once and then
//! *sealed* (F_SEAL_WRITE, F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_SEAL: fcntl(2)
//! "File Sealing"), mode 0111 so that the process running it is
//! non-dumpable too. From then on `/proc/self/exe` is that memfd: nothing of
//! the host. It execs the container's program at once (source and contract:
//! runtime/glassbox-exec/main.rs, built by build.rs).
//!
//! The cost is one more execve of a ~8 KiB static program (bench/run-true.sh
//! measures it), instead of runc's re-exec of a copy of its whole binary.
//! The alternative runc 1.2 took, a read-only overlayfs over its binary,
//! needs a re-exec of the runtime itself, which glassbox — cloning its init
//! rather than exec'ing it — does not otherwise do.
//!
//! Capabilities across the extra execve. For root, and for any process
//! without no_new_privs, execve computes the new sets from the inheritable
//! and bounding sets and the file, not from the permitted set, so an
//! execve more in between changes nothing (capabilities(7), "Transformation
//! of capabilities during execve()"). A non-root process with no_new_privs
//! keeps no more than it had at each execve — and `glassbox-exec`, a file
//! without capabilities, would be given only the ambient set. So in that
//! case the init first *lends* its permitted set to `glassbox-exec` through
//! the ambient set ([`CapsToCarry::lend`]), and `glassbox-exec` puts the
//! inheritable and ambient sets back as config.json asked before the real
//! execve: the program gets exactly what a direct execve would give it.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

/// The program, built by build.rs from runtime/glassbox-exec/main.rs.
const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/glassbox-exec"));

/// argv[0] `glassbox-exec` insists on (anything else started it by mistake).
const NAME: &CStr = c"glassbox-exec";

#[derive(Debug, thiserror::Error)]
pub enum SealedExecError {
    #[error("memfd_create(2) for the sealed copy of glassbox-exec: {0}{hint}", hint = memfd_hint(*.0))]
    Create(Errno),
    #[error("writing and sealing the copy of glassbox-exec (memfd): {0}")]
    Seal(Errno),
    #[error("lending the permitted capabilities to glassbox-exec through the ambient set: {0}")]
    Carry(caps::errors::CapsError),
    #[error("execve of the sealed glassbox-exec ({path}): {errno}{hint}", hint = exec_hint(*errno))]
    Exec { path: String, errno: Errno },
}

fn memfd_hint(errno: Errno) -> &'static str {
    match errno {
        Errno::EACCES | Errno::EPERM => {
            " (is vm.memfd_noexec 2 on this host or in this pid namespace? glassbox needs an executable memfd)"
        }
        _ => "",
    }
}

fn exec_hint(errno: Errno) -> &'static str {
    match errno {
        Errno::ENOENT => " (is /proc mounted in the container?)",
        Errno::EACCES | Errno::EPERM => " (vm.memfd_noexec, or a seccomp filter refusing execve?)",
        _ => "",
    }
}

/// The sealed copy, made before the container's seccomp filter is loaded
/// (which could refuse memfd_create) and executed last.
pub struct SealedExec {
    memfd: OwnedFd,
}

impl SealedExec {
    /// memfd_create, one write, chmod 0111, the seals.
    pub fn prepare() -> Result<SealedExec, SealedExecError> {
        const MFD_EXEC: libc::c_uint = 0x10;
        let name = c"glassbox-exec";
        let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        // MFD_EXEC (Linux 6.3) says "executable" where vm.memfd_noexec asks;
        // older kernels refuse the unknown flag, and their memfds are executable anyway.
        // SAFETY: a valid NUL-terminated name; memfd_create returns a new descriptor or -1.
        let mut raw = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
        if raw < 0 && Errno::last() == Errno::EINVAL {
            // SAFETY: as above.
            raw = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        }
        if raw < 0 {
            return Err(SealedExecError::Create(Errno::last()));
        }
        // SAFETY: a descriptor the kernel just gave us, owned by nothing else.
        let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
        let seal = |r: nix::Result<()>| r.map_err(SealedExecError::Seal);
        let written = nix::unistd::write(&memfd, PROGRAM).map_err(SealedExecError::Seal)?;
        if written != PROGRAM.len() {
            return Err(SealedExecError::Seal(Errno::EIO));
        }
        // Execute-only: execve of a file its user may not read leaves the
        // process non-dumpable (its /proc files closed to the container).
        seal(nix::sys::stat::fchmod(&memfd, nix::sys::stat::Mode::from_bits_truncate(0o111)))?;
        let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: fcntl(F_ADD_SEALS) on our own memfd.
        if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(SealedExecError::Seal(Errno::last()));
        }
        Ok(SealedExec { memfd })
    }

    /// Become `path` with `argv` and `env`, through glassbox-exec (`carry`:
    /// what [`CapsToCarry::lend`] lent it). Returns only on failure. If the
    /// program cannot be run, glassbox-exec says why on `report` (as
    /// "exec\n<reason>", what `start` reads from exec.fifo; made to outlive
    /// this execve by [`keep_open_across_exec`]) or else on stderr, and
    /// exits 127 (not found) or 126.
    pub fn exec(
        &self,
        carry: Option<&CapsToCarry>,
        report: Option<RawFd>,
        path: &CStr,
        argv: &[CString],
        env: &[CString],
    ) -> SealedExecError {
        let caps_arg = carry.map_or_else(|| c"-".to_owned(), CapsToCarry::argument);
        let report_arg = match report {
            Some(fd) => CString::new(fd.to_string()).expect("digits"),
            None => c"-".to_owned(),
        };
        let mut args: Vec<&CStr> = vec![NAME, &report_arg, &caps_arg, path];
        args.extend(argv.iter().map(CString::as_c_str));
        // Through /proc (not execveat): a seccomp filter that allows execve
        // for the program allows this too.
        let program = CString::new(format!("/proc/self/fd/{}", self.memfd.as_raw_fd())).expect("no NUL");
        let errno = nix::unistd::execve(&program, &args, env).unwrap_err();
        SealedExecError::Exec { path: program.to_string_lossy().into_owned(), errno }
    }

    /// What the record says of it.
    pub fn describe(&self) -> String {
        format!("/proc/self/fd/{} (glassbox-exec, a sealed memfd)", self.memfd.as_raw_fd())
    }
}

/// Let `fd` (exec.fifo's write end, O_CLOEXEC) outlive the execve of
/// glassbox-exec, which closes it at its own execve. Done before a seccomp
/// filter is loaded last, which may refuse fcntl(2); `None` if even that
/// failed (glassbox-exec then reports on stderr, and the execve of
/// glassbox-exec closes the fifo: `start` returns at once).
pub fn keep_open_across_exec(fd: RawFd) -> Option<RawFd> {
    // SAFETY: the caller's open descriptor, borrowed for this call only.
    fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_SETFD(FdFlag::empty())).ok().map(|_| fd)
}

/// The case in which an execve more would change the program's
/// capabilities: a non-root user with no_new_privs, holding permitted
/// capabilities outside its ambient set. What to put back afterwards.
pub struct CapsToCarry {
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
    permitted: CapsHashSet,
}

impl CapsToCarry {
    /// When it is needed, raise every permitted capability into the
    /// inheritable and ambient sets — what a file without capabilities gets
    /// across execve — and say what to put back. Called after the
    /// startContainer hooks (they must not see the lent sets) and before a
    /// seccomp filter loaded last (it may refuse capset(2)).
    pub fn lend() -> Result<Option<CapsToCarry>, SealedExecError> {
        let root = nix::unistd::getuid().is_root() || nix::unistd::geteuid().is_root();
        let no_new_privs = nix::sys::prctl::get_no_new_privs().unwrap_or(false);
        if root || !no_new_privs {
            return Ok(None);
        }
        let read = |set| caps::read(None, set).map_err(SealedExecError::Carry);
        let (permitted, ambient) = (read(CapSet::Permitted)?, read(CapSet::Ambient)?);
        if permitted.is_subset(&ambient) {
            return Ok(None);
        }
        let carry = CapsToCarry { inheritable: read(CapSet::Inheritable)?, ambient, permitted };
        let both: CapsHashSet = carry.inheritable.union(&carry.permitted).copied().collect();
        caps::set(None, CapSet::Inheritable, &both).map_err(SealedExecError::Carry)?;
        for cap in &carry.permitted {
            caps::raise(None, CapSet::Ambient, *cap).map_err(SealedExecError::Carry)?;
        }
        Ok(Some(carry))
    }

    /// `<inheritable>/<ambient>`, each a hexadecimal mask.
    fn argument(&self) -> CString {
        let mask = |set: &CapsHashSet| set.iter().fold(0u64, |m, c| m | c.bitmask());
        CString::new(format!("{:x}/{:x}", mask(&self.inheritable), mask(&self.ambient))).expect("no NUL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_a_small_static_elf() {
        assert_eq!(&PROGRAM[..4], b"\x7fELF");
        assert!(PROGRAM.len() < 64 * 1024, "{} bytes", PROGRAM.len());
    }

    #[test]
    fn the_sealed_copy_refuses_writes_and_runs() {
        let sealed = SealedExec::prepare().unwrap();
        assert_eq!(nix::unistd::write(&sealed.memfd, b"x"), Err(Errno::EPERM));
        // Run it as glassbox does, in a child: it becomes /bin/true.
        // SAFETY: the child only execs or exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let e = sealed.exec(None, None, c"/bin/sh", &[c"sh".into(), c"-c".into(), c"exit 7".into()], &[]);
                eprintln!("{e}");
                // SAFETY: leave the forked test process without running its destructors.
                unsafe { libc::_exit(99) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 7));
            }
        }
    }

    #[test]
    fn the_carried_sets_are_written_as_two_masks() {
        let carry = CapsToCarry {
            inheritable: [caps::Capability::CAP_CHOWN].into_iter().collect(),
            ambient: CapsHashSet::new(),
            permitted: [caps::Capability::CAP_NET_BIND_SERVICE].into_iter().collect(),
        };
        assert_eq!(carry.argument().to_str().unwrap(), "1/0");
    }
}
