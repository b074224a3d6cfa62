//! `glassbox trace [--summary [--counts]] [--ring-bytes N] -- <command…>`: runs a
//! command under glassbox's eBPF probes (crate glassbox-probes) and prints,
//! on stderr, what the kernel saw it and its children do: one line per
//! syscall, fork, exec and exit, or with `--summary` a table of syscall
//! counts and latencies. Unlike strace (ptrace(2)) the command is never
//! stopped: the probes run in the kernel and records come back on a ring
//! buffer, so a busy command can outrun the reader — such records are
//! counted in the kernel and reported, never dropped silently.
//!
//! ```text
//!  glassbox trace                          the command (fork(2) child)
//!  ──────────────                          ───────────────────────────
//!  Tracer::load (probes attached)
//!  pipe2(O_CLOEXEC); fork ───────────────▶ read(pipe): waits
//!  TRACED[child] = 1
//!  write(pipe) ──────────────────────────▶ execvp(command): traced from here,
//!  poll ring, print; waitpid(WNOHANG)      and so is every child it forks
//! ```

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use glassbox_probes::{format_ns, Formatter, KernelRecord, SyscallSummary, TraceOptions, Tracer};
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execvp, fork, ForkResult, Pid};

use super::args::TraceCmd;

/// Runs the traced command; returns its exit code (128 + signal if killed).
pub fn trace(a: &TraceCmd) -> Result<i32> {
    let opts = TraceOptions { ring_bytes: a.ring_bytes, aggregate: a.summary, counts_only: a.counts };
    let mut tracer = Tracer::load(&opts)?;
    if let Some(why) = tracer.namespaces_unavailable() {
        eprintln!("glassbox trace: no namespace lines: {why}");
    }
    let start = crate::recorder::monotonic_ns();
    let child = spawn_stopped(&a.command)?;
    let pid = child.pid;
    if let Err(e) = tracer.follow(pid.as_raw() as u32, 1) {
        // Dropping the pipe unread makes the child exit without running.
        drop(child);
        let _ = waitpid(pid, None);
        return Err(e).context("following the command's pid");
    }
    child.release();
    // Ctrl-C is for the command (it shares our terminal's process group);
    // we stay to drain the ring and report.
    // SAFETY: installing SIG_IGN runs no handler code.
    unsafe {
        let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
        let _ = signal(Signal::SIGQUIT, SigHandler::SigIgn);
    }

    let mut fmt = Formatter::new();
    let mut counts = Counts { child: pid.as_raw() as u32, ..Counts::default() };
    // Readable when the command exits, so the wait below ends at once.
    let exited = crate::hooks::pidfd_open(pid.as_raw() as u32);
    let code = loop {
        wait_for_records_or_exit(&tracer, exited.as_ref()).context("polling the eBPF ring buffer")?;
        print(&tracer.drain(), start, &mut fmt, &mut counts);
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)).context("waitpid on the traced command")? {
            WaitStatus::Exited(_, code) => break code,
            WaitStatus::Signaled(_, sig, _) => break 128 + sig as i32,
            _ => {}
        }
    };
    // Its exit record went to the ring before its parent (we) could reap it.
    print(&tracer.drain(), start, &mut fmt, &mut counts);
    if a.summary {
        print_summary(&tracer.summary()?, tracer.counts_only());
    }
    report_end(&tracer, &counts);
    Ok(code)
}

/// The ring buffer or the pidfd, for at most 100 ms: syscall records only
/// wake the reader in batches (see the probes), so the timeout is what
/// bounds how late a quiet command's lines appear.
fn wait_for_records_or_exit(tracer: &Tracer, exited: Option<&OwnedFd>) -> std::io::Result<()> {
    tracer.wait(exited.map(|fd| fd.as_fd()), 100).map(drop)
}

/// The command, forked and waiting on a pipe until it is in the traced map,
/// so its execve(2) and everything after is seen.
struct StoppedChild {
    pid: Pid,
    go: File,
}

impl StoppedChild {
    /// One byte down the pipe lets the child's read return: it execs.
    fn release(self) {
        let mut go = self.go;
        let _ = go.write_all(b"g");
    }
}

fn spawn_stopped(command: &[String]) -> Result<StoppedChild> {
    let argv: Vec<CString> = command
        .iter()
        .map(|s| CString::new(s.as_str()))
        .collect::<Result<_, _>>()
        .context("the command has a NUL byte in an argument")?;
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2 for the traced command's go signal")?;
    // SAFETY: glassbox is single-threaded here; the child only reads a
    // pipe, resets two signal dispositions and execs (or writes and exits).
    match unsafe { fork() }.context("fork for the traced command")? {
        ForkResult::Child => {
            drop(write_end);
            let mut byte = [0u8; 1];
            if !matches!(File::from(read_end).read(&mut byte), Ok(1)) {
                // The tracer died or refused: do not run untraced.
                // SAFETY: _exit(2) has no preconditions; it leaves without
                // running the destructors of the parent's copied state.
                unsafe { libc::_exit(126) };
            }
            let err = execvp(&argv[0], &argv).unwrap_err();
            let _ = writeln!(std::io::stderr(), "glassbox trace: cannot run {:?}: {err}", command[0]);
            // SAFETY: as above.
            unsafe { libc::_exit(127) };
        }
        ForkResult::Parent { child } => {
            drop(read_end);
            Ok(StoppedChild { pid: child, go: File::from(write_end) })
        }
    }
}

#[derive(Default)]
struct Counts {
    syscalls: u64,
    processes: u64,
    /// The command's pid, and whether it has exec'd yet: its few syscalls
    /// before that (the read of the go signal, closing the pipe) are
    /// glassbox's hand-off, not the command, and are not shown.
    child: u32,
    execd: bool,
}

/// One line each: seconds since the trace started, then the record.
fn print(records: &[KernelRecord], start: u64, fmt: &mut Formatter, counts: &mut Counts) {
    if records.is_empty() {
        return;
    }
    // stderr is unbuffered: without this, every piece of every line would
    // be its own write(2), and the reader would fall behind the ring.
    let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
    for rec in records {
        if !counts.execd && rec.pid() == counts.child {
            match rec {
                KernelRecord::Exec { .. } => counts.execd = true,
                KernelRecord::Exit { .. } => {}
                _ => continue,
            }
        }
        match rec {
            KernelRecord::Syscall(_) => counts.syscalls += 1,
            _ => counts.processes += 1,
        }
        let t = rec.ts_ns().saturating_sub(start) as f64 / 1e9;
        let _ = writeln!(err, "{t:11.6} {}", fmt.line(rec));
    }
    let _ = err.flush();
}

/// The table of `--summary`; with `--counts` the kernel saw no returns,
/// so errors and latencies are `-`.
fn print_summary(rows: &[SyscallSummary], counts_only: bool) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{:<20} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "syscall", "calls", "errors", "total", "mean", "p50≤", "p99≤"
    );
    for r in rows {
        let _ = writeln!(
            err,
            "{:<20} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}",
            r.name,
            r.count,
            unknown_if(counts_only, r.errors.to_string()),
            unknown_if(counts_only, format_ns(r.total_ns)),
            unknown_if(counts_only, format_ns(r.mean_ns())),
            unknown_if(counts_only, format_ns(r.percentile_ns(0.5))),
            unknown_if(counts_only, format_ns(r.percentile_ns(0.99))),
        );
    }
}

fn unknown_if(unknown: bool, text: String) -> String {
    if unknown {
        "-".into()
    } else {
        text
    }
}

/// What was seen, and what was not: lost records are always said.
fn report_end(tracer: &Tracer, counts: &Counts) {
    let lost = tracer.lost();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "glassbox trace: {} syscall records, {} process records, {lost} lost",
        counts.syscalls, counts.processes
    );
    if lost > 0 {
        let _ = writeln!(
            err,
            "glassbox trace: {lost} records lost: the ring buffer ({} bytes) was full; raise --ring-bytes",
            tracer.ring_bytes()
        );
    }
    if tracer.undecodable() > 0 {
        let _ = writeln!(
            err,
            "glassbox trace: {} records could not be decoded: the embedded probes and this loader disagree; rebuild glassbox (cargo build) so they match",
            tracer.undecodable()
        );
    }
}
