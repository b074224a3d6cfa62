//! Making a symlink inside the rootfs (symlink(2)): the /dev conveniences
//! (`/dev/fd -> /proc/self/fd`…) and the cgroup v1 aliases
//! (`cpu -> cpu,cpuacct`). The directory that holds the link is resolved
//! securely; the link itself is never followed.

use std::path::Path;

use super::actions::SymlinkCall;
use super::error::{errno_of, RootfsError};
use super::secure_path::ensure_in_rootfs;

/// `ln -s` inside the rootfs. An existing `link` is left alone, unless the
/// call says `replace` (then it is removed first, unless it already is this
/// very symlink).
pub fn make_symlink(rootfs: &Path, call: &SymlinkCall, origin: &str) -> Result<(), RootfsError> {
    let fail = |errno| RootfsError::Symlink {
        origin: origin.into(),
        link: call.link.clone(),
        target: call.target.clone(),
        errno,
    };
    let parent = call.link.parent().unwrap_or(Path::new("/"));
    let name = call.link.file_name().ok_or_else(|| fail(nix::errno::Errno::EINVAL))?;
    let host_link = ensure_in_rootfs(rootfs, parent, origin, false)?.join(name);
    if let Ok(meta) = std::fs::symlink_metadata(&host_link) {
        let same =
            meta.file_type().is_symlink() && std::fs::read_link(&host_link).ok().as_deref() == Some(&*call.target);
        if same || !call.replace {
            return Ok(());
        }
        let removed = if meta.is_dir() { std::fs::remove_dir(&host_link) } else { std::fs::remove_file(&host_link) };
        removed.map_err(|e| fail(errno_of(&e)))?;
    }
    std::os::unix::fs::symlink(&call.target, &host_link).map_err(|e| fail(errno_of(&e)))
}
