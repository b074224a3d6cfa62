//! `glassbox ps`: the processes in the container's cgroup.

use super::{Container, ContainerError};

impl Container {
    /// Host pids of every process in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, ContainerError> {
        Ok(self.cgroup.pids())
    }
}
