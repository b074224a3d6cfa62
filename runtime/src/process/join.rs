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

use std::os::fd::AsRawFd;

use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process};

use super::init::{ExecTarget, InStage, StepError};
use super::protocol::{channel_pair, Channel, FromInit, FromRuntime};
use super::spawn::{ProcessError, SpawnedInit};
use crate::namespaces::{self, ChildNamespaceGuard, NamespacePlan};
use crate::{security, terminal};

/// What the joining process needs.
pub struct JoinOptions<'a> {
    pub process: &'a Process,
    pub init_pid: i32,
    pub seccomp: Option<&'a LinuxSeccomp>,
    pub preserve_fds: i32,
}

/// fork a child inside the container's pid namespace; it waits for `Go`.
pub fn spawn_joined(opts: &JoinOptions) -> Result<SpawnedInit, ProcessError> {
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
            drop(runtime_end);
            let err = match join_and_exec(opts, &joined, &child_end) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = child_end.send(&FromInit::Failed { stage: err.stage.into(), message: err.message });
            // SAFETY: leave without running the runtime's destructors twice.
            unsafe { libc::_exit(1) }
        }
        Ok(ForkResult::Parent { child }) => {
            guard.restore()?;
            drop(child_end);
            Ok(SpawnedInit { pid: child, channel: runtime_end })
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
    match channel.recv::<FromRuntime>().in_stage("namespaces")? {
        (FromRuntime::Go, _) => {}
        (other, _) => return Err(StepError { stage: "namespaces", message: format!("expected Go, got {other:?}") }),
    }
    let rest: Vec<_> = joined
        .iter()
        .filter(|(t, _)| !matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time))
        .cloned()
        .collect();
    namespaces::join_all(&rest).in_stage("namespaces")?;
    nix::unistd::setsid().in_stage("namespaces")?;
    if process.terminal().unwrap_or(false) {
        let pty = terminal::open_pty_in_container(process.console_size()).in_stage("terminal")?;
        channel.send_with_fd(&FromInit::Console, Some(pty.master.as_raw_fd())).in_stage("terminal")?;
        drop(pty.master);
        terminal::make_controlling_terminal(pty.slave).in_stage("terminal")?;
    }
    security::apply_process_attributes(process, None).in_stage("rlimits")?;
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    if let (Some(profile), false) = (opts.seccomp, no_new_privs) {
        security::load_seccomp(profile).in_stage("seccomp")?;
    }
    let caps = process.capabilities().as_ref();
    security::drop_bounding_set(caps).in_stage("capabilities")?;
    security::switch_user(process.user()).in_stage("capabilities")?;
    security::apply_capabilities(caps).in_stage("capabilities")?;
    super::init::change_to_cwd(process)?;
    if no_new_privs {
        security::set_no_new_privileges().in_stage("capabilities")?;
    }
    let exec = ExecTarget::resolve(process)?;
    if let (Some(profile), true) = (opts.seccomp, no_new_privs) {
        security::load_seccomp(profile).in_stage("seccomp")?;
    }
    channel.send(&FromInit::Ready).in_stage("exec")?;
    super::init::close_runtime_fds(opts.preserve_fds)?;
    exec.exec()
}
