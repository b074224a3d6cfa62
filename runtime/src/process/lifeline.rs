//! The lifeline between the runtime and the process it is making (the
//! container's init, or the process `exec` adds): until the runtime has
//! written down where later commands will find the child — state.json for
//! an init, the `--pid-file` for exec — the child dies with the runtime. A
//! runtime killed half-way (the OOM killer, `kill -9`, a caller's timeout)
//! so leaves no live process that no command knows of; what it does leave,
//! a cgroup and a state directory, `delete --force` finds by the id.
//!
//! The tie is prctl(2) `PR_SET_PDEATHSIG` with SIGKILL: the kernel kills the
//! child when the thread that made it exits. Three details make it hold.
//!
//! - **It covers only a death that comes after it is set.** The usual check
//!   after the prctl, getppid(2) against the parent's pid, cannot work here:
//!   across a pid namespace boundary getppid returns 0, parent alive or not
//!   (the init is in a new pid namespace, an exec'd process in the
//!   container's). The channel is the check instead. The runtime's end
//!   closes when it dies, and the kernel closes a dying process's files
//!   before it signals its children (do_exit: exit_files, then
//!   exit_notify). So a message the child sends after the prctl either
//!   fails (EPIPE: the runtime is gone, and the child exits) or gets
//!   through, and then the signal comes if the runtime dies later.
//! - **A change of credentials clears it** (commit_creds, when the
//!   effective or filesystem uid or gid changes): becoming root of a new
//!   user namespace, and switching to `process.user`. It is set again after
//!   each, the last time just before `Ready`.
//! - **It must be cut before a successful runtime exits**, since `create`
//!   returns while its init waits for `start`, and `exec --detach` while its
//!   process runs. That is one round trip more, at the very end: `Ready`
//!   (the send after the last prctl is the check), the runtime writes
//!   state.json or the pid file, `Recorded`, prctl(PR_SET_PDEATHSIG, 0),
//!   `Released` — each prctl is in the drawing of [`protocol`](super::protocol).
//!
//! `run` does not wait for `Released`: its `start` hears from the init only
//! once the init has let go (it opens exec.fifo after the prctl), so the
//! round trip adds no wait to a `run`. `exec` always waits, because its
//! child loads a `noNewPrivileges` seccomp filter just before `Released`
//! (after the hand-over's prctl and recvmsg, which the filter need not
//! allow), and a failure there is still reported.

use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::Signal;

use super::init::Failure;
use super::protocol::{Channel, FromInit, FromRuntime};

/// Die (SIGKILL) when the runtime's thread that made this process exits.
/// The caller's next message to the runtime is the check that it had not
/// died already.
pub fn die_with_runtime() -> Result<(), Failure> {
    Ok(set_pdeathsig(Signal::SIGKILL)?)
}

/// The init's last words before it waits on exec.fifo: `Ready`, tied to
/// the runtime; untied once the runtime has recorded it; `Released`.
pub fn hand_over(channel: &Channel) -> Result<(), Failure> {
    await_recording(channel)?;
    let_go(channel);
    Ok(())
}

/// `Ready`, tied to the runtime (again: the credentials may have changed
/// since birth), then wait for `Recorded` and untie. A runtime that closes
/// the channel instead gave up on the child (and removes it) or died.
pub fn await_recording(channel: &Channel) -> Result<(), Failure> {
    die_with_runtime()?;
    channel.send(&FromInit::Ready)?;
    match channel.recv::<FromRuntime>() {
        Ok((FromRuntime::Recorded, _)) => {}
        Ok((other, _)) => return Err(Failure::new(format!("expected Recorded, got {other:?}"))),
        Err(e) => return Err(Failure::new(format!("waiting to be recorded: {e}"))),
    }
    Ok(set_pdeathsig(None)?)
}

/// `Released`: the runtime may exit now. Its failure is no error: `run`
/// goes on to `start` without reading it, and may have closed the channel.
pub fn let_go(channel: &Channel) {
    let _ = channel.send(&FromInit::Released);
}
