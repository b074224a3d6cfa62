//! What the init is given besides the spec: the paths, the options of the
//! command line and the recorder, in one value the runtime fills before the
//! clone. The init reads it from its copy of the runtime's memory (nothing
//! is serialised), so it is neither a message of the protocol
//! ([`protocol`](super::protocol)) nor part of the cloning
//! ([`spawn`](super::spawn)): both `spawn` and `init` use it, and it
//! uses neither.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::namespaces::NamespacePlan;

/// What the init needs to know besides the spec.
pub struct InitOptions<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// The container's cgroup path in each hierarchy, if it has a cgroup.
    pub cgroup_path: Option<&'a str>,
    pub exec_fifo: &'a Path,
    pub no_pivot: bool,
    pub new_keyring: bool,
    pub preserve_fds: i32,
    /// Where the init records its stages (shared with the runtime).
    pub recorder: &'a crate::recorder::Recorder,
    /// The cgroup2 directory to start the init in (clone3), if any.
    pub cgroup_v2: Option<&'a Path>,
    /// The v1 directories the init moves itself into (empty: the runtime moves it).
    pub join_v1: &'a [PathBuf],
    /// Who runs glassbox (root, root of a user namespace, a user).
    pub privilege: crate::rootless::Privilege,
}

impl InitOptions<'_> {
    /// Born dumpable, and non-dumpable from `Go` on: an ordinary user's
    /// runtime making a user namespace must open the init's
    /// `/proc/<pid>/uid_map` (and newuidmap its `/proc/<pid>`), which root, the
    /// owner of a non-dumpable process's /proc files, keeps shut.
    pub fn dumpable_until_go(&self, plan: &NamespacePlan) -> bool {
        plan.new_user && self.privilege.unprivileged().is_some()
    }
}
