//! A new process in a *running* container (`glassbox exec`): instead of
//! clone(2) with new namespaces, fork(2) and setns(2) into the init's.
//!
//! ```text
//!  runtime                                  child (fork)
//!  setns(pid ns of init)  ── fork ───────▶  born in the container's pid namespace
//!  step back to our pid ns
//!  add child to the cgroup  ── Go ───────▶  setns user, mnt, cgroup, uts, ipc, net
//!                                           rlimits, (seccomp), caps, user, cwd
//!                           ◀── Ready ────  execve(process.args)
//! ```

use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process};

use super::init::{ExecTarget, InStage, StepError};
use super::protocol::{channel_pair, Channel, FromInit};
use super::spawn::{ProcessError, SpawnedInit};
use crate::namespaces::{self, ChildNamespaceGuard, NamespacePlan};
use crate::terminal;
use glassbox_events::Stage;

/// What the joining process needs.
pub struct JoinOptions<'a> {
    pub process: &'a Process,
    pub init_pid: i32,
    pub seccomp: Option<&'a LinuxSeccomp>,
    pub preserve_fds: i32,
    /// The container's event stream; the runtime puts the child's pid in it.
    pub recorder: &'a crate::recorder::Recorder,
}

/// fork a child inside the container's pid namespace; it waits for `Go`.
pub fn spawn_joined(opts: &JoinOptions) -> Result<SpawnedInit, ProcessError> {
    // The child gets a copy of our unwritten lines; it drops them first
    // thing (recorder::start_in_child), we write them at our next handshake.
    let joined = namespaces::of_process(opts.init_pid);
    let plan = NamespacePlan {
        join_before_clone: joined
            .iter()
            .filter(|(t, _)| matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time))
            .cloned()
            .collect(),
        ..Default::default()
    };
    let (runtime_end, child_end) = channel_pair()?;
    let guard = ChildNamespaceGuard::enter(&plan, &[])?;
    // SAFETY: the runtime is single-threaded; the child only execs or exits.
    let forked = unsafe { fork() };
    match forked {
        Ok(ForkResult::Child) => {
            // Before anything can fail: the error path writes our unwritten lines.
            crate::recorder::start_in_child();
            drop(runtime_end);
            let err = match join_and_exec(opts, &joined, &child_end) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            opts.recorder.flush();
            let _ = child_end.send(&FromInit::Failed { stage: err.stage.into(), message: err.message });
            // SAFETY: leave without running the runtime's destructors twice.
            unsafe { libc::_exit(1) }
        }
        Ok(ForkResult::Parent { child }) => {
            guard.restore()?;
            drop(child_end);
            Ok(SpawnedInit { pid: child, channel: runtime_end, in_cgroup_v2: false })
        }
        Err(e) => {
            let _ = guard.restore();
            Err(ProcessError::Clone(e, "fork for exec".into()))
        }
    }
}

fn join_and_exec(
    opts: &JoinOptions,
    joined: &[(LinuxNamespaceType, std::path::PathBuf)],
    channel: &Channel,
) -> Result<std::convert::Infallible, StepError> {
    let process = opts.process;
    super::init::reset_signals()?;
    super::init::wait_for_go(channel)?;
    let (rec, pid) = (opts.recorder, opts.recorder.init_pid());
    let rest: Vec<_> = joined
        .iter()
        .filter(|(t, _)| !matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time))
        .cloned()
        .collect();
    rec.stage(pid, Stage::Namespaces, || {
        namespaces::join_all(&rest).in_stage("namespaces")?;
        super::init::start_new_session()
    })?;
    super::init::set_up_terminal(channel, process, terminal::open_pty_in_container)?;
    super::init::drop_privileges(rec, pid, process, None, opts.seccomp)?;
    let exec = rec.stage(pid, Stage::Exec, || ExecTarget::resolve(process))?;
    super::init::load_seccomp_last(rec, pid, process, opts.seccomp)?;
    channel.send(&FromInit::Ready).in_stage("exec")?;
    rec.before_execve(pid, |a| exec.step_args(a));
    super::init::close_runtime_fds(opts.preserve_fds)?;
    exec.exec()
}
