//! The container's root filesystem: from a directory in the bundle to the
//! `/` the container's process sees (runtime-spec config.md "Root" and
//! "Mounts", config-linux.md "Devices", "Masked/Readonly Paths", "Rootfs
//! Mount Propagation"; man pages mount(2), mount_namespaces(7), pivot_root(2)).
//!
//! Called by the container's init process — root, single-threaded, already
//! in its own mount namespace (for a container without one, see
//! [`inherited`]: nothing of the host's tree changes, chroot(2) replaces
//! pivot_root, and `delete` takes the mounts away) — in this order:
//!
//! 1. still seeing the host's tree, [`prepare_mounts`] (the `mounts` stage):
//!    1. `mount --make-rslave /` (or `linux.rootfsPropagation`, made
//!       recursive): our mounts must not propagate back to the host;
//!    2. the mount holding the rootfs made private if it is shared, and
//!       `mount --rbind <rootfs> <rootfs>`, since pivot_root needs a mount
//!       point whose parent is not shared;
//!    3. every `mounts[]` entry in order ([`mount_plan`] decides, [`mounts`]
//!       does), each destination resolved inside the rootfs ([`secure_path`]);
//!
//!    then [`make_devices`] (the `devices` stage): device nodes and /dev
//!    symlinks ([`devices`]).
//! 2. [`enter`]: pivot_root into it (or MS_MOVE + chroot) — [`pivot`].
//!    (The init then sets up /dev/console; /dev is still writable.)
//! 3. [`finish`], inside: masked paths, read-only paths, read-only `/`, the
//!    final propagation ([`masks`]).
//!
//! Every concrete action is a value of [`actions`] whose `Display` is the
//! shell command doing the same; each is executed by one function making
//! one system call ([`mounts::mount`], mknod in [`devices`], symlink in
//! [`symlinks`]), so events can later be emitted there.
//!
//! A relative bind `source` is used as given, i.e. relative to the current
//! directory (runc runs in the bundle directory).

pub mod actions;
pub mod devices;
mod error;
pub mod in_root;
pub mod inherited;
pub mod masks;
pub mod mount_plan;
pub mod mountinfo;
pub mod mounts;
pub mod options;
pub mod pivot;
pub mod secure_path;
pub mod symlinks;

use std::path::Path;

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

pub use error::RootfsError;
pub use mount_plan::{CgroupLayout, PlannedMount};

/// What the init process knows when it prepares the root filesystem.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    /// Absolute, canonical host path of the container's root (bundle + `root.path`).
    pub rootfs: &'a Path,
    /// The init runs in a new user namespace: `mknod` is not permitted there,
    /// so device nodes are bind-mounted from the host instead.
    pub in_user_namespace: bool,
    /// The container's cgroup path in each hierarchy (`glassbox/<id>`), if
    /// it has a cgroup (a container made without root may not).
    pub cgroup_path: Option<&'a str>,
    /// No mount namespace of its own: the runtime's is shared ([`inherited`]).
    pub shares_runtime_mounts: bool,
}

/// The propagation `/` gets before anything is mounted: the spec's choice,
/// always made recursive (a non-recursive one would leave host submounts
/// shared and let container mounts leak), or `rslave` by default.
///
/// `unbindable` is the exception: an unbindable mount cannot be the source
/// of a bind mount, so the bind of the rootfs onto itself (step 2) would
/// fail with EINVAL. Unbindable is private plus "no binds of it", so the
/// preparation makes everything private, and the container's own `/`
/// becomes unbindable at the end ([`masks`]), once nothing more is bound
/// from it.
pub fn preparation_propagation(spec: &Spec) -> Result<MsFlags, RootfsError> {
    match spec.linux().as_ref().and_then(|l| l.rootfs_propagation().as_deref()) {
        None => Ok(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        Some(word) => match options::propagation_flags(word) {
            Some(f) if f.contains(MsFlags::MS_UNBINDABLE) => Ok(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            Some(f) => Ok(f | MsFlags::MS_REC),
            None => Err(RootfsError::BadPropagation { value: word.into() }),
        },
    }
}

/// Propagation of `/`, the rootfs bind mount, every `mounts[]` entry in order.
pub fn prepare_mounts(ctx: &RootfsContext) -> Result<(), RootfsError> {
    if ctx.shares_runtime_mounts {
        // The host's own mounts are not ours to change: only the rootfs bind is.
        inherited::prepare(ctx.rootfs)?;
    } else {
        mounts::set_root_propagation(preparation_propagation(ctx.spec)?, "linux.rootfsPropagation")?;
        mounts::make_rootfs_parent_private(ctx.rootfs)?;
        mounts::bind_rootfs_onto_itself(ctx.rootfs)?;
    }

    let wants_cgroup = ctx.spec.mounts().iter().flatten().any(|m| m.typ().as_deref() == Some("cgroup"));
    // Only look at the host's cgroups when a mount asks for them.
    let layout = if wants_cgroup { CgroupLayout::detect(ctx.cgroup_path)? } else { CgroupLayout::Legacy(vec![]) };
    for planned in mount_plan::plan_mounts(ctx.spec, &layout)? {
        mounts::apply_planned_mount(ctx.rootfs, &planned, ctx.shares_runtime_mounts)?;
    }
    Ok(())
}

/// Device nodes (or, in a user namespace, binds of the host's) and the
/// /dev symlinks, once /dev is mounted.
pub fn make_devices(ctx: &RootfsContext) -> Result<(), RootfsError> {
    secure_path::ensure_in_rootfs(ctx.rootfs, Path::new("/dev"), "/dev", false)?;
    for action in devices::plan_devices(ctx.spec, ctx.in_user_namespace)? {
        devices::apply_device(ctx.rootfs, &action)?;
    }
    Ok(())
}

/// Make the rootfs the process's `/` (pivot_root, or MS_MOVE + chroot when
/// `no_pivot`; only chroot in the runtime's mount namespace, where both
/// would move the host's root), leaving the cwd at the new `/`.
pub fn enter(ctx: &RootfsContext, no_pivot: bool) -> Result<(), RootfsError> {
    if ctx.shares_runtime_mounts {
        inherited::chroot_into(ctx.rootfs)
    } else if no_pivot {
        pivot::move_and_chroot(ctx.rootfs)
    } else {
        pivot::pivot_into(ctx.rootfs)
    }
}

/// After pivot_root: masked paths, read-only paths, a read-only root, and
/// the final propagation of `/`.
pub fn finish(ctx: &RootfsContext) -> Result<(), RootfsError> {
    let mut finishing = masks::Finishing::new()?;
    for step in masks::plan_finish(ctx.spec)? {
        masks::apply_finish_step(&step, &mut finishing)?;
    }
    Ok(())
}

#[cfg(test)]
mod root_test;

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, SpecBuilder};

    fn prepared_with(word: &str) -> MsFlags {
        let linux = LinuxBuilder::default().rootfs_propagation(word).build().unwrap();
        preparation_propagation(&SpecBuilder::default().linux(linux).build().unwrap()).unwrap()
    }

    #[test]
    fn preparation_is_recursive_and_never_unbindable() {
        assert_eq!(prepared_with("slave"), MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(prepared_with("rshared"), MsFlags::MS_SHARED | MsFlags::MS_REC);
        // The rootfs must still be bound onto itself: private now, unbindable at the end.
        for word in ["unbindable", "runbindable"] {
            assert_eq!(prepared_with(word), MsFlags::MS_PRIVATE | MsFlags::MS_REC, "{word}");
        }
        let none = preparation_propagation(&SpecBuilder::default().build().unwrap()).unwrap();
        assert_eq!(none, MsFlags::MS_SLAVE | MsFlags::MS_REC);
    }
}
