//! `glassbox ps`: the processes in the container's cgroup — or, for a
//! container without one (made without root), in its pid namespace.

use super::{Container, ContainerError};

impl Container {
    /// Host pids of every process of the container.
    pub fn pids(&self) -> Result<Vec<i32>, ContainerError> {
        match &self.cgroup {
            Some(cgroup) => Ok(cgroup.pids()),
            None if self.state.init_alive() => Ok(crate::namespaces::pid_namespace_members(self.state.pid)),
            None => Ok(Vec::new()),
        }
    }
}
