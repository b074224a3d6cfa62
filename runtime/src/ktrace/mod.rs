//! `--trace` on create, run and exec: the kernel's side of the container
//! (every syscall, fork, exec and exit, from glassbox's eBPF probes) in the
//! container's own record, beside the runtime's stages, and — for a
//! foreground `run`/`exec` — printed live as one timeline on stderr.
//!
//! The runtime's own pid is followed from the very start of the command,
//! before the first namespace exists, so the trace never misses the init
//! or a short-lived container; the kernel follows every fork from there.
//! Two ways, the same records:
//!
//! - a hub runs (`glassbox dashboard`, maps pinned under /sys/fs/bpf/glassbox/:
//!   [`glassbox_probes::PinnedHub`]): the runtime only claims an owner slot and puts its
//!   pid in TRACED through the pins ([`glassbox_probes::pinned_sessions`]);
//!   the hub writes the records. A printer process follows the record for
//!   the timeline.
//! - no hub: the runtime forks a tracer process that loads the probes for
//!   this one session ([`local`]).
//!
//! Both readers use [`glassbox_probes::writer`]; the printer is [`timeline`].

pub mod local;
pub mod timeline;

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use glassbox_probes::writer;
use glassbox_probes::{owner_info, pinned_sessions, OwnerInfo, Sessions};

use crate::paths::Paths;
use crate::recorder::{kept, EVENTS_FILE};
pub use timeline::Filter;

/// Where a hub pins its maps unless told otherwise.
pub const DEFAULT_PIN_DIR: &str = glassbox_probes::DEFAULT_PIN_DIR;

/// The default ring buffer: room for ≈120 000 syscall records (104 bytes
/// each, three quarters of the ring) between two reads. bench/trace.sh:
/// `dd bs=1 count=1000000` lost none in 4 runs of 4 with 16 MiB, and now
/// and then ≈1 % with 8 MiB (the reader shares 2 CPUs with dd).
pub const DEFAULT_RING_BYTES: u32 = 16 << 20;

/// What `--trace` asks for, resolved before anything is created.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    pub container: String,
    pub events_path: PathBuf,
    pub kept_path: PathBuf,
    pub filter: Filter,
    pub ring_bytes: u32,
    pub pin_dir: PathBuf,
    /// create, run -d, exec -d: the command returns while the container lives on.
    pub detached: bool,
    /// --explain narrates the stages already.
    pub narrated: bool,
    /// When the command began (CLOCK_MONOTONIC): `exec`'s timeline leaves
    /// out what the record held before.
    pub since_ns: u64,
}

impl TraceRequest {
    pub fn new(
        paths: &Paths,
        id: &str,
        list: &str,
        ring_bytes: u32,
        pin_dir: &Path,
        detached: bool,
        narrated: bool,
    ) -> Result<TraceRequest, String> {
        Ok(TraceRequest {
            container: id.to_string(),
            events_path: paths.container_dir(id).join(EVENTS_FILE),
            kept_path: kept::kept_record(&paths.state_root, id),
            filter: Filter::parse(list)?,
            ring_bytes,
            pin_dir: pin_dir.to_path_buf(),
            detached,
            narrated,
            since_ns: crate::recorder::monotonic_ns(),
        })
    }

    /// The record, then where delete keeps it.
    pub fn record_paths(&self) -> Vec<PathBuf> {
        vec![self.events_path.clone(), self.kept_path.clone()]
    }
}

/// The session of this command.
enum Active {
    Local(local::LocalTracer),
    Pinned { sessions: Sessions, slot: u8, printer: Option<local::LocalTracer> },
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

/// Starts tracing this process: through a running hub if there is one,
/// else with a tracer process of its own. Call it first thing, while the
/// runtime is single-threaded. An error, whole as the user sees it, says
/// why tracing is unavailable; nothing has been created then.
pub fn start(req: &TraceRequest) -> Result<(), String> {
    if let Some((mut sessions, hub_pid)) = pinned_sessions(&req.pin_dir) {
        // Forked before our pid is followed, so the printer is not traced.
        let printer = match req.detached {
            true => None,
            false => Some(printer::start(req).map_err(|e| format!("--trace: the timeline's printer: {e}"))?),
        };
        let info = owner_info(std::process::id(), &req.container, &req.events_path);
        let slot = sessions.claim(&info).map_err(|e| format!("--trace: tracing through the hub: {e}"))?;
        if let Err(e) = sessions.follow(std::process::id(), slot) {
            sessions.release(slot);
            return Err(format!("--trace: tracing through the hub: {e}"));
        }
        crate::log::debug(&format!(
            "trace: following through the hub (pid {hub_pid}, maps in {}) as owner slot {slot}",
            req.pin_dir.display()
        ));
        *lock() = Some(Active::Pinned { sessions, slot, printer });
        return Ok(());
    }
    crate::log::debug("trace: no hub; loading the eBPF probes in a tracer process");
    let tracer = local::start(req)?;
    *lock() = Some(Active::Local(tracer));
    Ok(())
}

fn lock() -> std::sync::MutexGuard<'static, Option<Active>> {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Before `run` deletes the container (which moves the record): wait until
/// the reader holds the record open, so no kernel line is lost to the
/// rename. A second at most.
pub fn before_delete() {
    let mut active = lock();
    match active.as_mut() {
        Some(Active::Local(t)) => {
            let _ = local::wait_opened(&mut t.told, Duration::from_secs(1));
        }
        Some(Active::Pinned { sessions, slot, .. }) => {
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                if sessions.owner(*slot).is_none_or(|i: OwnerInfo| i.flags & OwnerInfo::OPENED != 0) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        None => {}
    }
}

/// The end of the command: tell the tracer (or printer), and for a
/// foreground command wait until it has printed the timeline's last lines.
pub fn finish() {
    let Some(active) = lock().take() else { return };
    let printer = match active {
        Active::Local(t) => Some(t),
        Active::Pinned { printer, .. } => printer,
    };
    if let Some(mut t) = printer.filter(|t| t.foreground) {
        drop(t.end.take());
        local::wait_done(&mut t.told, Duration::from_secs(5));
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(t.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    }
}

/// The printer when the hub's pinned probes trace: a process (forked first thing, like the local
/// tracer, for the same reason) that only follows the record.
mod printer {
    use super::*;

    pub fn start(req: &TraceRequest) -> Result<local::LocalTracer, String> {
        let (pid, end, told) = local::fork_helper(|end, _told| {
            print_until_done(req, end);
            0
        })?;
        Ok(local::LocalTracer { pid, end: Some(end), told, foreground: true })
    }

    /// Follows the record until the runtime is done and every process the
    /// kernel saw forked is gone (plus a moment for the hub's last batch).
    fn print_until_done(req: &TraceRequest, end: OwnedFd) {
        let mut timeline = timeline::Timeline::new(req);
        let mut done_at: Option<Instant> = None;
        let mut end = File::from(end);
        // Lines are read (and made into text) while they come, every 2 ms,
        // so that little is left when the runtime is done; a quiet record
        // is looked at less and less often, down to every 20 ms.
        let mut wait_ms = 2;
        loop {
            let read = timeline.pump(timeline::HOLD_NS);
            if let Some(t) = done_at {
                // Checked as soon as what the hub wrote is read: the runtime
                // waits for this process, so every moment here is the
                // command's (a sleep before this check cost 2 ms a run).
                if all_written(&timeline, t.elapsed()) {
                    timeline.finish();
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            wait_ms = if read > 0 { 2 } else { (wait_ms * 2).min(20) };
            let mut pfd = libc::pollfd { fd: end.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, wait_ms) } > 0;
            if ready && !matches!(end.read(&mut [0u8; 8]), Ok(n) if n > 0) {
                done_at = Some(Instant::now());
            }
        }
    }

    /// Whether the hub has written the exits of every process forked (a
    /// thread's end has no exit record: then a moment's grace). No fork
    /// read yet means the hub's lines are still to come (the init's clone
    /// is always one), not that all are done.
    fn all_written(timeline: &timeline::Timeline, waited: Duration) -> bool {
        let read_any = !timeline.forked.is_empty();
        let all_exits = read_any && timeline.forked.iter().all(|p| timeline.exited.contains(p));
        let gone = read_any && timeline.forked.iter().all(|p| !writer::exists(*p));
        all_exits || (gone && waited > Duration::from_millis(60)) || waited > Duration::from_secs(2)
    }
}
