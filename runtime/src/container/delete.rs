//! `glassbox delete`: remove a stopped (or, with --force, any) container:
//! poststop hooks, its cgroup, its state directory — the `cleanup` stage of
//! its record.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Container, ContainerError};
use crate::hooks;
use crate::paths::Paths;
use crate::recorder::{step, Recorder};
use crate::state::Status;
use glassbox_events::Stage;

impl Container {
    /// Delete the container `id`. `force` kills it first; it also makes an
    /// unknown id a success, so a cleanup after a half-failed create is idempotent.
    pub fn delete_by_id(paths: &Paths, id: &str, force: bool) -> Result<(), ContainerError> {
        match Container::load(paths, id) {
            Ok(c) => c.delete(force),
            Err(ContainerError::State(crate::state::StateError::NotFound(_))) if force => {
                let _ = crate::recorder::kept::keep(&paths.container_dir(id));
                let _ = std::fs::remove_dir_all(paths.container_dir(id));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    pub fn delete(self, force: bool) -> Result<(), ContainerError> {
        let status = self.status();
        if !force && !self.can_delete() {
            return Err(self.wrong_status("stop it first (glassbox kill), or use delete --force"));
        }
        // Appends to the container's record, after what create and the init wrote.
        let rec = Recorder::open(&self.dir.path, &self.state.id);
        // Cleanup is glassbox's own work; the container's process is gone or going.
        let me = std::process::id() as i32;
        let result = rec.stage(me, Stage::Cleanup, || {
            if status != Status::Stopped {
                self.stop_everything();
            }
            self.destroy(&rec)
        });
        rec.report_drops(me);
        result
    }

    /// SIGKILL every process of the container and wait for the init to go.
    fn stop_everything(&self) {
        // A frozen process cannot die; thaw first.
        let _ = self.cgroup.thaw();
        self.cgroup.signal_all(Signal::SIGKILL);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.state.pid), Signal::SIGKILL);
        step("kill", |a| {
            a.int("pid", self.state.pid.into()).str("signal", Signal::SIGKILL.as_str());
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.state.init_alive() && Instant::now() < deadline {
            // Our own child (foreground `run`) must be reaped to stop being alive.
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(self.state.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Remove what the container left: poststop hooks, cgroup, state dir.
    fn destroy(self, rec: &Recorder) -> Result<(), ContainerError> {
        let list = self.state.hooks.poststop().clone().unwrap_or_default();
        if !list.is_empty() {
            let state = serde_json::to_vec(&self.state.to_oci_json(Status::Stopped)).expect("json");
            // runtime-spec: a failing poststop hook is a warning; the rest still goes.
            let me = std::process::id() as i32;
            if let Err(e) = rec.stage(me, Stage::Hooks, || hooks::run_hooks("poststop", &list, &state)) {
                crate::cli::log::warn(&format!("{e}"));
            }
        }
        self.cgroup.remove(&self.paths.cgroup_parent)?;
        step("remove_cgroup", |a| {
            a.str("path", &self.cgroup.path);
        });
        crate::fault::point("delete:cgroup-removed");
        step("remove_state_dir", |a| {
            a.path("path", &self.dir.path);
        });
        // The record moves out first (a rename: our descriptor follows it),
        // so this step and the stage's end still land in it.
        if let Some(kept) = self.dir.remove()? {
            step("keep_events", |a| {
                a.path("path", &kept);
            });
        }
        Ok(())
    }
}
