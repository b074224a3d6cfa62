//! Containers in a pod. The CRI splits making a container in two, as the
//! OCI runtime does: CreateContainer only records it in containerd (its
//! config, its root filesystem snapshot); StartContainer has the pod's shim
//! run the runtime's `create` and `start`. ExecSync runs a command in it and
//! waits for its output; StopContainer signals it; RemoveContainer forgets it.
//!
//! [`ContainerSpec`] builds the `ContainerConfig` the kubelet would send for
//! a container with a name, an image and a command; its namespaces match the
//! pod's (see [`crate::pod`]).

use std::collections::HashMap;
use std::time::Duration;

use crate::api::{
    Container, ContainerConfig, ContainerMetadata, ContainerStatus, ExecSyncResponse, ImageSpec, LinuxContainerConfig,
    LinuxContainerSecurityContext, PodSandboxConfig,
};
use crate::{api, Cri, CriError};

/// A container as this client makes it.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub name: String,
    /// An image containerd already has in its `k8s.io` namespace (by name or id).
    pub image: String,
    /// Replaces the image's entrypoint; empty keeps the image's
    /// (`command` is the image's ENTRYPOINT, `args` its CMD, in CRI terms).
    pub command: Vec<String>,
}

impl ContainerSpec {
    pub fn new(name: &str, image: &str, command: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: image.into(),
            command: command.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The `ContainerConfig` the kubelet would send. Its output goes to
    /// `<pod log_directory>/<name>.log` when the pod has a log directory.
    pub fn config(&self) -> ContainerConfig {
        ContainerConfig {
            metadata: Some(ContainerMetadata { name: self.name.clone(), attempt: 0 }),
            image: Some(ImageSpec { image: self.image.clone(), ..Default::default() }),
            command: self.command.clone(),
            log_path: format!("{}.log", self.name),
            labels: HashMap::from([("glassbox-cri".into(), "container".into())]),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(crate::pod::namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

impl Cri {
    /// `RuntimeService.CreateContainer`: containerd prepares the container's
    /// root filesystem snapshot and its OCI spec (joining the pause
    /// process's namespaces by path), and records it. No runtime call yet.
    /// Returns the container's id.
    pub fn create_container(
        &mut self,
        pod_id: &str,
        config: &ContainerConfig,
        pod_config: &PodSandboxConfig,
    ) -> Result<String, CriError> {
        let request = api::CreateContainerRequest {
            pod_sandbox_id: pod_id.into(),
            config: Some(config.clone()),
            sandbox_config: Some(pod_config.clone()),
        };
        let reply = self.caller.call("CreateContainer", Duration::ZERO, self.runtime.create_container(request))?;
        Ok(reply.container_id)
    }

    /// `RuntimeService.StartContainer`: the pod's shim runs `glassbox create
    /// --bundle B --pid-file B/init.pid <id>` (its stdio are fifos the shim
    /// copies to the log) and then `glassbox start <id>`.
    pub fn start_container(&mut self, id: &str) -> Result<(), CriError> {
        let request = api::StartContainerRequest { container_id: id.into() };
        self.caller.call("StartContainer", Duration::ZERO, self.runtime.start_container(request))?;
        Ok(())
    }

    /// `RuntimeService.ExecSync`: the shim writes the command as an OCI
    /// process.json and runs `glassbox exec --process P --detach --pid-file F
    /// <id>`, collects its stdout and stderr and waits for its exit code.
    /// `timeout_secs` (0: none) bounds the command; the call's own deadline is
    /// the client's timeout plus that.
    pub fn exec_sync(&mut self, id: &str, cmd: &[&str], timeout_secs: u32) -> Result<ExecSyncResponse, CriError> {
        let request = api::ExecSyncRequest {
            container_id: id.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: timeout_secs.into(),
        };
        let extra = Duration::from_secs(timeout_secs.into());
        self.caller.call("ExecSync", extra, self.runtime.exec_sync(request))
    }

    /// `RuntimeService.StopContainer`: `glassbox kill <id> 15` (or the image's
    /// stop signal), and after `timeout_secs` without an exit, `glassbox kill
    /// <id> 9`. Once the container's init has exited, the shim runs
    /// `glassbox kill --all <id> 9` on the stopped container (nothing may be
    /// left in its cgroup), then `glassbox delete <id>` and `delete --force
    /// <id>`: the container's cgroup and state are gone when this returns.
    pub fn stop_container(&mut self, id: &str, timeout_secs: u32) -> Result<(), CriError> {
        let request = api::StopContainerRequest { container_id: id.into(), timeout: timeout_secs.into() };
        let extra = Duration::from_secs(timeout_secs.into());
        self.caller.call("StopContainer", extra, self.runtime.stop_container(request))?;
        Ok(())
    }

    /// `RuntimeService.RemoveContainer`: a container still running is
    /// stopped first, without a grace period (as StopContainer with 0); then
    /// containerd drops its snapshot and its record. A stopped container's
    /// runtime state went when it exited, so no runtime call is left to make.
    pub fn remove_container(&mut self, id: &str) -> Result<(), CriError> {
        let request = api::RemoveContainerRequest { container_id: id.into() };
        self.caller.call("RemoveContainer", Duration::ZERO, self.runtime.remove_container(request))?;
        Ok(())
    }

    /// `RuntimeService.ContainerStatus`: state (CREATED, RUNNING, EXITED),
    /// exit code, times, from containerd's records.
    pub fn container_status(&mut self, id: &str) -> Result<ContainerStatus, CriError> {
        let request = api::ContainerStatusRequest { container_id: id.into(), verbose: false };
        let reply = self.caller.call("ContainerStatus", Duration::ZERO, self.runtime.container_status(request))?;
        reply.status.ok_or(CriError::Missing { call: "ContainerStatus", field: "status" })
    }

    /// `RuntimeService.ListContainers`: the containers of the pod `pod_id`,
    /// or of every pod.
    pub fn list_containers(&mut self, pod_id: Option<&str>) -> Result<Vec<Container>, CriError> {
        let filter = pod_id.map(|pod| api::ContainerFilter { pod_sandbox_id: pod.into(), ..Default::default() });
        let request = api::ListContainersRequest { filter };
        Ok(self.caller.call("ListContainers", Duration::ZERO, self.runtime.list_containers(request))?.containers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_replaces_the_entrypoint_and_the_log_is_named_after_the_container() {
        let config = ContainerSpec::new("app", "busybox", &["sleep", "1"]).config();
        assert_eq!(config.command, ["sleep", "1"]);
        assert!(config.args.is_empty(), "the image's CMD would follow the command otherwise");
        assert_eq!(config.log_path, "app.log");
        assert_eq!(config.image.unwrap().image, "busybox");
    }
}
