//! Making the rootfs the process's `/` (pivot_root(2), chroot(2)).
//!
//! pivot_root: `chdir <rootfs>; pivot_root . .` stacks the old root on top
//! of the new one at the same place, so no `put_old` directory is needed;
//! `umount -l .` then detaches the old root (the host's whole tree) from this
//! namespace, after marking it rslave so the unmount cannot propagate to the
//! host. Without pivot (runc's `--no-pivot`, for ramfs roots where pivot_root
//! is impossible): `mount --move <rootfs> /; chroot .` — weaker, because the
//! old root stays reachable to a process that can escape the chroot.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, pivot_root};

use super::actions::MountCall;
use super::error::RootfsError;
use super::mounts::{mount, mount_error};
use crate::recorder;

fn step(step: &'static str, path: &Path, hint: &'static str) -> impl FnOnce(Errno) -> RootfsError {
    let path = path.to_path_buf();
    move |errno| RootfsError::Enter { step, path, errno, hint }
}

/// `cd <rootfs>; pivot_root . .; mount --make-rslave .; umount -l .; cd /`.
pub fn pivot_into(rootfs: &Path) -> Result<(), RootfsError> {
    chdir(rootfs).map_err(step("chdir(2) into the rootfs", rootfs, "does the rootfs exist?"))?;
    pivot_root(".", ".").map_err(step(
        "pivot_root(\".\", \".\")",
        rootfs,
        "the rootfs must be a mount point whose parent is not shared; on a ramfs root use --no-pivot",
    ))?;
    // put_old is the new root itself: the old root now sits on top of it.
    recorder::step("pivot_root", |a| {
        a.path("new_root", rootfs).path("put_old", rootfs);
    });
    let old_root = MountCall::propagation(".", MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(&old_root, Path::new(".")).map_err(|e| mount_error("pivot_root", "the old root", &old_root, e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(step(
        "umount2(\".\", MNT_DETACH) of the old root",
        Path::new("/"),
        "the old root should be stacked on the new one right after pivot_root",
    ))?;
    recorder::step("umount", |a| {
        a.str("flags", "MNT_DETACH").str("target", ".");
    });
    chdir("/").map_err(step("chdir(2) to the new /", Path::new("/"), "the new root vanished?"))
}

/// `cd <rootfs>; mount --move . /; chroot .; cd /`.
pub fn move_and_chroot(rootfs: &Path) -> Result<(), RootfsError> {
    chdir(rootfs).map_err(step("chdir(2) into the rootfs", rootfs, "does the rootfs exist?"))?;
    let call =
        MountCall { source: Some(".".into()), target: "/".into(), fstype: None, flags: MsFlags::MS_MOVE, data: None };
    mount(&call, Path::new("/")).map_err(|e| mount_error("--no-pivot", "the rootfs onto /", &call, e))?;
    chroot(".").map_err(step("chroot(2)", rootfs, "needs CAP_SYS_CHROOT"))?;
    recorder::step("chroot", |a| {
        a.path("path", rootfs);
    });
    chdir("/").map_err(step("chdir(2) to the new /", Path::new("/"), "the new root vanished?"))
}
