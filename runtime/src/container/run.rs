//! `glassbox run`: create + start, then — in the foreground — wait for the
//! container, pass signals on to it, and delete it when it exits. The exit
//! status is the container's, or 128+N when signal N killed it.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{ConsoleHandling, Container, ContainerError, CreateOptions};
use crate::paths::Paths;
use crate::recorder::Recorder;
use crate::signals::{exit_status_code, FORWARDED};
use crate::terminal;
use glassbox_events::Stage;

pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
}

impl Container {
    pub fn run(paths: &Paths, mut opts: RunOptions) -> Result<i32, ContainerError> {
        // `start` hears from the init only once it no longer dies with us.
        opts.create.wait_for_release = false;
        if opts.detach {
            let (mut c, _) = Container::create(paths, &opts.create)?;
            return match c.start() {
                Ok(()) => Ok(0),
                Err(e) => {
                    let e = with_init_status(e, Pid::from_raw(c.state.pid));
                    let _ = c.delete(true);
                    Err(e)
                }
            };
        }
        // Block the signals we handle before the init exists, so none is lost
        // between clone and the wait loop; the init unblocks them for itself.
        let handled = handled_signals();
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), Some(&mut old))
            .map_err(|e| ContainerError::Usage(format!("sigprocmask: {e}")))?;
        let result = Self::run_foreground(paths, opts.create, &handled);
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        result
    }

    fn run_foreground(paths: &Paths, mut create: CreateOptions, handled: &SigSet) -> Result<i32, ContainerError> {
        if matches!(create.console, ConsoleHandling::None) {
            create.console = ConsoleHandling::Keep;
        }
        let signals = SignalFd::with_flags(handled, SfdFlags::SFD_CLOEXEC)
            .map_err(|e| ContainerError::Usage(format!("signalfd: {e}")))?;
        let (mut c, console) = Container::create(paths, &create)?;
        crate::fault::point("run:created");
        if let Err(e) = c.start() {
            let e = with_init_status(e, Pid::from_raw(c.state.pid));
            let _ = c.delete(true);
            return Err(e);
        }
        crate::fault::point("run:started");
        // Let go of the container's lock while it runs, so `state`, `kill`,
        // `ps` or `exec` from another terminal are answered meanwhile.
        let (id, init) = (c.state.id.clone(), Pid::from_raw(c.state.pid));
        drop(c);
        let status = wait_in_foreground(init, &signals, console);
        let rec = Recorder::open(&paths.container_dir(&id), &id);
        record_exit(&rec, status);
        crate::fault::point("run:exited");
        // The init is gone: clean up whatever is left (unless someone
        // already deleted the container). With --trace, once the kernel
        // events' reader holds the record open (delete moves it). The exit
        // stage's lines go out with the cleanup's, in delete's last write
        // (or here, if delete had nothing to do or failed early).
        crate::ktrace::before_delete();
        let deleted = Container::delete_by_id(paths, &id, true);
        rec.flush();
        deleted?;
        Ok(exit_status_code(status))
    }
}

/// A `start` that failed after the init was let go (a startContainer hook,
/// the seccomp filter, execve itself): the init, our child, has said why
/// and is exiting — with 127 or 126 from glassbox-exec when the program
/// could not be run. Its status is what `run` returns.
fn with_init_status(e: ContainerError, init: Pid) -> ContainerError {
    let ContainerError::Start { id, stage, message, .. } = e else { return e };
    let deadline = Instant::now() + Duration::from_secs(1);
    let exit_code = loop {
        match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => break 1,
        }
    };
    ContainerError::Start { id, stage, message, exit_code }
}

/// The `exit` stage: the status `run` returns and the signal, if one
/// ended the container; then the `stopped` status. The container's process
/// is gone: the events are about glassbox's own.
fn record_exit(rec: &Recorder, status: WaitStatus) {
    let pid = std::process::id() as i32;
    let signal = match status {
        WaitStatus::Signaled(_, sig, _) => Some(sig.as_str()),
        _ => None,
    };
    let _ = rec.stage(pid, Stage::Exit, || {
        rec.step(pid, Stage::Exit, "exit", |a| {
            a.int("exit_code", exit_status_code(status).into()).opt_str("signal", signal);
        });
        Ok::<_, std::convert::Infallible>(())
    });
    rec.status(pid, "stopped");
}

/// The signals a foreground `run` or `exec` takes over: those it forwards,
/// SIGCHLD (the child ended) and SIGWINCH (the terminal was resized).
pub(super) fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED.iter().chain([Signal::SIGCHLD, Signal::SIGWINCH].iter()) {
        set.add(*s);
    }
    set
}

/// Wait for `init` (our child), forwarding signals to it and, with a
/// terminal, copying between our stdio and the pty master.
pub(super) fn wait_in_foreground(init: Pid, signals: &SignalFd, console: Option<OwnedFd>) -> WaitStatus {
    {
        let host_stdin = std::io::stdin();
        let _raw = console.as_ref().and_then(|_| terminal::RawModeGuard::new(host_stdin.as_fd()).ok().flatten());
        if let Some(master) = &console {
            let _ = terminal::set_winsize_from(host_stdin.as_fd(), master.as_fd());
        }
        let mut stdin_open = console.is_some();
        let mut master_open = console.is_some();
        loop {
            let stdin = std::io::stdin();
            let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            let master_idx = console.as_ref().filter(|_| master_open).map(|m| {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let stdin_idx = stdin_open.then(|| {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
            drop(fds);
            if let (Some(master), Some(i)) = (&console, master_idx) {
                if ready[i] && terminal::copy_available(master.as_fd(), std::io::stdout().as_fd()).unwrap_or(0) == 0 {
                    master_open = false;
                }
            }
            if let (Some(master), Some(i)) = (&console, stdin_idx) {
                if ready[i] && terminal::copy_available(stdin.as_fd(), master.as_fd()).unwrap_or(0) == 0 {
                    stdin_open = false;
                }
            }
            if ready[0] {
                if let Ok(Some(info)) = signals.read_signal() {
                    match Signal::try_from(info.ssi_signo as i32) {
                        Ok(Signal::SIGCHLD) => {}
                        Ok(Signal::SIGWINCH) => {
                            if let Some(master) = &console {
                                let _ = terminal::set_winsize_from(std::io::stdin().as_fd(), master.as_fd());
                            }
                        }
                        Ok(sig) => {
                            let _ = kill(init, sig);
                        }
                        Err(_) => {}
                    }
                }
            }
            match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    // Drain what the container wrote last before returning.
                    if let Some(master) = console.as_ref().filter(|_| master_open) {
                        drain(master);
                    }
                    return status;
                }
                Ok(_) => {}
                Err(_) => return WaitStatus::Exited(init, 255),
            }
        }
    }
}

/// Copy what is still buffered in the pty after the container exited,
/// without blocking on a pty nobody writes to any more.
fn drain(master: &OwnedFd) {
    loop {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) > 0
            && fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
        if !ready || terminal::copy_available(master.as_fd(), std::io::stdout().as_fd()).unwrap_or(0) == 0 {
            return;
        }
    }
}
