//! `process.cwd`: the directory the container's program starts in, entered
//! without ever leaving the container's root.
//!
//! The path comes from config.json or `exec --cwd`, and what it names comes
//! from the image — both are the container's to choose, so both are
//! hostile. chdir(2) would follow anything, including the kernel's *magic
//! links*: `/proc/self/fd/N`, `/proc/<pid>/cwd`, `/proc/<pid>/root` lead to
//! whatever that descriptor or process has, wherever it is. A cwd of
//! `/proc/self/fd/9` (or an image's `/app -> /proc/self/fd/9`) with a host
//! directory open on fd 9 would start the program *in the host*, and `..`
//! from there reaches the host's `/` (CVE-2024-21626's pattern). So:
//! - the path is resolved by openat2(2) with `RESOLVE_IN_ROOT` (`/` and
//!   `..` stop at the container's root, absolute symlinks are read as the
//!   container reads them) and `RESOLVE_NO_MAGICLINKS` (a magic link is an
//!   error, ELOOP), then entered with fchdir(2);
//! - a missing directory is made one component at a time under the last
//!   one that exists, each step refusing symlinks — runc makes a missing
//!   cwd too;
//! - and afterwards getcwd(3) must name a path inside the root: the kernel
//!   answers "(unreachable)…" (or ENOENT) for a directory outside it.
//!
//! It is done in two halves ([`open`], then [`enter`]) because a seccomp
//! profile loaded before the capabilities are dropped would apply to the
//! second: the directory is opened (and made) by root, before any filter —
//! a profile older than openat2(2) refuses it —, and entered with fchdir(2)
//! once the process is the container's user, who must be allowed in (as
//! runc does, which makes a missing cwd as root too).

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

#[derive(Debug, thiserror::Error)]
pub enum CwdError {
    #[error("process.cwd {0:?} must be an absolute path")]
    Relative(String),
    #[error(
        "process.cwd {path}: refused: it goes through a /proc magic link (/proc/self/fd/N, /proc/<pid>/cwd, \
         /proc/<pid>/root) or a symlink loop, which could lead out of the container's root; \
         give a directory inside the container"
    )]
    MagicLink { path: String },
    #[error("process.cwd {path}: {action}: {errno}")]
    Os { path: String, action: &'static str, errno: Errno },
    #[error(
        "process.cwd {path}: the working directory ended up outside the container's root ({seen}); refusing to \
         start the program there"
    )]
    OutsideRoot { path: String, seen: String },
}

/// Open `cwd` inside the current root (the container's, after pivot_root
/// or setns into its mount namespace), making it if it is missing.
pub fn open(cwd: &Path) -> Result<OwnedFd, CwdError> {
    if !cwd.is_absolute() {
        return Err(CwdError::Relative(cwd.display().to_string()));
    }
    let root = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|errno| CwdError::Os { path: cwd.display().to_string(), action: "open /", errno })?;
    match open_in_root(&root, cwd) {
        Err(Errno::ENOENT) => make_missing(&root, cwd),
        other => other.map_err(|errno| refuse_or(cwd, errno, "open")),
    }
}

/// Make `dir` (what [`open`] returned for `cwd`) the working directory,
/// and check where that is.
pub fn enter(cwd: &Path, dir: &OwnedFd) -> Result<(), CwdError> {
    nix::unistd::fchdir(dir).map_err(|errno| CwdError::Os {
        path: cwd.display().to_string(),
        action: "fchdir",
        errno,
    })?;
    check_inside_root(cwd)
}

/// openat2(2) of a directory below `root`, as the container would resolve it.
fn open_in_root(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(root.as_fd(), path, how)
}

fn refuse_or(cwd: &Path, errno: Errno, action: &'static str) -> CwdError {
    match errno {
        Errno::ELOOP => CwdError::MagicLink { path: cwd.display().to_string() },
        errno => CwdError::Os { path: cwd.display().to_string(), action, errno },
    }
}

/// Make what is missing of `cwd` (mode 0755 before umask, as mkdir -p),
/// under the deepest part that exists; returns the directory made last.
fn make_missing(root: &OwnedFd, cwd: &Path) -> Result<OwnedFd, CwdError> {
    let parts: Vec<&OsStr> = cwd
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    if cwd.components().any(|c| c == Component::ParentDir) {
        // `a/../b` with `a` missing: what `..` means depends on what `a` would be.
        return Err(CwdError::Os { path: cwd.display().to_string(), action: "resolve `..`", errno: Errno::ENOENT });
    }
    // The deepest existing prefix (`/` always exists).
    let mut have = 0;
    let mut dir = open_in_root(root, Path::new("/")).map_err(|e| refuse_or(cwd, e, "open /"))?;
    for n in (1..=parts.len()).rev() {
        let prefix: std::path::PathBuf = std::iter::once(OsStr::new("/")).chain(parts[..n].iter().copied()).collect();
        match open_in_root(root, &prefix) {
            Ok(found) => {
                (have, dir) = (n, found);
                break;
            }
            Err(Errno::ENOENT) => continue,
            Err(errno) => return Err(refuse_or(cwd, errno, "open")),
        }
    }
    for name in &parts[have..] {
        nix::sys::stat::mkdirat(dir.as_fd(), *name, Mode::from_bits_truncate(0o755))
            .or_else(|e| if e == Errno::EEXIST { Ok(()) } else { Err(e) })
            .map_err(|errno| CwdError::Os {
                path: cwd.display().to_string(),
                action: "it does not exist, and making it failed",
                errno,
            })?;
        // The name was just made; RESOLVE_NO_SYMLINKS refuses one swapped in meanwhile.
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        dir = openat2(dir.as_fd(), *name, how).map_err(|e| refuse_or(cwd, e, "open the directory it made"))?;
    }
    Ok(dir)
}

/// getcwd(3) after the move: a path outside the root has no name from it.
fn check_inside_root(cwd: &Path) -> Result<(), CwdError> {
    let outside = |seen: String| CwdError::OutsideRoot { path: cwd.display().to_string(), seen };
    match nix::unistd::getcwd() {
        Ok(seen) if seen.is_absolute() => Ok(()),
        Ok(seen) => Err(outside(seen.display().to_string())),
        Err(errno) => Err(outside(format!("getcwd: {errno}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_cwd_is_refused() {
        assert!(matches!(open(Path::new("tmp")), Err(CwdError::Relative(_))));
    }

    /// A process-wide chdir would disturb the other tests: in a child.
    fn in_child(f: impl FnOnce() -> bool) -> bool {
        // SAFETY: the child only makes syscalls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = f();
                // SAFETY: leave the forked test process without running its destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                matches!(nix::sys::wait::waitpid(child, None), Ok(nix::sys::wait::WaitStatus::Exited(_, 0)))
            }
        }
    }

    #[test]
    fn a_magic_link_is_refused_and_a_missing_directory_made() {
        let t = tempfile::tempdir().unwrap();
        let dir = std::fs::File::open(t.path()).unwrap();
        let via_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir));
        assert!(in_child(|| matches!(open(Path::new(&via_fd)), Err(CwdError::MagicLink { .. }))));
        let made = t.path().join("a/b/c");
        assert!(in_child(
            || open(&made).and_then(|dir| enter(&made, &dir)).is_ok() && std::env::current_dir().unwrap() == made
        ));
        assert!(made.is_dir());
    }
}
