//! `glassbox pause` / `resume`: freeze and thaw every process of the
//! container with the cgroup freezer (man7 cgroups(7); v1 freezer.state,
//! v2 cgroup.freeze). Frozen processes keep their memory and open files but
//! get no CPU time until thawed.

use super::{Container, ContainerError};
use crate::state::Status;

impl Container {
    pub fn pause(&self) -> Result<(), ContainerError> {
        if self.status() != Status::Running {
            return Err(self.wrong_status("only a running container can be paused"));
        }
        Ok(self.cgroup_for("pause stops its processes with the cgroup freezer")?.freeze()?)
    }

    pub fn resume(&self) -> Result<(), ContainerError> {
        if self.status() != Status::Paused {
            return Err(self.wrong_status("only a paused container can be resumed"));
        }
        Ok(self.cgroup_for("resume thaws its processes with the cgroup freezer")?.thaw()?)
    }
}
