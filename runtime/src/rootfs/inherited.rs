//! A container **without a mount namespace of its own** — no `"mount"` in
//! `linux.namespaces`. runtime-spec says it then inherits the runtime's:
//! the container and the host share one mount table, so every mount made
//! for the container is a mount on the host, seen by every process there,
//! and it stays after the container has gone unless someone unmounts it.
//!
//! What the usual path would do to the host, and what is done instead:
//! - `mount --make-rslave /` and a private parent for the rootfs would
//!   change the host's own `/` (runc does make it a slave then, quietly
//!   ending the shared propagation the host had set): not done;
//! - pivot_root(2) moves the root of **every** process in the namespace
//!   whose root was the old one — the whole host: never; the init
//!   chroot(2)s into the rootfs instead (`--no-pivot`'s move of the rootfs
//!   onto `/` would bury the host's root: ignored too);
//! - the rootfs is still bound onto itself, and that bind — a mount at the
//!   container's own path — is made a slave at once ([`prepare`]), as is
//!   every bind of `mounts[]` right after it is made ([`keep_to_itself`]): a
//!   bind of a shared host directory joins that directory's peer group, and
//!   a mount made on top of it (another `mounts[]` entry, a masked path)
//!   would otherwise appear in the host directory too. Every mount then
//!   lands below the container's rootfs and none propagates out;
//! - at `delete` (or a failed `create`) the binds stacked on the rootfs are
//!   detached ([`RootfsMount::detach`]): that takes everything below them.
//!   Where the stack starts is noted before the container is made (the
//!   mount id under the rootfs, [`RootfsMount::note`]), in `<id>/rootfs-mount`,
//!   so `delete --force` finds it even after a killed `create`.
//!
//! A user namespace of the container's cannot mount in the runtime's mount
//! namespace (the host's user namespace owns it), so bundle/ refuses that.
//! And chroot(2) is a weaker wall than pivot_root(2): a process holding
//! CAP_SYS_CHROOT can climb out of it (SECURITY.md).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags, MsFlags};

use super::actions::MountCall;
use super::error::RootfsError;
use super::mounts::{mount, mount_error};
use crate::recorder;

/// Slave, and recursively: events from the host still come in, none go out.
const SLAVE: MsFlags = MsFlags::MS_SLAVE.union(MsFlags::MS_REC);

/// At most this many mounts stacked on the rootfs are detached at delete
/// (glassbox makes one; more means the container stacked its own).
const MAX_STACKED: usize = 16;

/// Step 1 of `prepare_mounts` in the runtime's mount namespace: the rootfs onto
/// itself, then that bind made a slave. Nothing of the host changes.
pub fn prepare(rootfs: &Path) -> Result<(), RootfsError> {
    super::mounts::bind_rootfs_onto_itself(rootfs)?;
    let call = MountCall::propagation(rootfs, SLAVE);
    mount(&call, rootfs).map_err(|e| mount_error("linux.namespaces", "the rootfs bind, kept to itself", &call, e))
}

/// After a bind of `mounts[]` (`call`, made at `host`): make it a slave, so
/// what is mounted on it later stays in the container's tree.
pub fn keep_to_itself(call: &MountCall, host: &Path, origin: &str, what: &str) -> Result<(), RootfsError> {
    if !(call.is_bind() && call.creates_mount()) {
        return Ok(());
    }
    let slave = MountCall::propagation(&call.target, SLAVE);
    mount(&slave, host).map_err(|e| mount_error(origin, what, &slave, e))
}

/// `cd <rootfs>; chroot .; cd /`: the container's `/` for this process and
/// its children only.
pub fn chroot_into(rootfs: &Path) -> Result<(), RootfsError> {
    let fail = |step, hint| move |errno| RootfsError::Enter { step, path: rootfs.to_path_buf(), errno, hint };
    nix::unistd::chdir(rootfs).map_err(fail("chdir(2) into the rootfs", "does the rootfs exist?"))?;
    nix::unistd::chroot(".").map_err(fail("chroot(2)", "needs CAP_SYS_CHROOT"))?;
    recorder::step("chroot", |a| {
        a.str("mount_namespace", "the runtime's").path("path", rootfs);
    });
    nix::unistd::chdir("/").map_err(fail("chdir(2) to the new /", "the new root vanished?"))
}

/// Where the container's mounts start on the host: what `delete` needs to
/// take them all away again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsMount {
    /// The runtime's mount namespace (its inode), where the mounts are.
    pub namespace: u64,
    /// The mount the rootfs path resolved to before the container (the one
    /// holding the directory, or an engine's overlay mounted on it): the
    /// container's binds stack on top of it.
    pub below: u64,
    pub rootfs: PathBuf,
}

/// statx(2)'s mount id of what `path` resolves to (no last symlink followed).
fn mount_id(path: &Path) -> Result<u64, Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: libc::statx is a C struct of integers, for which all-zero
    // bytes are a valid value.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated string and `buf` a statx we own and
    // lend for the call only; the kernel writes no more than its size.
    let rc =
        unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), libc::AT_SYMLINK_NOFOLLOW, libc::STATX_MNT_ID, &mut buf) };
    Errno::result(rc)?;
    if buf.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(Errno::ENOSYS); // before Linux 5.8
    }
    Ok(buf.stx_mnt_id)
}

fn own_mount_namespace() -> Result<u64, Errno> {
    std::fs::metadata("/proc/self/ns/mnt").map(|m| m.ino()).map_err(|e| super::error::errno_of(&e))
}

impl RootfsMount {
    /// Before the container is made: where its mounts will start.
    pub fn note(rootfs: &Path) -> Result<RootfsMount, RootfsError> {
        let host_info = |path: &str, errno| RootfsError::HostInfo {
            path: path.into(),
            purpose: "note where the container's mounts will start in the runtime's mount namespace",
            errno,
        };
        let namespace = own_mount_namespace().map_err(|e| host_info("/proc/self/ns/mnt", e))?;
        let below = mount_id(rootfs).map_err(|e| host_info(&rootfs.to_string_lossy(), e))?;
        Ok(RootfsMount { namespace, below, rootfs: rootfs.to_path_buf() })
    }

    /// `<namespace> <below> <rootfs>`, one line (the path last: it may hold spaces).
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = format!("{} {} ", self.namespace, self.below).into_bytes();
        line.extend_from_slice(self.rootfs.as_os_str().as_bytes());
        line.push(b'\n');
        line
    }

    pub fn from_line(bytes: &[u8]) -> Option<RootfsMount> {
        let line = bytes.strip_suffix(b"\n")?;
        let mut parts = line.splitn(3, |b| *b == b' ');
        let number = |p: Option<&[u8]>| std::str::from_utf8(p?).ok()?.parse().ok();
        let namespace = number(parts.next())?;
        let below = number(parts.next())?;
        let rootfs = PathBuf::from(std::ffi::OsStr::from_bytes(parts.next()?));
        rootfs.is_absolute().then_some(RootfsMount { namespace, below, rootfs })
    }

    /// Detach every mount stacked on the rootfs since [`Self::note`], each
    /// with all the mounts below it (`umount -l`); returns how many. Only in
    /// the namespace they were made in: from another one the rootfs path
    /// could mean other mounts.
    pub fn detach(&self) -> Result<usize, RootfsError> {
        let here = own_mount_namespace().unwrap_or(0);
        if here != self.namespace {
            return Err(RootfsError::Leftover {
                rootfs: self.rootfs.clone(),
                problem: format!(
                    "its mounts are in mount namespace {}, and this glassbox runs in {here}: run `glassbox delete` from the namespace `create` ran in",
                    self.namespace
                ),
            });
        }
        let mut detached = 0;
        loop {
            let top = match mount_id(&self.rootfs) {
                Ok(id) => id,
                // The rootfs itself is gone: so are the mounts that were on it.
                Err(Errno::ENOENT) => return Ok(detached),
                Err(errno) => return Err(self.leftover(format!("statx(2) of the rootfs failed: {errno}"))),
            };
            if top == self.below {
                return Ok(detached);
            }
            if detached == MAX_STACKED {
                return Err(self.leftover(format!("still mounted after {MAX_STACKED} detaches; look with `findmnt`")));
            }
            let flags = MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW;
            umount2(&self.rootfs, flags).map_err(|errno| self.leftover(format!("umount2(2) failed: {errno}")))?;
            recorder::step("umount", |a| {
                a.str("flags", "MNT_DETACH | UMOUNT_NOFOLLOW").uint("mount_id", top).path("target", &self.rootfs);
            });
            detached += 1;
        }
    }

    fn leftover(&self, problem: String) -> RootfsError {
        RootfsError::Leftover { rootfs: self.rootfs.clone(), problem }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_reads_back_even_with_spaces_in_the_path() {
        let note = RootfsMount { namespace: 4026531841, below: 23, rootfs: "/srv/my bundle/rootfs".into() };
        assert_eq!(RootfsMount::from_line(&note.to_line()), Some(note));
        for bad in [&b"1 2 relative\n"[..], b"1 x /r\n", b"1 2 /r", b""] {
            assert_eq!(RootfsMount::from_line(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn mount_ids_differ_across_a_mount_point() {
        // /proc is a mount of its own everywhere glassbox runs.
        let (root, proc) = (mount_id(Path::new("/")).unwrap(), mount_id(Path::new("/proc")).unwrap());
        assert_ne!(root, proc);
        assert_eq!(mount_id(Path::new("/proc/self")).unwrap(), proc, "a directory below: the same mount");
    }
}
