//! One file per command-line verb, each an `impl Container` block.
//!
//! `create` → `start` → (`kill`) → `delete` is the lifecycle of
//! runtime-spec `runtime.md`; `run` is all of them in one; `exec` adds a
//! process to a running container.

mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod start;
mod status;
mod update;

use std::path::PathBuf;

pub use create::{ConsoleHandling, CreateOptions};
pub use exec::ExecOptions;
pub use list::ListEntry;
pub use run::RunOptions;

use crate::cgroups::ContainerCgroup;
use crate::paths::Paths;
use crate::state::{ContainerDir, ContainerState, Status};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    #[error(transparent)]
    IdMap(#[from] crate::idmap::IdMapError),
    #[error(transparent)]
    Rootless(#[from] crate::rootless::RootlessError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error(transparent)]
    Channel(#[from] crate::process::protocol::ChannelError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Terminal(#[from] crate::terminal::TerminalError),
    #[error(transparent)]
    Signal(#[from] crate::signals::SignalError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    /// `exit_code`, here and below: what the process that failed exited
    /// with, which `run` and `exec` pass on (127 or 126: the program
    /// cannot be run, see [`crate::process::program`]).
    #[error("container {id:?} could not be made: stage {stage} failed: {message}")]
    Init { id: String, stage: String, message: String, exit_code: i32 },
    #[error("container {id:?} could not be started: stage {stage} failed: {message}")]
    Start { id: String, stage: String, message: String, exit_code: i32 },
    #[error("exec in container {id:?} failed: stage {stage}: {message}")]
    Exec { id: String, stage: String, message: String, exit_code: i32 },
    #[error("container {id:?} was started, then stopped: {source} (a failing poststart hook fails start)")]
    Poststart { id: String, source: crate::hooks::HookError },
    #[error("container {id:?} has no cgroup (it was made without root, and no cgroup was delegated): {what}")]
    NoCgroup { id: String, what: &'static str },
    #[error("container {id:?} is {status}: {what}")]
    WrongStatus { id: String, status: Status, what: &'static str },
    #[error("{what}: {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
}

impl ContainerError {
    /// The exit status `run` and `exec` give for this error: the failed
    /// process's own (127, 126: the program cannot be run), else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            ContainerError::Init { exit_code, .. }
            | ContainerError::Start { exit_code, .. }
            | ContainerError::Exec { exit_code, .. } => *exit_code,
            _ => 1,
        }
    }
}

/// A stage of the runtime's own that failed: the error is what the user
/// hears; its stage is in the record's `error` line already.
impl<E> From<crate::recorder::Staged<E>> for ContainerError
where
    ContainerError: From<E>,
{
    fn from(failed: crate::recorder::Staged<E>) -> ContainerError {
        failed.error.into()
    }
}

/// An existing container, its directory locked while this value lives.
pub struct Container {
    pub paths: Paths,
    pub dir: ContainerDir,
    pub state: ContainerState,
    /// Its cgroup, found once per command (cgroups-rs reads mountinfo for
    /// it); none for a container made without root where no cgroup was
    /// delegated (see [`crate::rootless`]).
    pub cgroup: Option<ContainerCgroup>,
}

impl Container {
    /// Open the container `id`, locking it against other glassbox commands.
    pub fn load(paths: &Paths, id: &str) -> Result<Container, ContainerError> {
        let dir = ContainerDir::open(paths, id)?;
        let state = dir.load()?;
        Ok(Container::with_state(paths, dir, state))
    }

    /// The container of a locked directory whose state.json was read.
    fn with_state(paths: &Paths, dir: ContainerDir, state: ContainerState) -> Container {
        let unit = state.systemd_unit.clone();
        let cgroup = state.cgroup_path.as_deref().map(|p| ContainerCgroup::load(p).with_unit(unit));
        Container { paths: paths.clone(), dir, state, cgroup }
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Worked out from the live system, never trusted from state.json:
    /// stopped (init gone), paused (frozen), created (init still waiting on
    /// exec.fifo) or running.
    pub fn status(&self) -> Status {
        if !self.state.init_alive() {
            Status::Stopped
        } else if self.cgroup.as_ref().is_some_and(ContainerCgroup::is_frozen) {
            Status::Paused
        } else if self.dir.exec_fifo().exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The cgroup, for a verb that cannot do without one (`what` says why).
    fn cgroup_for(&self, what: &'static str) -> Result<&ContainerCgroup, ContainerError> {
        self.cgroup.as_ref().ok_or_else(|| ContainerError::NoCgroup { id: self.state.id.clone(), what })
    }

    fn wrong_status(&self, what: &'static str) -> ContainerError {
        ContainerError::WrongStatus { id: self.state.id.clone(), status: self.status(), what }
    }
}
