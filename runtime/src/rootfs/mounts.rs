//! Doing the mounts: every mount(2) of this module goes through [`mount`],
//! one call per [`MountCall`] (see mount(2), mount_namespaces(7)). Also the
//! three steps that come before `mounts[]`: the propagation of `/`, a private
//! parent for the rootfs, and the bind of the rootfs onto itself.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::statvfs::{statvfs, FsFlags};

use super::actions::MountCall;
use super::error::{errno_of, mount_hint, RootfsError};
use super::mount_plan::{MountStep, PlannedMount};
use super::mountinfo;
use super::secure_path::{ensure_in_rootfs, resolve_in_rootfs};
use super::symlinks::make_symlink;
use crate::recorder::FlagNames;

/// The one place that calls mount(2). `host_target` is where the kernel
/// should act (the call's own `target` may be a container path).
pub fn mount(call: &MountCall, host_target: &Path) -> Result<(), Errno> {
    mount_at(call, call.source.as_deref(), host_target)
}

/// [`mount`] with the kernel given other names for the source and target
/// than the call shows: `/proc/self/fd/N` of a file opened and checked
/// beforehand ([`in_root`](super::in_root)), so that nothing the container
/// changes in between can redirect the mount.
pub fn mount_at(call: &MountCall, kernel_source: Option<&Path>, host_target: &Path) -> Result<(), Errno> {
    let result =
        nix::mount::mount(kernel_source, host_target, call.fstype.as_deref(), call.flags, call.data.as_deref());
    crate::recorder::step("mount", |a| {
        a.opt_str("data", call.data.as_deref())
            .display("equivalent", call)
            .display("flags", FlagNames(call.flags))
            .opt_str("fstype", call.fstype.as_deref())
            .str("result", result.map_or_else(|e| e.desc(), |_| "ok"));
        match &call.source {
            Some(source) => a.path("source", source),
            None => a.null("source"),
        };
        a.path("target", &call.target);
    });
    result
}

/// Wraps a failed call into an error naming where it came from.
pub fn mount_error(origin: &str, what: &str, call: &MountCall, errno: Errno) -> RootfsError {
    RootfsError::Mount {
        origin: origin.into(),
        what: what.into(),
        call: call.to_string(),
        errno,
        hint: mount_hint(errno, call.data.as_deref()),
    }
}

/// The per-mount flags a mount already has. A remount replaces them all, and
/// inside a user namespace dropping one that the owner set (nosuid, nodev,
/// noexec, the atime ones, ro) is refused with EPERM — so they are carried over.
pub fn existing_flags(path: &Path) -> Result<MsFlags, Errno> {
    let have = statvfs(path)?.flags();
    let table = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    Ok(table.iter().filter(|(st, _)| have.contains(*st)).fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms))
}

/// Runs one call; a bind remount refused with EPERM is retried once with the
/// flags the mount already has (a second, visible call).
fn mount_or_retry_keeping_flags(call: &MountCall, host: &Path, origin: &str, what: &str) -> Result<(), RootfsError> {
    match mount(call, host) {
        Err(Errno::EPERM) if call.flags.contains(MsFlags::MS_REMOUNT | MsFlags::MS_BIND) => {
            let kept = existing_flags(host).map_err(|e| mount_error(origin, what, call, e))?;
            let retry = MountCall { flags: call.flags | kept, ..call.clone() };
            mount(&retry, host).map_err(|e| mount_error(origin, what, &retry, e))
        }
        other => other.map_err(|e| mount_error(origin, what, call, e)),
    }
}

/// Step 1 of `prepare_mounts`: `mount --make-rslave /` (or `linux.rootfsPropagation`),
/// so what the container mounts never propagates back to the host.
pub fn set_root_propagation(flags: MsFlags, origin: &str) -> Result<(), RootfsError> {
    let call = MountCall::propagation("/", flags);
    mount(&call, Path::new("/")).map_err(|e| mount_error(origin, "propagation of /", &call, e))
}

/// Step 2: pivot_root(2) fails with EINVAL when the mount holding the new
/// root is shared, so make that one mount private (only in our namespace).
pub fn make_rootfs_parent_private(rootfs: &Path) -> Result<(), RootfsError> {
    let table = mountinfo::read_own()?;
    let Some(parent) = mountinfo::mount_of(&table, rootfs) else {
        return Ok(());
    };
    if !parent.shared {
        return Ok(());
    }
    let call = MountCall::propagation(&parent.mount_point, MsFlags::MS_PRIVATE);
    mount(&call, &parent.mount_point).map_err(|e| mount_error("root.path", "the mount holding the rootfs", &call, e))
}

/// Step 3: `mount --rbind <rootfs> <rootfs>`: pivot_root(2) needs the new
/// root to be a mount point, and a plain directory is not one.
pub fn bind_rootfs_onto_itself(rootfs: &Path) -> Result<(), RootfsError> {
    let call = MountCall::bind(rootfs, rootfs, true);
    mount(&call, rootfs).map_err(|e| mount_error("root.path", "the rootfs onto itself", &call, e))
}

/// One `mounts[N]` entry: check the bind source, then each step in order,
/// creating the destination (a directory, or an empty file for a file bind).
/// `keep_to_itself`: in the runtime's mount namespace, each bind is made a
/// slave as soon as it exists ([`inherited::keep_to_itself`](super::inherited::keep_to_itself)).
pub fn apply_planned_mount(rootfs: &Path, plan: &PlannedMount, keep_to_itself: bool) -> Result<(), RootfsError> {
    if let Some(source) = &plan.bind_source {
        std::fs::metadata(source).map_err(|e| RootfsError::MissingBindSource {
            origin: plan.origin.clone(),
            source_path: source.clone(),
            errno: errno_of(&e),
        })?;
    }
    let field = format!("{}.destination", plan.origin);
    for step in &plan.steps {
        match step {
            MountStep::Mount(call) => {
                let host = host_target(rootfs, call, &field)?;
                mount_or_retry_keeping_flags(call, &host, &plan.origin, &plan.what)?;
                if keep_to_itself {
                    super::inherited::keep_to_itself(call, &host, &plan.origin, &plan.what)?;
                }
            }
            MountStep::Symlink(link) => make_symlink(rootfs, link, &field)?,
        }
    }
    Ok(())
}

/// Where the kernel should act for `call`, resolved inside the rootfs.
fn host_target(rootfs: &Path, call: &MountCall, field: &str) -> Result<std::path::PathBuf, RootfsError> {
    if !call.creates_mount() {
        return Ok(resolve_in_rootfs(rootfs, &call.target, field)?.host_path);
    }
    let source_is_file =
        call.is_bind() && call.source.as_deref().and_then(|s| std::fs::metadata(s).ok()).is_some_and(|m| !m.is_dir());
    ensure_in_rootfs(rootfs, &call.target, field, source_is_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_mount_names_the_entry_the_call_and_the_options() {
        let call = MountCall::new_fs("tmpfs", "tmpfs", "/dev", MsFlags::MS_NOSUID, Some("mode=755,size=bad".into()));
        let err = mount_error("mounts[2]", "tmpfs on /dev", &call, Errno::EINVAL).to_string();
        assert_eq!(
            err,
            "mounts[2] (tmpfs on /dev): mount(2) failed: EINVAL: Invalid argument — check the options \
             \"mode=755,size=bad\"; the call was `mount -t tmpfs -o nosuid,mode=755,size=bad tmpfs /dev`"
        );
        assert!(!err.contains('\n'));
    }
}
