//! Acting on a path of the container after pivot_root without being led
//! elsewhere by what the container put there.
//!
//! After pivot_root the kernel resolves `/` and absolute symlinks inside
//! the container, but two things can still mislead a mount(2) aimed at a
//! path the image controls:
//! - the *magic links* of /proc (`/proc/self/fd/N`, `/proc/<pid>/root`):
//!   a symlink of the image pointing there leads wherever that descriptor
//!   or process is;
//! - a symlink in the last place: `/dev/null -> /proc/sys/kernel/core_pattern`
//!   turns "bind /dev/null over /proc/keys" into "bind core_pattern, writable,
//!   over /proc/keys" (CVE-2025-31133's pattern).
//!
//! So a path is opened once, as an O_PATH descriptor, with openat2(2)
//! (`RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, and O_NOFOLLOW so the last
//! component is taken as it is), its type checked on the descriptor
//! (fstat(2): no race between the check and the use), and mount(2) is then
//! given `/proc/self/fd/N`: the kernel acts on exactly the file checked.
//! After mounting, the result is looked at again.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

/// The container's root, held open: paths are resolved below it.
pub struct Root(OwnedFd);

impl Root {
    /// `/` as this process sees it now (after pivot_root: the container's).
    pub fn current() -> Result<Root, Errno> {
        open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map(Root)
    }

    /// Open `path` (a path of the container) without following a symlink in
    /// its last place nor any magic link. `Ok(None)`: it does not exist.
    pub fn open(&self, path: &Path) -> Result<Option<InRoot>, Errno> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = match openat2(self.0.as_fd(), path, how) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        let stat = fstat(&fd)?;
        Ok(Some(InRoot { fd, stat }))
    }
}

/// What is at `path` now, the last component not followed: one lstat(2),
/// to look again after mounting.
pub fn look(path: &Path) -> Option<FileStat> {
    nix::sys::stat::lstat(path).ok()
}

/// A character device `major:minor`?
pub fn is_char_device(stat: &FileStat, major: u64, minor: u64) -> bool {
    let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    let rdev = stat.st_rdev;
    kind == SFlag::S_IFCHR && nix::sys::stat::major(rdev) == major && nix::sys::stat::minor(rdev) == minor
}

/// An O_PATH descriptor of one path of the container, and what it is.
pub struct InRoot {
    fd: OwnedFd,
    pub stat: FileStat,
}

impl InRoot {
    /// [`Root::open`] below the current `/`.
    pub fn open(path: &Path) -> Result<Option<InRoot>, Errno> {
        Root::current()?.open(path)
    }

    /// `/proc/self/fd/N`: the name under which mount(2) reaches exactly this file.
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    pub fn kind(&self) -> SFlag {
        SFlag::from_bits_truncate(self.stat.st_mode & SFlag::S_IFMT.bits())
    }

    pub fn is_symlink(&self) -> bool {
        self.kind() == SFlag::S_IFLNK
    }

    pub fn is_dir(&self) -> bool {
        self.kind() == SFlag::S_IFDIR
    }

    /// A character device `major:minor`?
    pub fn is_char_device(&self, major: u64, minor: u64) -> bool {
        is_char_device(&self.stat, major, minor)
    }

    /// What is there, in words, for an error message.
    pub fn describe(&self, path: &Path) -> String {
        let rdev = self.stat.st_rdev;
        let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
        match self.kind() {
            SFlag::S_IFLNK => match std::fs::read_link(path) {
                Ok(target) => format!("a symlink to {}", target.display()),
                Err(_) => "a symlink".into(),
            },
            SFlag::S_IFCHR => format!("the character device {major}:{minor}"),
            SFlag::S_IFBLK => format!("the block device {major}:{minor}"),
            SFlag::S_IFREG => "a regular file".into(),
            SFlag::S_IFDIR => "a directory".into(),
            SFlag::S_IFIFO => "a FIFO".into(),
            SFlag::S_IFSOCK => "a socket".into(),
            _ => "something else".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_symlink_is_not_followed_and_magic_links_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let link = t.path().join("null");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let opened = InRoot::open(&link).unwrap().unwrap();
        assert!(opened.is_symlink());
        assert!(opened.describe(&link).contains("/dev/zero"), "{}", opened.describe(&link));
        assert!(InRoot::open(&t.path().join("missing")).unwrap().is_none());
        let null = InRoot::open(Path::new("/dev/null")).unwrap().unwrap();
        assert!(null.is_char_device(1, 3));
        let dir = std::fs::File::open(t.path()).unwrap();
        let via_fd = format!("/proc/self/fd/{}/x", dir.as_raw_fd());
        assert_eq!(InRoot::open(Path::new(&via_fd)).err(), Some(Errno::ELOOP));
    }
}
