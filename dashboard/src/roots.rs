//! The state roots the dashboard reads: the runtime's `--root` directories,
//! where each container has `<root>/<id>/state.json` and `events.jsonl` and
//! kept records sit in `<root>/.events/`.
//!
//! Given with `--root` (repeatable), or else the places glassbox's state
//! lives when people or engines run it with their defaults:
//! - `/run/glassbox`: glassbox's own default, and podman's (podman runs an
//!   OCI runtime with the runtime's default root);
//! - `/run/containerd/runc/<namespace>`: containerd's runc shim
//!   (io.containerd.runc.v2, which runs glassbox when it is the handler's
//!   `BinaryName`, or `ctr run --runc-binary`) passes `--root` there, one
//!   directory per containerd namespace (`default`, `k8s.io` for the CRI).
//!
//! runc's containers under containerd's directories are skipped by what
//! they hold (no `events.jsonl`, a state.json of runc's shape). The default
//! list is worked out again at each look, so a namespace containerd makes
//! after the dashboard started is read too.

use std::path::PathBuf;

/// Where containerd's runc shim keeps its runtimes' state, by namespace.
pub const CONTAINERD_RUNC_ROOT: &str = "/run/containerd/runc";
pub const GLASSBOX_ROOT: &str = "/run/glassbox";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// `--root` given: exactly these.
    Given(Vec<PathBuf>),
    /// None given: glassbox's, podman's and containerd's defaults that exist.
    Defaults,
}

impl Default for Roots {
    fn default() -> Self {
        Roots::Given(Vec::new())
    }
}

impl Roots {
    pub fn from_args(given: Vec<PathBuf>) -> Roots {
        if given.is_empty() {
            Roots::Defaults
        } else {
            Roots::Given(given)
        }
    }

    /// The directories to read now.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match self {
            Roots::Given(dirs) => dirs.clone(),
            Roots::Defaults => {
                let mut dirs = vec![PathBuf::from(GLASSBOX_ROOT)];
                let namespaces = std::fs::read_dir(CONTAINERD_RUNC_ROOT).into_iter().flatten().flatten();
                let mut namespaces: Vec<PathBuf> = namespaces.filter(|e| e.path().is_dir()).map(|e| e.path()).collect();
                namespaces.sort();
                dirs.extend(namespaces);
                dirs
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_roots_are_kept_and_none_means_the_defaults() {
        let given = Roots::from_args(vec!["/a".into(), "/b".into()]);
        assert_eq!(given.dirs(), vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        let defaults = Roots::from_args(Vec::new());
        assert_eq!(defaults, Roots::Defaults);
        assert_eq!(defaults.dirs()[0], PathBuf::from(GLASSBOX_ROOT));
        assert!(defaults.dirs().iter().skip(1).all(|d| d.starts_with(CONTAINERD_RUNC_ROOT)));
    }
}
