//! `glassbox kill`: send a signal to the container's init, or with `--all`
//! to every process in its cgroup — or, for a container without one, in its
//! pid namespace (man7 kill(2)).

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{Container, ContainerError};

impl Container {
    pub fn kill(&self, signal: Signal, all: bool) -> Result<(), ContainerError> {
        if !self.can_kill() {
            return Err(self.wrong_status("there is no process left to signal"));
        }
        if all {
            match &self.cgroup {
                Some(cgroup) => cgroup.signal_all(signal),
                None => {
                    for pid in self.pids()? {
                        let _ = kill(Pid::from_raw(pid), signal);
                    }
                }
            }
            return Ok(());
        }
        kill(Pid::from_raw(self.state.pid), signal).map_err(|e| ContainerError::Io {
            what: "kill(2) of the container's init",
            path: format!("/proc/{}", self.state.pid).into(),
            source: e.into(),
        })
    }
}
