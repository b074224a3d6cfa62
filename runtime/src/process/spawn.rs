//! The runtime's side of making the init: clone(2) with the namespace flags.
//!
//! The child has a copy (not a share) of our memory, so it can read the spec
//! and the plan we built — no serialisation needed before it starts. When
//! the container has a cgroup2 directory, clone3(2) starts the init inside
//! it ([`clone3`](super::clone3)). Without clone3 (an older kernel, or it
//! refuses), nix's `clone` runs the init on a stack we provide, and the
//! runtime moves it into the cgroup afterwards.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::{open, OFlag};
use nix::sched::clone;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use super::clone3::clone_into_cgroup;
use super::init::{self, InitContext};
use super::init_options::InitOptions;
use super::lifeline;
use super::protocol::{channel_pair, Channel, ChannelError};
use crate::namespaces::{ChildNamespaceGuard, NamespaceError, NamespacePlan};

/// The init runs a fair amount of code (mounts, libseccomp) before execve;
/// 8 MiB is what a thread gets by default, and untouched pages cost nothing.
const INIT_STACK_SIZE: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error("clone(2) of the container's init failed: {0} ({1})")]
    Clone(nix::Error, String),
    #[error("cannot open {path}: {source}")]
    Fifo { path: String, source: nix::Error },
    #[error("entering the container's namespaces failed: stage {stage}: {message}")]
    Enter { stage: String, message: String },
}

/// A freshly cloned init and the runtime's end of the channel to it.
pub struct SpawnedInit {
    pub pid: Pid,
    pub channel: Channel,
    /// Whether clone3(2) started it in `InitOptions::cgroup_v2`.
    pub in_cgroup_v2: bool,
}

/// clone3(2) (or clone(2)) the container's init. It stops at once and waits for `Go`.
pub fn spawn_init(opts: &InitOptions, plan: &NamespacePlan) -> Result<SpawnedInit, ProcessError> {
    // The child gets a copy of our unwritten lines; it drops them first
    // thing (recorder::start_in_child), we write them at our next handshake.
    let (runtime_end, init_end) = channel_pair()?;
    // An O_PATH descriptor survives pivot_root; the init reopens it through
    // /proc/self/fd for writing once it is ready to wait for `start`.
    let fifo: OwnedFd = open(opts.exec_fifo, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|source| ProcessError::Fifo { path: opts.exec_fifo.display().to_string(), source })?;
    let ctx = InitContext { opts, plan, channel: &init_end, exec_fifo_fd: fifo.as_raw_fd() };
    let runtime_fd = runtime_end.raw_fd();
    let run_init = || {
        // The runtime's end: closed here, so that the init hears the
        // channel close when the runtime gives up on a half-made container.
        let _ = nix::unistd::close(runtime_fd);
        // Until the runtime has recorded us, we die with it (lifeline.rs).
        // prctl fails only for a signal number that does not exist.
        let _ = lifeline::die_with_runtime();
        init::container_init(&ctx)
    };
    let offsets = time_offsets(opts.spec);
    crate::security::prepare_capability_names();
    // The init inherits this: no process of the container can open its
    // /proc/<pid>/fd, exe or mem while it still runs glassbox's code.
    // Except for an ordinary user's runtime making a user namespace: it
    // must open the init's uid_map, so the init is dumpable until `Go`,
    // and no process of the container exists before then; those who can
    // reach a dumpable process of this user are this user (and root),
    // who can reach the runtime itself as well.
    if !opts.dumpable_until_go(plan) {
        super::fds::make_unreachable().map_err(|e| ProcessError::Clone(e, "prctl(PR_SET_DUMPABLE, 0)".into()))?;
    }
    let guard = ChildNamespaceGuard::enter(plan, &offsets)?;
    let into_cgroup = clone_into_cgroup(plan.clone_flags, opts.cgroup_v2, || run_init() as i32);
    let result = match into_cgroup {
        Some(pid) => Ok((pid, true)),
        None => {
            let mut stack = vec![0u8; INIT_STACK_SIZE];
            // SAFETY: the runtime is single-threaded, so the child's copy of memory
            // holds no lock another thread owned; the child never returns into our
            // frames (it execs or _exits).
            let cloned =
                unsafe { clone(Box::new(run_init), &mut stack, plan.clone_flags, Some(Signal::SIGCHLD as i32)) };
            cloned.map(|pid| (pid, false))
        }
    };
    guard.restore()?;
    let (pid, in_cgroup_v2) = result.map_err(|e| ProcessError::Clone(e, plan.unshare_equivalent().to_string()))?;
    drop(init_end);
    Ok(SpawnedInit { pid, channel: runtime_end, in_cgroup_v2 })
}

/// `linux.timeOffsets` as (clock, seconds, nanoseconds) lines for timens_offsets.
fn time_offsets(spec: &Spec) -> Vec<(String, i64, u32)> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.time_offsets().clone()) else {
        return Vec::new();
    };
    map.iter().map(|(clock, off)| (clock.clone(), off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0))).collect()
}
