//! Every host location glassbox touches comes from one [`Paths`] value, so a
//! test can point the whole runtime at a temporary directory.

use std::path::PathBuf;

/// Where glassbox keeps its state and which cgroup parent it uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `--root`: one sub-directory per container (`/run/glassbox/<id>/`).
    pub state_root: PathBuf,
    /// The cgroup every container goes under unless `cgroupsPath` is absolute.
    pub cgroup_parent: String,
}

impl Paths {
    pub const DEFAULT_STATE_ROOT: &'static str = "/run/glassbox";

    pub fn new(state_root: impl Into<PathBuf>) -> Paths {
        Paths { state_root: state_root.into(), cgroup_parent: "glassbox".into() }
    }

    /// `<root>/<id>`: state.json, the lock and exec.fifo live here.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.state_root.join(id)
    }
}
