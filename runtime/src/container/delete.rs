//! `glassbox delete`: remove a stopped (or, with --force, any) container:
//! poststop hooks, its cgroup, its state directory — the `cleanup` stage of
//! its record.
//!
//! `--force` also removes what a container without a readable state.json
//! left: a create killed before it wrote the file, or a file since
//! truncated or overwritten. Found by the id alone: the state directory,
//! the cgroup whose path create wrote there before making it
//! (`<root>/<id>/cgroup`), and every process in that cgroup.
//!
//! A container made without root may have no cgroup: SIGKILL to its init
//! then ends every process of its pid namespace (pid_namespaces(7): the
//! kernel kills the rest when a namespace's init dies), which is why such a
//! container must have a pid namespace of its own.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Container, ContainerError};
use crate::cgroups::{self, ContainerCgroup};
use crate::hooks;
use crate::paths::Paths;
use crate::recorder::{kept, step, Recorder};
use crate::rootfs::inherited::RootfsMount;
use crate::state::{ContainerDir, RecordedCgroup, StateError, Status};
use glassbox_events::Stage;

impl Container {
    /// Delete the container `id`. `force` kills it first; it also makes an
    /// unknown id a success, so a cleanup after a half-failed create is
    /// idempotent, and takes what a container without a readable
    /// state.json left.
    pub fn delete_by_id(paths: &Paths, id: &str, force: bool) -> Result<(), ContainerError> {
        if !force {
            return Container::load(paths, id)?.delete(false);
        }
        // Under the lock, so a create still at work finishes (or dies) first.
        let dir = match ContainerDir::open_any(paths, id) {
            Ok(dir) => dir,
            Err(StateError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match dir.load() {
            Ok(state) => Container::with_state(paths, dir, state).delete(true),
            Err(why @ (StateError::Unfinished(_) | StateError::Corrupt { .. })) => delete_remains(paths, id, dir, &why),
            Err(e) => Err(e.into()),
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
        Ok(result?)
    }

    /// SIGKILL every process of the container and wait for the init to go.
    pub(super) fn stop_everything(&self) {
        if let Some(cgroup) = &self.cgroup {
            // A frozen process cannot die; thaw first.
            let _ = cgroup.thaw();
            cgroup.signal_all(Signal::SIGKILL);
        }
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
            // runtime-spec: a failing poststop hook is a warning; the other
            // hooks and the rest of the cleanup still go.
            let me = std::process::id() as i32;
            let failures = rec.stage(me, Stage::Hooks, || {
                Ok::<_, std::convert::Infallible>(hooks::run_hooks_to_the_end("poststop", &list, &state))
            });
            for e in failures.unwrap_or_default() {
                crate::log::warn(&format!("{e} (the remaining poststop hooks ran, and the container was removed)"));
            }
        }
        remove_cgroup_and_dir(&self.paths, self.cgroup.as_ref(), self.dir)
    }
}

/// `delete --force` without a readable state.json: no init pid, no hooks,
/// only the id. SIGKILL to every process in the container's cgroup, then
/// the cgroup and the state directory go; one line on stderr says why. A
/// container made without a cgroup leaves nothing to find its processes by.
fn delete_remains(paths: &Paths, id: &str, dir: ContainerDir, why: &StateError) -> Result<(), ContainerError> {
    // A create killed before it wrote the path had not made the cgroup
    // yet; a state directory from before the record existed had the default.
    let (cgroup_path, unit) = match dir.recorded_cgroup_path() {
        RecordedCgroup::Path { path, unit } => (Some(path), unit),
        RecordedCgroup::None => (None, None),
        RecordedCgroup::Unknown => (Some(cgroups::cgroup_path(None, &paths.cgroup_parent, id)?), None),
    };
    let what = match why {
        StateError::Corrupt { path, reason, .. } => {
            format!("had an unreadable state.json ({}: {reason})", path.display())
        }
        _ => "has no state.json (its create did not finish)".to_string(),
    };
    let removing = match &cgroup_path {
        Some(cgroup_path) => format!("every process in its cgroup {cgroup_path}, the cgroup and"),
        None => "(it had no cgroup, so the processes it may have left cannot be found by its id)".to_string(),
    };
    crate::log::warn(&format!("container {id:?} {what}: removing {removing} {}", dir.path.display()));
    let cgroup = cgroup_path.as_deref().map(|p| ContainerCgroup::load(p).with_unit(unit));
    let rec = Recorder::open(&dir.path, id);
    let me = std::process::id() as i32;
    let result = rec.stage(me, Stage::Cleanup, || {
        if let Some(cgroup) = &cgroup {
            let _ = cgroup.thaw();
            for pid in cgroup.pids() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
                step("kill", |a| {
                    a.int("pid", pid.into()).str("signal", Signal::SIGKILL.as_str());
                });
            }
        }
        remove_cgroup_and_dir(paths, cgroup.as_ref(), dir)
    });
    rec.report_drops(me);
    Ok(result?)
}

/// The mounts a container without a mount namespace of its own left in the
/// runtime's (rootfs/inherited.rs), the cgroup (once every process in it is
/// gone), then the state directory, its event record kept.
fn remove_cgroup_and_dir(
    paths: &Paths,
    cgroup: Option<&ContainerCgroup>,
    dir: ContainerDir,
) -> Result<(), ContainerError> {
    if let Some(line) = dir.recorded_rootfs_mount() {
        // A note cut short by a killed create: no mount was made after it.
        if let Some(mount) = RootfsMount::from_line(&line) {
            mount.detach()?;
        }
    }
    if let Some(cgroup) = cgroup {
        cgroup.remove(&paths.cgroup_parent)?;
        step("remove_cgroup", |a| {
            a.str("path", &cgroup.path);
        });
    }
    crate::fault::point("delete:cgroup-removed");
    step("remove_state_dir", |a| {
        a.path("path", &dir.path);
    });
    // The record moves out first (a rename: our descriptor follows it),
    // so this step and the stage's end still land in it.
    let kept = kept::keep(&dir.path);
    dir.remove()?;
    if let Some(kept) = kept {
        step("keep_events", |a| {
            a.path("path", &kept);
        });
    }
    Ok(())
}
