//! The tracer process of `--trace` when no hub runs: forked by the runtime
//! at the very start of create/run/exec, before anything else exists. A
//! process, not a thread: the runtime clone(2)s the container's init
//! without CLONE_VM, and a thread holding the allocator's or stderr's lock
//! at that instant would leave the init's copy of it locked forever.
//!
//! ```text
//!  runtime                                   tracer process (fork)
//!  ───────                                   ─────────────────────
//!  fork ───────────────────────────────────▶ load the probes, claim a slot,
//!  read(told): waits                         TRACED[runtime pid] = slot
//!        ◀────────────── "R" (or "E reason") ┘
//!  create: state dir, recorder, clone init…  read ring → events.jsonl (writer),
//!  run: before delete, waits for ◀──── "O"   the file open; print the timeline
//!  end: close(end) ────────────────────────▶ every followed process gone and
//!  run: read(told) until EOF ◀──── close     the runtime done: drain, report
//!                                            lost records, free the slot, exit
//! ```
//!
//! For `create` (and `-d`) the tracer outlives the runtime: it leaves the
//! session (setsid(2)) and its stdio goes to /dev/null.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use glassbox_probes::{owner_info, TraceOptions, Tracer};

use super::timeline::{Timeline, HOLD_NS};
use super::TraceRequest;
use glassbox_probes::writer::{exists, Writer};

/// The runtime's ends of the two pipes, and the tracer's pid.
pub struct LocalTracer {
    pub pid: i32,
    /// Closed when the runtime is done (or dies): the tracer's cue.
    pub end: Option<OwnedFd>,
    /// What the tracer tells: R, E…, O, then EOF when it has printed all.
    pub told: File,
    /// A foreground command waits at its end for the last lines to be printed.
    pub foreground: bool,
}

/// Forks the tracer and waits until it follows us (or says why it cannot).
pub fn start(req: &TraceRequest) -> Result<LocalTracer, String> {
    let runtime = std::process::id();
    let (pid, end, mut told) = fork_helper(|end, told| tracer_main(req, runtime, end, told))
        .map_err(|e| format!("--trace: starting the tracer process: {e}"))?;
    let mut first = [0u8; 1];
    match told.read(&mut first) {
        Ok(1) if first[0] == b'R' => Ok(LocalTracer { pid, end: Some(end), told, foreground: !req.detached }),
        _ => {
            let mut why = String::new();
            let _ = told.read_to_string(&mut why);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            Err(if why.trim().is_empty() {
                "tracing is unavailable: the tracer process died before it followed this command; \
                 `glassbox trace -- true` shows whether the probes load at all"
                    .into()
            } else {
                why.trim().into()
            })
        }
    }
}

/// Forks a helper process (the tracer, or the printer beside the hub) with two
/// pipes to it: `end`, which the runtime closes when it is done, and `told`,
/// on which the helper answers. The child holds no other descriptor of the
/// runtime's (its log file, fds meant for the container, a console socket),
/// ignores Ctrl-C (that is for the container: a helper stays to drain and
/// report) and SIGPIPE, runs `main` with its ends and leaves with its result
/// through _exit(2), never through the runtime's own exit paths. Returns the
/// child's pid and the runtime's ends. Call it while the runtime is
/// single-threaded.
pub fn fork_helper(main: impl FnOnce(OwnedFd, File) -> i32) -> Result<(i32, OwnedFd, File), String> {
    let (told_r, told_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
    let (end_r, end_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
    // SAFETY: the caller is single-threaded; the child only runs `main` and _exits.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(told_r);
            drop(end_w);
            close_other_fds(&[end_r.as_raw_fd(), told_w.as_raw_fd()]);
            // SAFETY: SIG_IGN runs no code.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            }
            let code = main(end_r, File::from(told_w));
            // SAFETY: leave without running the runtime's exit paths twice.
            unsafe { libc::_exit(code) }
        }
        pid => Ok((pid, end_w, File::from(told_r))),
    }
}

/// "tracing is unavailable: <why>", said once: the loader's own reasons
/// already begin so.
fn unavailable(why: &dyn std::fmt::Display) -> String {
    let why = why.to_string();
    if why.starts_with("tracing is unavailable") {
        why
    } else {
        format!("tracing is unavailable: {why}")
    }
}

fn tracer_main(req: &TraceRequest, runtime: u32, end: OwnedFd, mut told: File) -> i32 {
    if req.detached {
        detach();
    }
    let opts = TraceOptions { ring_bytes: req.ring_bytes, ..TraceOptions::default() };
    let mut tracer = match Tracer::load(&opts) {
        Ok(t) => t,
        Err(e) => {
            let _ = write!(told, "E{}", unavailable(&e));
            return 1;
        }
    };
    let info = owner_info(runtime, &req.container, &req.events_path);
    let claimed = tracer.sessions().claim(&info);
    let slot = match claimed.and_then(|slot| tracer.follow(runtime, slot).map(|()| slot)) {
        Ok(slot) => slot,
        Err(e) => {
            let _ = write!(told, "E{}", unavailable(&e));
            return 1;
        }
    };
    let _ = told.write_all(b"R");

    let mut writer = Writer::default();
    let mut timeline = (!req.detached).then(|| Timeline::new(req));
    let mut runtime_done = false;
    let mut said_opened = false;
    let mut last_check = Instant::now();
    loop {
        // A backlog to write: look at the ring again at once.
        let timeout = if writer.backlog() > 0 { 0 } else { 20 };
        runtime_done |= wait(&tracer, (!runtime_done).then_some(&end), timeout);
        let records = tracer.drain_owned();
        writer.write(tracer.sessions(), records, 0);
        if !said_opened && writer.sessions.get(&slot).is_some_and(|s| s.opened()) {
            said_opened = true;
            let _ = told.write_all(b"O");
        }
        if let Some(t) = &mut timeline {
            t.pump(HOLD_NS);
        }
        if last_check.elapsed() > Duration::from_millis(500) {
            writer.check_alive();
            last_check = Instant::now();
        }
        runtime_done |= !exists(runtime);
        let others_alive = writer.sessions.get(&slot).is_some_and(|s| s.alive.iter().any(|p| *p != runtime));
        if runtime_done && !others_alive {
            break;
        }
    }
    let records = tracer.drain_owned();
    writer.write(tracer.sessions(), records, 0);
    writer.flush_all(tracer.sessions());
    // In the kernel (ring full) or here (too many waiting to be written).
    let lost = tracer.lost() + writer.overflow;
    if let Some(s) = writer.sessions.get_mut(&slot) {
        if lost > 0 {
            s.report_lost(lost);
        }
    }
    if let Some(t) = &mut timeline {
        t.finish();
    }
    if lost > 0 {
        crate::log::warn(&format!(
            "--trace: {lost} kernel records lost: the ring buffer ({} bytes) was full; raise --ring-bytes",
            tracer.ring_bytes()
        ));
    }
    tracer.sessions().release(slot);
    drop(told);
    0
}

/// The ring and, until it closes, the runtime's end pipe, for `timeout_ms`
/// at most. Returns whether the runtime said it is done.
fn wait(tracer: &Tracer, end: Option<&OwnedFd>, timeout_ms: i32) -> bool {
    tracer.wait(end.map(|fd| fd.as_fd()), timeout_ms).unwrap_or(false)
}

/// Out of the caller's session and terminal, stdio on /dev/null: `create`
/// returns at once, and whoever reads its output sees it end.
fn detach() {
    // SAFETY: setsid(2) takes nothing; open(2) gets a NUL-terminated
    // literal; dup2(2) over 0-2 changes what those numbers refer to without
    // closing anything Rust code owns (std's stdio handles hold the numbers,
    // not the files), and `null` is this function's alone to close.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// The runtime's other descriptors (a log file, fds passed to the
/// container) are not the tracer's to hold open.
fn close_other_fds(keep: &[RawFd]) {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing a descriptor nobody here uses (the read_dir's own is gone).
            unsafe { libc::close(fd) };
        }
    }
}

/// Waits (at most `timeout`) until the tracer says it holds the record open.
pub fn wait_opened(told: &mut File, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd { fd: told.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) } <= 0 {
            return false;
        }
        let mut b = [0u8; 1];
        match told.read(&mut b) {
            Ok(1) if b[0] == b'O' => return true,
            Ok(1) => continue,
            _ => return false,
        }
    }
}

/// Reads until the tracer closes its end (it has printed everything).
pub fn wait_done(told: &mut File, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut sink = [0u8; 64];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd { fd: told.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) } <= 0 {
            return;
        }
        if !matches!(told.read(&mut sink), Ok(n) if n > 0) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn why_tracing_is_unavailable_is_said_once() {
        assert_eq!(super::unavailable(&"no BPF"), "tracing is unavailable: no BPF");
        let already = "tracing is unavailable: loading eBPF programs needs root";
        assert_eq!(super::unavailable(&already), already);
    }
}
