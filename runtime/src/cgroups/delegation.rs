//! May glassbox make this cgroup without root? Only where the cgroup tree
//! was handed to the user: a **delegated** subtree, whose directories (and
//! their cgroup.procs) belong to the user (cgroups(7), "Cgroups v2
//! delegation"). systemd does that for a user's session on cgroup v2; on
//! cgroup v1 every controller's hierarchy belongs to root and is not
//! delegated (systemd refuses to: v1 gives a delegatee no safe limits).
//!
//! The test is access(2) for writing, as the caller, on the deepest
//! directory that already exists on the way to the container's cgroup, in
//! every hierarchy it would live in: mkdir(2) there is what creating it
//! takes. A root runtime never asks.

use std::path::{Path, PathBuf};

use nix::unistd::AccessFlags;

/// Where a cgroup may not be made, and so why the container has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDelegated {
    /// The directory that is not writable (the deepest existing one).
    pub dir: PathBuf,
}

impl std::fmt::Display for NotDelegated {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let uid = nix::unistd::geteuid();
        write!(f, "{} is not writable by uid {uid}", self.dir.display())
    }
}

/// Ok when every directory in `dirs` (one per hierarchy) could be made by
/// this process; else the first place that refuses.
pub fn check_writable(dirs: &[PathBuf]) -> Result<(), NotDelegated> {
    for dir in dirs {
        let existing = deepest_existing(dir);
        let writable = |p: &Path| {
            nix::unistd::faccessat(nix::fcntl::AT_FDCWD, p, AccessFlags::W_OK, nix::fcntl::AtFlags::AT_EACCESS).is_ok()
        };
        // A cgroup made for us beforehand must also take our processes.
        let ok = writable(&existing) && (existing != *dir || writable(&dir.join("cgroup.procs")));
        if !ok {
            return Err(NotDelegated { dir: existing });
        }
    }
    Ok(())
}

/// `dir` itself if it exists, else its nearest existing ancestor.
fn deepest_existing(dir: &Path) -> PathBuf {
    dir.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/")).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_existing_directory_decides() {
        let tmp = tempfile::tempdir().unwrap();
        let wanted = tmp.path().join("glassbox/c1");
        assert_eq!(deepest_existing(&wanted), tmp.path());
        assert!(check_writable(std::slice::from_ref(&wanted)).is_ok(), "our own temp dir is writable");
        // A directory that exists is judged by its cgroup.procs too.
        std::fs::create_dir_all(&wanted).unwrap();
        let e = check_writable(std::slice::from_ref(&wanted)).unwrap_err();
        assert_eq!(e.dir, wanted, "no cgroup.procs: it would take no process");
        std::fs::write(wanted.join("cgroup.procs"), "").unwrap();
        assert!(check_writable(std::slice::from_ref(&wanted)).is_ok());
    }
}
