//! A new process in a *running* container (`glassbox exec`): instead of
//! clone(2) with new namespaces, a child that setns(2)es into the init's.
//! It is born in the container's pid namespace (the runtime enters it, and
//! its time namespace, for the clone and steps back) and, with clone3, in
//! its cgroup2 directory; from `Go` on it enters the other namespaces and
//! gives up its privileges as the init does, and ends with the same
//! hand-over (`Ready`, `Recorded`, `Released`): the drawing is in
//! [`protocol`](super::protocol).
//!
//! As for the init, no cgroup.procs write: the first one after a quiet
//! moment waits for an RCU grace period (book: cgroup.md). The child can
//! always write itself into the v1 hierarchies: it does so before joining
//! any of the container's namespaces, as the host's root.
//!
//! **A runtime without root** cannot do that: setns(2) into a pid or time
//! namespace wants CAP_SYS_ADMIN in the caller's own user namespace, which
//! an ordinary user has nowhere but in the container's user namespace (and
//! a process cannot leave a user namespace once in); and root of a user
//! namespace (rootless podman) may enter the container's pid namespace but
//! not step back into the host's. So a first child goes in its place: it
//! enters the user, then the pid (and time) namespaces, clones the process
//! that goes on with CLONE_PARENT (born in the container's pid namespace,
//! a child of the runtime), tells the runtime its pid (`Cloned`) and exits;
//! from `Go` on everything is as above.

use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process};

use super::clone3::clone_into_cgroup;
use super::init::{Failure, InStage, StepError};
use super::program::ExecTarget;
use super::protocol::{channel_pair, Channel, FromInit};
use super::sealed_exec::{CapsToCarry, SealedExec};
use super::spawn::{ProcessError, SpawnedInit};
use crate::namespaces::{self, ChildNamespaceGuard, NamespacePlan};
use crate::recorder::Staged;
use crate::terminal;
use glassbox_events::Stage;

/// What the joining process needs.
pub struct JoinOptions<'a> {
    pub process: &'a Process,
    pub init_pid: i32,
    pub seccomp: Option<&'a LinuxSeccomp>,
    /// `linux.memoryPolicy`, set on the new process as on the init.
    pub memory_policy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
    pub preserve_fds: i32,
    /// The container's event stream; the runtime puts the child's pid in it.
    pub recorder: &'a crate::recorder::Recorder,
    /// The container's cgroup2 directory, to start the child in (clone3).
    pub cgroup_v2: Option<&'a std::path::Path>,
    /// The v1 directories the child moves itself into.
    pub join_v1: &'a [std::path::PathBuf],
    /// The runtime runs without root: a first child enters the (user and)
    /// pid namespaces in its place.
    pub through_first_child: bool,
}

/// Start a child inside the container's pid namespace (and, with clone3,
/// its cgroup2 directory); it waits for `Go`.
pub fn spawn_joined(opts: &JoinOptions) -> Result<SpawnedInit, ProcessError> {
    // The child gets a copy of our unwritten lines; it drops them first
    // thing (recorder::start_in_child), we write them at our next handshake.
    let joined = namespaces::of_process(opts.init_pid);
    let first_child = opts.through_first_child;
    // Entered before the child exists: by the runtime itself, or by the first child.
    let before: Vec<_> = joined
        .iter()
        .filter(|(t, _)| match t {
            LinuxNamespaceType::Pid | LinuxNamespaceType::Time => true,
            LinuxNamespaceType::User => first_child,
            _ => false,
        })
        .cloned()
        .collect();
    let rest: Vec<_> = joined.iter().filter(|j| !before.contains(j)).cloned().collect();
    // The init shares our mount namespace (the container has none of its
    // own): its `/` is only its chroot, which this process must take too.
    let shares_mounts = !joined.iter().any(|(t, _)| *t == LinuxNamespaceType::Mount);
    let plan = NamespacePlan {
        join_before_clone: if first_child { Vec::new() } else { before.clone() },
        ..Default::default()
    };
    let (runtime_end, child_end) = channel_pair()?;
    crate::security::prepare_capability_names();
    // Before the child exists: it is born in the container's pid namespace,
    // where the container's processes could otherwise open its /proc files.
    super::fds::make_unreachable().map_err(|e| ProcessError::Clone(e, "prctl(PR_SET_DUMPABLE, 0)".into()))?;
    let guard = ChildNamespaceGuard::enter(&plan, &[])?;
    // The child's whole life: it never returns (execve, or _exit with 1).
    let child = || {
        // Before anything can fail: the error path writes our unwritten lines.
        crate::recorder::start_in_child();
        // The runtime's end: closed here, so the runtime sees the channel
        // end if this process dies before it execs.
        let _ = nix::unistd::close(runtime_end.raw_fd());
        let mut keep = vec![child_end.raw_fd()];
        keep.extend(super::fds::preserved(opts.preserve_fds));
        keep.extend(crate::recorder::sink_descriptors());
        super::fds::close_all_but(&keep);
        // Until the runtime has recorded us, we die with it (lifeline.rs).
        // prctl fails only for a signal number that does not exist.
        let _ = super::lifeline::die_with_runtime();
        let entered = match first_child {
            true => enter_then_clone(opts, &before, &child_end),
            false => Ok(()),
        };
        let err = match entered.and_then(|()| join_and_exec(opts, &rest, shares_mounts, &child_end)) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        // Before the runtime sets it, the first child's own pid (it is in
        // the host's pid namespace still).
        let pid = match opts.recorder.init_pid() {
            0 => nix::unistd::getpid().as_raw(),
            pid => pid,
        };
        if super::init::runtime_listens(&child_end) {
            opts.recorder.error(pid, &err);
        }
        opts.recorder.flush();
        let _ = child_end.send(&FromInit::Failed {
            stage: err.stage,
            message: err.error.message,
            exit_code: err.error.exit_code,
        });
        err.error.exit_code
    };
    let started = match clone_into_cgroup(CloneFlags::empty(), opts.cgroup_v2, child) {
        Some(pid) => Ok((pid, true)),
        // SAFETY: the runtime is single-threaded; the child only execs or exits.
        None => match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                let code = child();
                // SAFETY: leave without running the runtime's destructors twice.
                unsafe { libc::_exit(code) }
            }
            Ok(ForkResult::Parent { child }) => Ok((child, false)),
            Err(e) => Err(e),
        },
    };
    let restored = guard.restore();
    let (pid, in_cgroup_v2) = started.map_err(|e| ProcessError::Clone(e, "fork for exec".into()))?;
    restored?;
    drop(child_end);
    let pid = if first_child { cloned_by_first_child(pid, &runtime_end)? } else { pid };
    Ok(SpawnedInit { pid, channel: runtime_end, in_cgroup_v2 })
}

/// The first child's side: into the user namespace (every capability
/// there), then the pid and time namespaces, then clone(2) the process that
/// goes on — CLONE_PARENT makes it the runtime's child, so the runtime
/// waits for it and it dies with the runtime as any exec'd process does.
/// Returns in that process; the first child tells the runtime its pid and
/// exits.
fn enter_then_clone(
    opts: &JoinOptions,
    before: &[(LinuxNamespaceType, PathBuf)],
    channel: &Channel,
) -> Result<(), StepError> {
    let (rec, me) = (opts.recorder, nix::unistd::getpid().as_raw());
    rec.stage(me, Stage::Namespaces, || namespaces::join_all(before))?;
    // SAFETY: a single-threaded process; like fork(2) (no new stack), the
    // child goes on in a copy of this one.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_PARENT | libc::SIGCHLD, 0, 0, 0, 0) };
    match pid {
        0 => {
            crate::recorder::start_in_child();
            // Our parent now is the runtime: tie to it (pdeathsig is not inherited).
            super::lifeline::die_with_runtime().in_stage(Stage::Namespaces)
        }
        pid if pid > 0 => {
            let _ = channel.send(&FromInit::Cloned { pid: pid as i32 });
            // SAFETY: the first child's work is done; no destructor of the runtime's must run.
            unsafe { libc::_exit(0) }
        }
        _ => {
            let error = Failure::new(format!("clone(CLONE_PARENT): {}", nix::errno::Errno::last()));
            Err(Staged::between_stages(Stage::Namespaces, error))
        }
    }
}

/// The runtime's side: the pid of the process the first child cloned; the
/// first child itself is reaped.
fn cloned_by_first_child(first: nix::unistd::Pid, channel: &Channel) -> Result<nix::unistd::Pid, ProcessError> {
    let heard = channel.recv::<FromInit>();
    let _ = nix::sys::wait::waitpid(first, None);
    match heard? {
        (FromInit::Cloned { pid }, _) => Ok(nix::unistd::Pid::from_raw(pid)),
        (FromInit::Failed { stage, message, .. }, _) => {
            Err(ProcessError::Enter { stage: stage.name().into(), message })
        }
        (other, _) => Err(ProcessError::Enter { stage: "protocol".into(), message: format!("unexpected {other:?}") }),
    }
}

/// `rest`: the namespaces not entered before this process was made.
fn join_and_exec(
    opts: &JoinOptions,
    rest: &[(LinuxNamespaceType, PathBuf)],
    shares_mounts: bool,
    channel: &Channel,
) -> Result<std::convert::Infallible, StepError> {
    let process = opts.process;
    super::init::reset_signals().in_stage(Stage::Namespaces)?;
    super::init::wait_for_go(channel).in_stage(Stage::Namespaces)?;
    let (rec, pid) = (opts.recorder, opts.recorder.init_pid());
    super::init::join_v1_cgroups(rec, pid, opts.join_v1)?;
    rec.stage(pid, Stage::Namespaces, || {
        namespaces::join_all(rest)?;
        super::init::start_new_session()
    })?;
    if shares_mounts {
        // Before the pty and the cwd: both are the container's, below its root.
        let root = PathBuf::from(format!("/proc/{}/root", opts.init_pid));
        rec.stage(pid, Stage::PivotRoot, || crate::rootfs::inherited::chroot_into(&root))?;
    }
    // A pty is one more device, from the container's devpts.
    super::init::set_up_terminal(channel, process, terminal::open_pty_in_container).in_stage(Stage::Devices)?;
    let sealed = SealedExec::prepare().in_stage(Stage::Exec)?;
    // Before any seccomp filter, which may refuse close_range(2).
    super::init::close_runtime_fds(opts.preserve_fds).in_stage(Stage::Exec)?;
    // The container's memory policy holds for every process in it; the
    // personality stays the init's (runc's exec does not set it either).
    let attributes = crate::security::LinuxAttributes { personality: None, memory_policy: opts.memory_policy };
    super::init::drop_privileges(rec, pid, process, attributes, opts.seccomp)?;
    let exec = rec.stage(pid, Stage::Exec, || ExecTarget::resolve(process, &sealed))?;
    super::lifeline::await_recording(channel).in_stage(Stage::Exec)?;
    let carry = CapsToCarry::lend().in_stage(Stage::Exec)?;
    // After the hand-over's own calls (prctl, recvmsg): the filter need not allow them.
    super::init::load_seccomp_last(rec, pid, process, opts.seccomp)?;
    super::lifeline::let_go(channel);
    rec.before_execve(pid, |a| exec.step_args(a));
    exec.exec(&sealed, carry.as_ref(), None).in_stage(Stage::Exec)
}
