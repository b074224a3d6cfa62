//! `glassbox exec`: run another process in a running container, in its
//! namespaces and its cgroup, under the same security settings.

use std::path::PathBuf;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use oci_spec::runtime::Process;

use super::create::{check_pid_file_dir, write_pid_file};
use super::run::{handled_signals, wait_in_foreground};
use super::{Container, ContainerError};
use crate::process::join::{spawn_joined, JoinOptions};
use crate::process::{FromInit, FromRuntime};
use crate::signals::exit_status_code;
use crate::terminal;

pub struct ExecOptions {
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
}

impl Container {
    /// Returns the exit code of the process (0 at once with `detach`).
    pub fn exec(&self, opts: ExecOptions) -> Result<i32, ContainerError> {
        if !self.can_exec() {
            return Err(self.wrong_status("exec needs a running container"));
        }
        let terminal_on = opts.process.terminal().unwrap_or(false);
        if terminal_on && opts.detach && opts.console_socket.is_none() {
            return Err(ContainerError::Usage("--tty with --detach needs --console-socket".into()));
        }
        if let Some(pid_file) = &opts.pid_file {
            check_pid_file_dir(pid_file)?;
        }
        // The process is checked as config.json's is at create: ids, groups, execve's limits.
        crate::bundle::check_process(&opts.process, crate::bundle::stack_soft_limit(&opts.process))?;
        let config = self.state.bundle.join("config.json");
        let text = crate::bundle::read_config(&config)?;
        let spec = crate::bundle::parse_config(&config, &text)?;
        let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
        let memory_policy = spec.linux().as_ref().and_then(|l| l.memory_policy().clone());

        let handled = handled_signals();
        let mut old = SigSet::empty();
        if !opts.detach {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), Some(&mut old));
        }
        let rec = crate::recorder::Recorder::open(&self.dir.path, &self.state.id);
        let (cgroup_v2, join_v1) = self.cgroup.as_ref().map(|c| (c.v2_dir(), c.v1_dirs())).unwrap_or_default();
        let result = (|| {
            let child = spawn_joined(&JoinOptions {
                process: &opts.process,
                init_pid: self.state.pid,
                seccomp: seccomp.as_ref(),
                memory_policy: memory_policy.as_ref(),
                preserve_fds: opts.preserve_fds,
                recorder: &rec,
                cgroup_v2: cgroup_v2.as_deref(),
                join_v1: &join_v1,
                through_first_child: crate::rootless::Privilege::of_this_process().is_rootless(),
            })?;
            rec.set_init_pid(child.pid.as_raw());
            crate::fault::point("exec:spawned");
            let kill_child = |e: ContainerError| {
                let _ = nix::sys::signal::kill(child.pid, Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child.pid, None);
                e
            };
            let pid = child.pid.as_raw();
            // The child writes itself into the v1 hierarchies.
            if let Some(cgroup) = &self.cgroup {
                rec.stage(pid, glassbox_events::Stage::Cgroup, || cgroup.finish_join(pid, child.in_cgroup_v2, false))
                    .map_err(|e| kill_child(e.into()))?;
            }
            child.channel.send_then_flush(&FromRuntime::Go).map_err(|e| kill_child(e.into()))?;
            crate::fault::point("exec:go");
            let mut console = None;
            loop {
                match child.channel.recv::<FromInit>() {
                    Ok((FromInit::Console, Some(master))) => match &opts.console_socket {
                        Some(path) => {
                            terminal::send_to_console_socket(path, &master).map_err(|e| kill_child(e.into()))?
                        }
                        None => console = Some(master),
                    },
                    Ok((FromInit::Ready, _)) => break,
                    Ok((FromInit::Failed { stage, message, exit_code }, _)) => {
                        let _ = nix::sys::wait::waitpid(child.pid, None);
                        let (id, stage) = (self.state.id.clone(), stage.name().into());
                        return Err(ContainerError::Exec { id, stage, message, exit_code });
                    }
                    Ok((other, _)) => return Err(kill_child(ContainerError::Usage(format!("unexpected {other:?}")))),
                    Err(e) => return Err(kill_child(e.into())),
                }
            }
            crate::fault::point("exec:ready");
            // Until the child hears `Recorded` it dies with us (process::lifeline).
            if let Some(pid_file) = &opts.pid_file {
                write_pid_file(pid_file, child.pid.as_raw()).map_err(kill_child)?;
            }
            child.channel.send_then_flush(&FromRuntime::Recorded).map_err(|e| kill_child(e.into()))?;
            crate::fault::point("exec:recorded");
            // The child loads a seccomp filter last (noNewPrivileges) before it
            // answers: a failure there is still ours to report.
            match child.channel.recv::<FromInit>() {
                Ok((FromInit::Released, _)) => {}
                Ok((FromInit::Failed { stage, message, exit_code }, _)) => {
                    let _ = nix::sys::wait::waitpid(child.pid, None);
                    if let Some(pid_file) = &opts.pid_file {
                        let _ = std::fs::remove_file(pid_file);
                    }
                    let (id, stage) = (self.state.id.clone(), stage.name().into());
                    return Err(ContainerError::Exec { id, stage, message, exit_code });
                }
                Ok((other, _)) => return Err(kill_child(ContainerError::Usage(format!("unexpected {other:?}")))),
                Err(e) => return Err(kill_child(e.into())),
            }
            crate::fault::point("exec:released");
            if opts.detach {
                return Ok(0);
            }
            let signals = SignalFd::with_flags(&handled, SfdFlags::SFD_CLOEXEC)
                .map_err(|e| ContainerError::Usage(format!("signalfd: {e}")))?;
            Ok(exit_status_code(wait_in_foreground(child.pid, &signals, console)))
        })();
        if !opts.detach {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
        rec.report_drops(std::process::id() as i32);
        result
    }
}
