//! The pod sandbox: what a Kubernetes pod is to the runtime. Before any of
//! the pod's containers exists, containerd starts a *sandbox container* (the
//! "pause" process, from its `sandbox_image`) whose namespaces the pod's
//! containers then join: it is an ordinary OCI container, made by the
//! runtime the pod's RuntimeClass handler names.
//!
//! [`PodSpec`] holds the few things this client lets a caller choose and
//! builds the `PodSandboxConfig` the kubelet would send. Its pods use the
//! host's network (`network: NODE`): no CNI plugin is needed, and, as the CRI
//! requires for such pods, the hostname is left empty (a hostname is set in a
//! UTS namespace of the pod's own, which a host-network pod does not get).

use std::collections::HashMap;
use std::time::Duration;

use crate::api::{
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption, PodSandbox, PodSandboxConfig,
    PodSandboxMetadata, PodSandboxStatus,
};
use crate::{api, Cri, CriError};

/// The cgroup under which this client's pods (and their containers) get
/// their cgroups, in every hierarchy: `/sys/fs/cgroup/pids/glassbox-cri/<id>`.
pub const DEFAULT_CGROUP_PARENT: &str = "/glassbox-cri";

/// A pod as this client makes it: a name and a namespace (Kubernetes'),
/// the RuntimeClass handler that picks the runtime, and where its cgroups go.
#[derive(Clone, Debug)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    /// The pod's UID in Kubernetes; any unique string will do here.
    pub uid: String,
    /// A runtime handler of containerd's CRI config
    /// (`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<handler>]`);
    /// empty means containerd's default runtime.
    pub handler: String,
    /// cgroupfs-style parent of the pod's cgroups (an absolute path).
    pub cgroup_parent: String,
    /// Where containerd writes the containers' logs (a host directory, made
    /// if missing); empty: their output is thrown away.
    pub log_directory: String,
}

impl PodSpec {
    /// A pod named `name` in namespace `default`, for `handler`.
    pub fn new(name: &str, handler: &str) -> PodSpec {
        PodSpec {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("{name}-uid"),
            handler: handler.into(),
            cgroup_parent: DEFAULT_CGROUP_PARENT.into(),
            log_directory: String::new(),
        }
    }

    /// The `PodSandboxConfig` the kubelet would send for this pod: host
    /// network, its own IPC namespace shared by its containers, and a pid
    /// namespace per container (what the kubelet asks for unless the pod sets
    /// `shareProcessNamespace`).
    pub fn config(&self) -> PodSandboxConfig {
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: self.name.clone(),
                uid: self.uid.clone(),
                namespace: self.namespace.clone(),
                attempt: 0,
            }),
            hostname: String::new(),
            log_directory: self.log_directory.clone(),
            labels: HashMap::from([("glassbox-cri".into(), "pod".into())]),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: self.cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The config of a pod that already runs, rebuilt from what
    /// `PodSandboxStatus` says of it: CreateContainer wants the pod's config
    /// again (containerd reads the cgroup parent, the log directory, the
    /// labels and annotations from it), and the CRI keeps no copy to give
    /// back. What the status does not say — the cgroup parent, the log
    /// directory — comes from `self`.
    pub fn config_of(&self, status: &PodSandboxStatus) -> PodSandboxConfig {
        let mut config = self.config();
        config.metadata = status.metadata.clone();
        config.labels = status.labels.clone();
        config.annotations = status.annotations.clone();
        config
    }
}

/// Host network (`NODE`), one IPC namespace for the pod (`POD`), one pid
/// namespace per container (`CONTAINER`).
pub(crate) fn namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

impl Cri {
    /// `RuntimeService.RunPodSandbox`: containerd mounts the sandbox image's
    /// root filesystem (an overlay snapshot), writes an OCI bundle, starts a
    /// shim for the pod, and the shim runs `glassbox create --bundle B
    /// --pid-file B/init.pid <pod id>` then `glassbox start <pod id>`: the
    /// pause process. Returns the pod's id (also the sandbox container's).
    pub fn run_pod_sandbox(&mut self, config: &PodSandboxConfig, handler: &str) -> Result<String, CriError> {
        let request = api::RunPodSandboxRequest { config: Some(config.clone()), runtime_handler: handler.into() };
        let reply = self.caller.call("RunPodSandbox", Duration::ZERO, self.runtime.run_pod_sandbox(request))?;
        Ok(reply.pod_sandbox_id)
    }

    /// `RuntimeService.PodSandboxStatus`: answered from containerd's own
    /// records (state READY or NOTREADY, the namespaces, the handler).
    pub fn pod_sandbox_status(&mut self, pod_id: &str) -> Result<PodSandboxStatus, CriError> {
        let request = api::PodSandboxStatusRequest { pod_sandbox_id: pod_id.into(), verbose: false };
        let reply = self.caller.call("PodSandboxStatus", Duration::ZERO, self.runtime.pod_sandbox_status(request))?;
        reply.status.ok_or(CriError::Missing { call: "PodSandboxStatus", field: "status" })
    }

    /// `RuntimeService.ListPodSandbox`: every pod containerd knows, ready or not.
    pub fn list_pod_sandbox(&mut self) -> Result<Vec<PodSandbox>, CriError> {
        let request = api::ListPodSandboxRequest { filter: None };
        Ok(self.caller.call("ListPodSandbox", Duration::ZERO, self.runtime.list_pod_sandbox(request))?.items)
    }

    /// `RuntimeService.StopPodSandbox`: stops the pod's containers that
    /// still run, without a grace period (`glassbox kill <id> 9`), then the
    /// pause process (`glassbox kill <pod id> 9`); as each init exits the
    /// shim runs `glassbox kill --all <id> 9`, `delete <id>` and `delete
    /// --force <id>`, and the shim exits with the pod's last task. The
    /// sandbox stays known, NOTREADY, until it is removed.
    pub fn stop_pod_sandbox(&mut self, pod_id: &str) -> Result<(), CriError> {
        let request = api::StopPodSandboxRequest { pod_sandbox_id: pod_id.into() };
        self.caller.call("StopPodSandbox", Duration::ZERO, self.runtime.stop_pod_sandbox(request))?;
        Ok(())
    }

    /// `RuntimeService.RemovePodSandbox`: stops the pod first if it still
    /// runs (as StopPodSandbox); then containerd forgets its containers and
    /// the sandbox and drops their snapshots. No runtime call of its own.
    pub fn remove_pod_sandbox(&mut self, pod_id: &str) -> Result<(), CriError> {
        let request = api::RemovePodSandboxRequest { pod_sandbox_id: pod_id.into() };
        self.caller.call("RemovePodSandbox", Duration::ZERO, self.runtime.remove_pod_sandbox(request))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_network_pod_has_no_hostname_and_a_pid_namespace_per_container() {
        let config = PodSpec::new("web", "glassbox").config();
        assert_eq!(config.hostname, "", "the CRI refuses a hostname for a pod on the host's network");
        let linux = config.linux.unwrap();
        assert_eq!(linux.cgroup_parent, DEFAULT_CGROUP_PARENT);
        let ns = linux.security_context.unwrap().namespace_options.unwrap();
        assert_eq!(ns.network, NamespaceMode::Node as i32);
        assert_eq!(ns.pid, NamespaceMode::Container as i32);
        assert_eq!(ns.ipc, NamespaceMode::Pod as i32);
        assert_eq!(config.metadata.unwrap().namespace, "default");
    }

    #[test]
    fn a_running_pods_config_is_rebuilt_from_its_status() {
        let spec = PodSpec { cgroup_parent: "/elsewhere".into(), ..PodSpec::new("ignored", "") };
        let status = PodSandboxStatus {
            metadata: Some(PodSandboxMetadata {
                name: "web".into(),
                uid: "u1".into(),
                namespace: "ns".into(),
                attempt: 2,
            }),
            labels: HashMap::from([("app".into(), "web".into())]),
            ..Default::default()
        };
        let config = spec.config_of(&status);
        assert_eq!(config.metadata, status.metadata);
        assert_eq!(config.labels, status.labels);
        assert_eq!(
            config.linux.unwrap().cgroup_parent,
            "/elsewhere",
            "what the status does not say comes from the spec"
        );
    }
}
