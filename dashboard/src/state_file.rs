//! A container's `state.json` as the runtime writes it (`<root>/<id>/state.json`),
//! read by field name: what the events do not say — the bundle, when it was
//! created and by whom, its annotations, its cgroup path, and its init's pid
//! with that process's start time (to tell it apart from a later process
//! that got the same pid). The dashboard does not link the runtime crate, so
//! it reads only the fields it shows and ignores the rest.
//!
//! Other runtimes write a `state.json` of another shape in the same kind of
//! directory (runc under containerd's `/run/containerd/runc/<namespace>`):
//! a file without `ociVersion`, `id` and `pid` is not glassbox's, and skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a glassbox state file ({source})")]
    NotOurs { path: PathBuf, source: serde_json::Error },
}

/// The fields of `state.json` the dashboard uses (camelCase on disk).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFile {
    #[allow(dead_code)]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    #[serde(default)]
    pub pid_start_time: u64,
    #[serde(default)]
    pub bundle: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Relative to each hierarchy's root, e.g. `glassbox/web`.
    #[serde(default)]
    pub cgroup_path: Option<String>,
}

/// Pod, namespace and container names, from the annotations containerd's
/// CRI plugin puts on every container it makes for the kubelet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Kubernetes {
    pub pod: String,
    pub namespace: String,
    pub container: String,
}

/// containerd's CRI annotation keys (pkg/cri/annotations in containerd):
/// the sandbox's name and namespace are on every container of the pod;
/// the container name only on application containers, not on the pause
/// container that holds the pod's namespaces (its `container-type` is
/// `sandbox`).
pub const POD_NAME: &str = "io.kubernetes.cri.sandbox-name";
pub const POD_NAMESPACE: &str = "io.kubernetes.cri.sandbox-namespace";
pub const CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";

impl Kubernetes {
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Option<Kubernetes> {
        let pod = annotations.get(POD_NAME)?.clone();
        let namespace = annotations.get(POD_NAMESPACE).cloned().unwrap_or_default();
        // The pause container: name it as the kubelet's cAdvisor does ("POD").
        let container = annotations.get(CONTAINER_NAME).cloned().unwrap_or_else(|| "POD".into());
        Some(Kubernetes { pod, namespace, container })
    }
}

/// `<root>/<id>/state.json`, if there is one and it is glassbox's.
pub fn read(root: &Path, id: &str) -> Result<Option<StateFile>, StateFileError> {
    let path = root.join(id).join("state.json");
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateFileError::Read { path, source }),
    };
    serde_json::from_slice(&text).map(Some).map_err(|source| StateFileError::NotOurs { path, source })
}

/// The first root that holds a state file for `id`.
pub fn find(roots: &[PathBuf], id: &str) -> Option<StateFile> {
    roots.iter().find_map(|root| read(root, id).ok().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glassbox_state_is_read_and_kubernetes_names_come_from_cri_annotations() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("c1")).unwrap();
        std::fs::write(
            root.path().join("c1/state.json"),
            r#"{"ociVersion":"1.2.0","id":"c1","pid":42,"pidStartTime":7,"bundle":"/b","rootfs":"/b/rootfs",
               "cgroupPath":"glassbox/c1","created":"2026-12-07T10:00:00.5Z","owner":"root",
               "annotations":{"io.kubernetes.cri.sandbox-name":"web-0","io.kubernetes.cri.sandbox-namespace":"shop",
               "io.kubernetes.cri.container-name":"nginx"},"hooks":{}}"#,
        )
        .unwrap();
        let state = read(root.path(), "c1").unwrap().unwrap();
        assert_eq!((state.pid, state.pid_start_time, state.bundle.as_str()), (42, 7, "/b"));
        assert_eq!(state.cgroup_path.as_deref(), Some("glassbox/c1"));
        let k8s = Kubernetes::from_annotations(&state.annotations).unwrap();
        assert_eq!(k8s, Kubernetes { pod: "web-0".into(), namespace: "shop".into(), container: "nginx".into() });
        assert_eq!(Kubernetes::from_annotations(&BTreeMap::new()), None);

        // runc's state.json, in the same kind of directory: not ours.
        std::fs::create_dir_all(root.path().join("r1")).unwrap();
        std::fs::write(root.path().join("r1/state.json"), r#"{"id":"r1","init_process_pid":5}"#).unwrap();
        assert!(matches!(read(root.path(), "r1"), Err(StateFileError::NotOurs { .. })));
        assert_eq!(read(root.path(), "none").unwrap(), None);
        assert_eq!(find(&[root.path().join("x"), root.path().to_path_buf()], "c1").unwrap().id, "c1");
    }
}
