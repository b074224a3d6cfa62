//! The container's root filesystem (STUB — being written; interface is fixed).
//!
//! Called by the container's init process, inside its new mount namespace,
//! in this order: [`prepare`] → [`enter`] → [`finish`].

use std::path::Path;

use oci_spec::runtime::Spec;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{0}")]
    Other(String),
}

/// What the init process knows when it prepares the root filesystem.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    /// Absolute, canonical host path of the container's root (bundle + `root.path`).
    pub rootfs: &'a Path,
    /// The init runs in a new user namespace: `mknod` is not permitted there,
    /// so device nodes are bind-mounted from the host instead.
    pub in_user_namespace: bool,
}

/// Before pivot_root: propagation of `/`, the rootfs bind mount, every
/// `mounts[]` entry in order, device nodes and the /dev symlinks.
pub fn prepare(_ctx: &RootfsContext) -> Result<(), RootfsError> {
    Ok(())
}

/// Make the rootfs the process's `/` (pivot_root, or MS_MOVE + chroot when
/// `no_pivot`), leaving the cwd at the new `/`.
pub fn enter(_ctx: &RootfsContext, _no_pivot: bool) -> Result<(), RootfsError> {
    Ok(())
}

/// After pivot_root: masked paths, read-only paths, a read-only root, and
/// the final propagation of `/`.
pub fn finish(_ctx: &RootfsContext) -> Result<(), RootfsError> {
    Ok(())
}
