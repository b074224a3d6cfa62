//! Running one planned hook: spawn it, feed it the state JSON, capture what it
//! prints and stop it at its timeout (man7 poll(2), pidfd_open(2), killpg(3)).
//!
//! Everything happens in one poll(2) loop over non-blocking pipes, never in
//! blocking reads or writes, because a hook may misbehave: it may not read its
//! stdin, print more than a pipe holds, or start a daemon that keeps its
//! stdout open after it exits. None of these may hang the runtime. The hook
//! gets its own process group so that a timeout kills whatever it started too.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::{HookError, HookPlan};

/// How much of each of stdout and stderr is kept; the rest is read and dropped
/// so the hook never blocks on a full pipe.
pub const CAPTURE_LIMIT: usize = 64 * 1024;

/// Without a pidfd (kernels before 5.3) the loop wakes this often to check
/// whether the hook has exited.
const FALLBACK_TICK: Duration = Duration::from_millis(10);

/// How a hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signaled(String),
    TimedOut(Duration),
}

/// A hook that is no longer running, with what it printed.
#[derive(Debug)]
pub struct Finished {
    pub end: End,
    pub duration: Duration,
    pub stdout: String,
    pub stderr: String,
}

/// Run `plan` to its end (exit, signal or timeout) with `stdin_data` on stdin.
pub fn supervise(plan: &HookPlan, stdin_data: &[u8]) -> Result<Finished, HookError> {
    let mut child = spawn(plan)?;
    watch(&mut child, plan.timeout, stdin_data).map_err(|source| {
        // We can no longer watch it, so it must not outlive this error.
        kill_group(&child);
        let _ = child.wait();
        HookError::Supervise { hook: plan.name.clone(), path: plan.program.clone(), source }
    })
}

fn kill_group(child: &Child) {
    // The hook leads its own process group, so this reaches its children too.
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
}

fn watch(child: &mut Child, timeout: Option<Duration>, stdin_data: &[u8]) -> io::Result<Finished> {
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);

    let mut stdin = child.stdin.take().filter(|_| !stdin_data.is_empty());
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let fds = [stdin.as_ref().map(AsFd::as_fd), stdout.as_ref().map(AsFd::as_fd), stderr.as_ref().map(AsFd::as_fd)];
    for fd in fds.into_iter().flatten() {
        fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    }
    let pidfd = pidfd_open(child.id());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut written = 0;

    let end = loop {
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                (Some(code), _) => End::Exited(code),
                (None, Some(sig)) => End::Signaled(crate::signals::signal_name(sig)),
                (None, None) => End::Exited(-1),
            };
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            kill_group(child);
            child.wait()?;
            break End::TimedOut(timeout.unwrap_or_default());
        }
        wait_for_activity(&stdin, &stdout, &stderr, pidfd.as_ref(), deadline.map(|d| d - now))?;
        if let Some(pipe) = stdin.as_mut() {
            match pipe.write(&stdin_data[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
                // The hook closed its stdin without reading it all: its choice.
                Err(_) => written = stdin_data.len(),
            }
            if written == stdin_data.len() {
                stdin = None; // closing it is the hook's end-of-file
            }
        }
        drain(&mut stdout, &mut out);
        drain(&mut stderr, &mut err);
    };
    let duration = started.elapsed();
    // Whatever is already in the pipes; a daemon the hook left holding them is not waited for.
    drain(&mut stdout, &mut out);
    drain(&mut stderr, &mut err);
    Ok(Finished {
        end,
        duration,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}

fn spawn(plan: &HookPlan) -> Result<Child, HookError> {
    let mut cmd = Command::new(&plan.program);
    cmd.arg0(&plan.argv0)
        .args(&plan.args)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut spawned = cmd.spawn();
    if spawned.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::EPERM)) {
        // A startContainer hook runs in the init, under a seccomp profile
        // loaded before the capabilities were dropped. glibc's posix_spawn
        // makes the child with clone3(2) and falls back to clone(2) only
        // on ENOSYS, so a profile older than clone3 that answers EPERM stops
        // it. A pre_exec step, even an empty one, makes std fork(2) instead.
        // SAFETY: the closure does nothing, which is safe in a forked child.
        unsafe { cmd.pre_exec(|| Ok(())) };
        spawned = cmd.spawn();
    }
    spawned.map_err(|source| {
        let (hook, path) = (plan.name.clone(), plan.program.clone());
        if source.kind() == ErrorKind::NotFound {
            HookError::NotFound { hook, path }
        } else {
            HookError::Spawn { hook, path, source }
        }
    })
}

/// Sleep in poll(2) until a pipe is ready, the hook exits (its pidfd becomes
/// readable) or the timeout is due.
fn wait_for_activity(
    stdin: &Option<impl AsFd>,
    stdout: &Option<impl AsFd>,
    stderr: &Option<impl AsFd>,
    pidfd: Option<&OwnedFd>,
    until_deadline: Option<Duration>,
) -> io::Result<()> {
    let mut fds = Vec::with_capacity(4);
    fds.extend(stdin.as_ref().map(|p| PollFd::new(p.as_fd(), PollFlags::POLLOUT)));
    fds.extend(stdout.as_ref().map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN)));
    fds.extend(stderr.as_ref().map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN)));
    fds.extend(pidfd.map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN)));
    let wait = match (pidfd, until_deadline) {
        (Some(_), d) => d,
        (None, Some(d)) => Some(d.min(FALLBACK_TICK)),
        (None, None) => Some(FALLBACK_TICK),
    };
    // Round up so we never wake a hair before the deadline and spin.
    let timeout = match wait {
        None => PollTimeout::NONE,
        Some(d) => PollTimeout::try_from(d + Duration::from_micros(999)).unwrap_or(PollTimeout::MAX),
    };
    match poll(&mut fds, timeout) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Read what is available now; keep up to CAPTURE_LIMIT. End of file closes the pipe.
fn drain(pipe: &mut Option<impl Read>, kept: &mut Vec<u8>) {
    let mut buf = [0u8; 8192];
    while let Some(p) = pipe.as_mut() {
        match p.read(&mut buf) {
            Ok(0) => *pipe = None,
            Ok(n) => {
                let room = CAPTURE_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(_) => *pipe = None,
        }
    }
}

/// A pidfd turns "has the process exited?" into something poll(2) can wait
/// on (a hook here; the traced command in `glassbox trace`).
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a fresh fd that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
