//! `glassbox kill`: send a signal to the container's init, or with `--all`
//! to every process in its cgroup — or, for a container without one, in its
//! pid namespace (man7 kill(2)).
//!
//! Three things engines rely on, as runc does them:
//! - `kill --all` of a *stopped* container succeeds. The init may be gone
//!   while other processes live on in its cgroup: a container without a pid
//!   namespace of its own (a Kubernetes pod sharing one, hostPID) does not
//!   take its children with it when its init exits, and containerd's shim
//!   sends `kill --all ID 9` to clean up after exactly that. With nothing
//!   left, there is nothing to do, which is not an error.
//! - A frozen process (a paused container, cgroup v1 freezer) cannot act on
//!   a signal until it is thawed, not even on SIGKILL: after SIGKILL the
//!   container is thawed, so that it dies now rather than at `resume`.
//!   Other signals wait, as the pause asked, and are acted on at `resume`.
//! - The errors say "container not running" and "no such process" where
//!   that is what happened: containerd takes those words (and "does not
//!   exist", from an unknown id) to mean "already gone" rather than failure.

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{Container, ContainerError};
use crate::state::Status;

impl Container {
    pub fn kill(&self, signal: Signal, all: bool) -> Result<(), ContainerError> {
        let status = self.status();
        if all {
            return self.signal_every_process(signal, status);
        }
        if !self.can_kill() {
            return Err(self.not_running());
        }
        match kill(Pid::from_raw(self.state.pid), signal) {
            // The init exited between the status check and the kill(2).
            Err(Errno::ESRCH) => return Err(self.not_running()),
            Err(e) => {
                return Err(ContainerError::Io {
                    what: "kill(2) of the container's init",
                    path: format!("/proc/{}", self.state.pid).into(),
                    source: e.into(),
                })
            }
            Ok(()) => {}
        }
        if status == Status::Paused && signal == Signal::SIGKILL {
            self.thaw_to_let_die();
        }
        Ok(())
    }

    /// `kill --all`: every process the container has, whatever its status.
    /// In a cgroup, the cgroup is frozen while its list is read and
    /// signalled, so that no process forks a child past the list; then
    /// thawed — unless it was paused and the signal can wait.
    fn signal_every_process(&self, signal: Signal, status: Status) -> Result<(), ContainerError> {
        let Some(cgroup) = &self.cgroup else {
            // A container without a cgroup has a pid namespace of its own
            // (rootless::check insists): once its init is gone, so is the rest.
            for pid in self.pids()? {
                let _ = kill(Pid::from_raw(pid), signal);
            }
            return Ok(());
        };
        let was_paused = status == Status::Paused;
        // Without a freezer (or a process stuck in the kernel), signal anyway.
        let froze = !was_paused && cgroup.freeze().is_ok();
        cgroup.signal_all(signal);
        if froze || (was_paused && signal == Signal::SIGKILL) {
            let _ = cgroup.thaw();
        }
        Ok(())
    }

    /// After SIGKILL to a paused container: on cgroup v1 a frozen task
    /// cannot die, so thaw it (on v2 the kernel lets fatal signals through
    /// the freezer; the thaw does no harm).
    fn thaw_to_let_die(&self) {
        if let Some(cgroup) = &self.cgroup {
            let _ = cgroup.thaw();
        }
    }

    fn not_running(&self) -> ContainerError {
        self.wrong_status(
            "container not running: its init has exited, so there is no process left to signal \
             (no such process); `kill --all` still reaches whatever is left in its cgroup",
        )
    }
}
