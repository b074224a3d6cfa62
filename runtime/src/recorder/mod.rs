//! The runtime's side of the event stream: every stage of making a
//! container becomes `stage_begin`/`stage_end` lines (and `step`, `status`,
//! `error` lines) in the format of the `glassbox-events` crate, sent to
//! every sink at once:
//!
//! - `<root>/<id>/events.jsonl`, always (unless `--no-events`): the
//!   replayable record. The runtime and the container's init both append to
//!   it: the descriptor is opened with O_APPEND before clone(2), and whole
//!   lines go out together — one write(2) when the process has told another
//!   one to go on ([`Channel::send_then_flush`](crate::process::Channel::send_then_flush)),
//!   before it waits for one or tells it something else ([`flush_before_waiting`]),
//!   execs or exits (a child it clones or forks drops its copy instead:
//!   [`start_in_child`]), and on an error (with a narrator, at each stage's
//!   end too) — so
//!   lines never interleave, and the record costs six writes for a `run`
//!   of /bin/true rather than one per event (on ext4 an appending write costs
//!   ~15 µs of CPU: bench/run-true.sh).
//!   Lines of two processes at work at the same time may land slightly out
//!   of `seq` order; readers sort by `seq`. A process killed mid-stage loses
//!   that stage's unwritten steps; its error still comes from the runtime.
//! - the hub's socket, when something listens there ([`hub_client`]): never
//!   waited for, and sent the lines that wait as one message whenever the
//!   file is written (and at once after a `status` line) — a default
//!   container is nine messages rather than 153, each of which woke the
//!   hub in the middle of the start (bench/dashboard.sh).
//! - the narrator, with `--explain`/`--step` ([`narrator_link`]).
//!
//! The three are not one trait's implementations: each takes the same line,
//! made once, but on its own terms — the file in batches at the moments
//! above, the hub at the same moments and never waited for (drops counted), the
//! narrator at once and waited for — and the recorder is where those rules
//! are written down, side by side.
//!
//! When the container is removed, its record is kept ([`kept`]).
//!
//! Sequence numbers come from one counter every recording process maps
//! ([`glassbox_events::Sequence`]). Every descriptor is O_CLOEXEC, so
//! nothing of the recorder reaches the user's program. Recording is best
//! effort: a full disk must not stop a container from being made.

pub mod flag_names;
pub mod hub_client;
pub mod kept;
pub mod narrator_link;

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use glassbox_events::{Event, Kind, LineWriter, Outcome, Source, Stage, StepArgs, WallText, SCHEMA_VERSION};
use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};

pub use flag_names::FlagNames;
use hub_client::HubClient;
use narrator_link::NarratorLink;

/// The events file in a container's state directory.
pub const EVENTS_FILE: &str = "events.jsonl";

/// Which sinks this process sends events to; set once by the command line.
pub struct SinkConfig {
    /// `--no-events` turns events.jsonl and the hub off (for measuring their cost).
    pub events: bool,
    /// The hub's socket (`--hub`).
    pub hub: PathBuf,
    /// `--explain`/`--step`: the narrator thread's line.
    pub narrator: Option<NarratorLink>,
}

static CONFIG: OnceLock<SinkConfig> = OnceLock::new();
static HUB: OnceLock<Option<HubClient>> = OnceLock::new();

/// Choose this process's sinks (once, before any container work).
pub fn configure(config: SinkConfig) {
    let _ = CONFIG.set(config);
}

fn config() -> Option<&'static SinkConfig> {
    CONFIG.get()
}

fn hub() -> Option<&'static HubClient> {
    let config = config().filter(|c| c.events)?;
    HUB.get_or_init(|| HubClient::connect(&config.hub)).as_ref()
}

/// What the runtime and the process it clones share, in a MAP_SHARED
/// page that clone(2) without CLONE_VM still shares.
#[repr(C)]
struct Shared {
    /// The init's pid as the host sees it (the init itself sees 1).
    init_pid: AtomicI32,
    /// Events the hub could not take, not yet reported.
    hub_drops: AtomicU64,
}

/// Records one container's events; cheap to clone (the clones share all).
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    file: Option<File>,
    /// Whole lines not yet written, and the wall clock's text (one lock per event).
    pending: Mutex<Pending>,
    seq: glassbox_events::Sequence,
    shared: NonNull<Shared>,
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC when the recorder opened: an
    /// event's wall time is its monotonic stamp plus this, one clock read
    /// per event instead of two. Both clocks tick alike (NTP slews both);
    /// only a step of the wall clock while the process records would show.
    wall_offset_ns: i64,
}

struct Pending {
    /// Whole lines not yet written (see the module's note on when they go).
    lines: Vec<u8>,
    /// How many bytes of `lines` the hub has been offered.
    offered: usize,
    writer: LineWriter,
    wall: WallText,
    /// The event being written: its container id and wall text are reused
    /// from one event to the next instead of allocated for each.
    event: Event,
    /// A stage begun, not yet a line: (stage, seq, ts_ns, pid). See [`Recorder::begin`].
    begun: Option<(Stage, u64, u64, i32)>,
}

impl Pending {
    /// Give the event being written its number, its times and its process.
    fn stamp(&mut self, seq: u64, ts_ns: u64, pid: i32, wall_offset_ns: i64) {
        let event = &mut self.event;
        event.seq = seq;
        event.ts_ns = ts_ns;
        event.wall.clear();
        self.wall.push(&mut event.wall, ts_ns as i64 + wall_offset_ns);
        event.pid = pid;
    }

    /// The line of the stage begun but not yet written, if any.
    fn line_of_begun(&mut self, wall_offset_ns: i64) {
        let Some((stage, seq, ts_ns, pid)) = self.begun.take() else { return };
        self.stamp(seq, ts_ns, pid, wall_offset_ns);
        self.event.kind = Kind::StageBegin { stage };
        self.writer.line(&mut self.lines, &self.event);
    }
}

/// Lines are written out before this many bytes of them wait (a whole
/// container's record is ~40 KiB).
const FLUSH_AT: usize = 32 * 1024;

impl Inner {
    /// One write(2) of whole lines: O_APPEND puts them, unbroken, at the end
    /// of the file, whatever the other processes appending to it do.
    fn write_out(&self, pending: &mut Pending) {
        pending.line_of_begun(self.wall_offset_ns);
        self.offer_to_hub(pending);
        if let (Some(file), false) = (&self.file, pending.lines.is_empty()) {
            let _ = (&*file).write_all(&pending.lines);
        }
        pending.lines.clear();
        pending.offered = 0;
    }

    /// The lines the hub has not been offered yet, as one message (or a
    /// few, if they are long); the events of a message it could not take
    /// are counted as dropped.
    fn offer_to_hub(&self, pending: &mut Pending) {
        let Some(hub) = hub() else { return };
        let mut unsent = &pending.lines[pending.offered..];
        while !unsent.is_empty() {
            let message = hub_client::next_message(unsent);
            if !hub.offer(message) {
                let events = message.iter().filter(|b| **b == b'\n').count() as u64;
                self.shared().hub_drops.fetch_add(events, Ordering::SeqCst);
            }
            unsent = &unsent[message.len()..];
        }
        pending.offered = pending.lines.len();
    }

    fn shared(&self) -> &Shared {
        // SAFETY: the mapping lives as long as the process (never unmapped).
        unsafe { self.shared.as_ref() }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        self.write_out(&mut pending);
    }
}

/// A failure and the stage it belongs to: what [`Recorder::stage`] returns
/// when its work fails, so an error is told its stage by the one place
/// that runs the stage. The runtime's own errors leave it behind (`?` turns
/// a `Staged<E>` into whatever `E` becomes); a process being made, whose
/// failure crosses to the runtime as a message, carries it on
/// ([`StepError`](crate::process::StepError)).
#[derive(Debug)]
pub struct Staged<E> {
    pub stage: Stage,
    pub error: E,
    /// Whether the record has its `error` line: always from
    /// [`Recorder::stage`]; not for a failure between stages, which the
    /// code reporting it records ([`Recorder::error`]).
    pub recorded: bool,
}

impl<E> Staged<E> {
    /// A failure found between stages, of the work of `stage`.
    pub fn between_stages(stage: Stage, error: E) -> Staged<E> {
        Staged { stage, error, recorded: false }
    }
}

// SAFETY: every field is Send but `shared`, a raw pointer to a Shared:
// atomics only, in a mapping never unmapped, so any thread may use it.
unsafe impl Send for Inner {}
// SAFETY: `&Inner` gives out `&Shared` alone through `shared`, and atomics
// are made to be used from many threads at once; the rest is Sync.
unsafe impl Sync for Inner {}

/// The recorder of code deep in the runtime or the init (one mount(2), one
/// mknod(2)) that reports a step without being handed one, and the stage
/// (and process) the step belongs to: the innermost [`Recorder::stage`]
/// running. The init inherits them across clone(2); it is single-threaded,
/// and the runtime's other thread (the narrator) never touches them.
static CURRENT: Mutex<Option<Recorder>> = Mutex::new(None);
static CURRENT_STAGE: AtomicU8 = AtomicU8::new(NO_STAGE);
static CURRENT_PID: AtomicI32 = AtomicI32::new(0);
const NO_STAGE: u8 = u8::MAX;

/// How many events `<dir>/events.jsonl` holds now (one per line).
pub fn events_written(dir: &Path) -> usize {
    std::fs::read(dir.join(EVENTS_FILE)).map(|t| t.iter().filter(|b| **b == b'\n').count()).unwrap_or(0)
}

/// Whether any sink takes events in this process: work done only to
/// describe a step (reading the capability sets) can be skipped otherwise.
pub fn recording() -> bool {
    let current = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    current.is_some_and(|rec| rec.has_sinks())
}

/// First thing in a process cloned or forked from the runtime (the init, an
/// exec'd process): forget the stage the runtime was in at clone(2) — the
/// child's stages are its own —, drop the child's copy of the lines the
/// runtime had not written yet (the runtime writes them; a flush before
/// clone(2) would cost a write of its own), and close its copy of the
/// narrator's end.
pub fn start_in_child() {
    CURRENT_STAGE.store(NO_STAGE, Ordering::SeqCst);
    let current = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(rec) = current {
        let mut pending = rec.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.lines.clear();
        pending.offered = 0;
        pending.begun = None;
    }
    narrator_link::close_reader_in_child();
}

/// Write out this process's unwritten lines before it waits for another
/// process (the init for the runtime, `start` for the init) or tells it
/// something it acts on at once (`Ready`, `Failed`): the record keeps the
/// order in which things happened, and whoever reads it meanwhile (`events
/// --follow`, `start --explain`) sees all of it. A message that only lets
/// the other process go on is sent first, the lines written just after
/// ([`Channel::send_then_flush`](crate::process::Channel::send_then_flush)).
/// Also before a hook runs, and as every command ends (`cli::main`).
pub fn flush_before_waiting() {
    let current = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(rec) = current {
        rec.flush();
    }
}

/// The descriptors this process's sinks write to — events.jsonl (a file
/// opened for appending), the hub's socket, the narrator's line — which a
/// process entering the container keeps while it closes the rest
/// ([`process::fds`](crate::process::fds)). None is a directory.
pub fn sink_descriptors() -> Vec<RawFd> {
    let mut fds = Vec::with_capacity(3);
    let current = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(file) = current.as_ref().and_then(|rec| rec.inner.file.as_ref()) {
        fds.push(file.as_raw_fd());
    }
    if let Some(Some(hub)) = HUB.get() {
        fds.push(hub.raw_fd());
    }
    if let Some(narrator) = config().and_then(|c| c.narrator.as_ref()) {
        fds.push(narrator.raw_fd());
    }
    fds
}

/// Make `rec` this process's recorder for [`step`].
pub fn install(rec: &Recorder) {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(rec.clone());
}

/// Record one concrete action, with its real arguments, as a `step` of the
/// stage now running (nothing when no stage is running). `args` writes the
/// arguments, in byte order of their names, straight into the line
/// ([`StepArgs`]); it is called only when a sink takes the event, so with
/// `--no-events` no step is even described.
pub fn step(action: &str, args: impl FnOnce(&mut StepArgs)) {
    let Some(stage) = running_stage() else { return };
    let rec = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(rec) = rec {
        rec.step(CURRENT_PID.load(Ordering::SeqCst), stage, action, args);
    }
}

/// The stage running in this process, if any: the innermost
/// [`Recorder::stage`]. After a panic, the stage it broke (its end, which
/// would have restored the outer one, never ran).
pub fn running_stage() -> Option<Stage> {
    Stage::ALL.get(CURRENT_STAGE.load(Ordering::SeqCst) as usize).copied()
}

impl Recorder {
    /// Start (or go on with) `<dir>/events.jsonl`, and make this the
    /// process's recorder for [`step`]. Without the file (a read-only state
    /// dir, `--no-events`) the other sinks still get the events.
    pub fn open(dir: &Path, container: &str) -> Recorder {
        // `run` is create, start, wait and delete in one process: one recorder serves them all.
        let current = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(rec) = current.filter(|r| r.records(dir, container)) {
            return rec;
        }
        let path = dir.join(EVENTS_FILE);
        let file = if config().is_none_or(|c| c.events) {
            OpenOptions::new().create(true).append(true).custom_flags(libc::O_CLOEXEC).open(&path).ok()
        } else {
            None
        };
        // SAFETY: a fresh anonymous mapping, zero-filled, the size of Shared.
        let page = unsafe {
            mmap_anonymous(
                None,
                std::num::NonZeroUsize::new(std::mem::size_of::<Shared>()).expect("non-zero"),
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        };
        let shared = page.map(|p| p.cast::<Shared>()).unwrap_or_else(|_| {
            NonNull::from(Box::leak(Box::new(Shared { init_pid: AtomicI32::new(0), hub_drops: AtomicU64::new(0) })))
        });
        let seq = if file.is_some() {
            glassbox_events::Sequence::open(dir, || events_written(dir) as u64)
        } else {
            glassbox_events::Sequence::in_memory(0)
        };
        let lines = Vec::with_capacity(if file.is_some() || hub().is_some() { FLUSH_AT + 4096 } else { 4096 });
        let event = Event {
            v: SCHEMA_VERSION,
            seq: 0,
            ts_ns: 0,
            wall: String::with_capacity(32),
            container: container.into(),
            pid: 0,
            source: Source::Runtime,
            kind: Kind::Status { status: String::new() },
        };
        let pending = Mutex::new(Pending {
            lines,
            offered: 0,
            writer: LineWriter::new(),
            wall: WallText::new(),
            event,
            begun: None,
        });
        let wall_offset_ns = wall_clock_ns() - monotonic_ns() as i64;
        let inner = Inner { dir: dir.into(), file, pending, seq, shared, wall_offset_ns };
        let recorder = Recorder { inner: Arc::new(inner) };
        install(&recorder);
        recorder
    }

    /// Whether this is the record of `container` in `dir` (the id is the
    /// one the event being written carries).
    fn records(&self, dir: &Path, container: &str) -> bool {
        self.inner.dir == dir
            && self.inner.pending.lock().unwrap_or_else(|p| p.into_inner()).event.container == container
    }

    fn shared(&self) -> &Shared {
        self.inner.shared()
    }

    /// Write out the lines still waiting: before clone(2) or fork(2), so the
    /// child does not inherit (and write again) a copy of them.
    pub fn flush(&self) {
        let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.write_out(&mut pending);
    }

    /// Clear the place the record goes when the container does (an earlier
    /// container's record under the same id, the oldest when too many):
    /// [`kept::make_room`]. `create` calls this while it waits for the init.
    pub fn make_room_to_keep(&self) {
        if self.inner.file.is_some() {
            kept::make_room(&self.inner.dir);
        }
    }

    /// Tell the init (through the shared page) its host pid.
    pub fn set_init_pid(&self, pid: i32) {
        self.shared().init_pid.store(pid, Ordering::SeqCst);
    }

    pub fn init_pid(&self) -> i32 {
        self.shared().init_pid.load(Ordering::SeqCst)
    }

    /// A `step` of `stage` about `pid`, its arguments written by `args`
    /// (as for [`step`]). An `execve` step is written at once.
    pub fn step(&self, pid: i32, stage: Stage, action: &str, args: impl FnOnce(&mut StepArgs)) {
        if self.has_sinks() {
            self.write(pid, action == "execve", false, |writer, lines, event| {
                writer.step_line(lines, event, stage, action, args)
            });
        }
    }

    /// Whether any sink takes this recorder's events.
    fn has_sinks(&self) -> bool {
        self.inner.file.is_some() || live_sinks()
    }

    /// Send one event about `pid` to every sink (steps go through [`Recorder::step`]).
    fn emit(&self, pid: i32, kind: Kind) {
        if !self.has_sinks() {
            return;
        }
        // The hub is offered what waits when the file is written, and a
        // status at once: what a page's list shows follows without delay.
        let offer_now = matches!(kind, Kind::Status { .. });
        let write_now = match &kind {
            // A process that fails may be killed before it writes again.
            Kind::Error { .. } | Kind::Dropped { .. } => true,
            // With a narrator a person may be looking at the record while
            // --step holds the next stage: it is whole at every stage's end.
            Kind::StageEnd { .. } => {
                config().is_some_and(|c| c.narrator.is_some()) && CURRENT_STAGE.load(Ordering::SeqCst) == NO_STAGE
            }
            _ => false,
        };
        self.write(pid, write_now, offer_now, |writer, lines, event| {
            event.kind = kind;
            writer.line(lines, event)
        });
    }

    /// Stamp the next event of this container's stream (seq, time, `pid`),
    /// let `line` append it to the unwritten lines, and pass it to every
    /// sink; `write_now` writes the file at once, `offer_now` offers the
    /// hub what waits.
    fn write(
        &self,
        pid: i32,
        write_now: bool,
        offer_now: bool,
        line: impl FnOnce(&mut LineWriter, &mut Vec<u8>, &mut Event),
    ) {
        let narrator = config().and_then(|c| c.narrator.as_ref());
        let hub = hub();
        let mut guard = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        guard.line_of_begun(self.inner.wall_offset_ns);
        guard.stamp(self.inner.seq.next(), monotonic_ns(), pid, self.inner.wall_offset_ns);
        let Pending { lines, writer, event, .. } = &mut *guard;
        let start = lines.len();
        line(writer, lines, event);
        if let Some(narrator) = narrator {
            narrator.tell(&lines[start..]);
        }
        let file = self.inner.file.is_some();
        if !file && hub.is_none() {
            lines.truncate(start);
        } else if write_now || lines.len() > FLUSH_AT || (offer_now && !file) {
            self.inner.write_out(&mut guard);
        } else if offer_now {
            self.inner.offer_to_hub(&mut guard);
        }
    }

    /// Run `f` as `stage`: a begin line, then an end line with its duration
    /// and outcome, and an error line naming the stage if it failed. Steps
    /// recorded inside `f` through [`step`] belong to this stage and `pid`.
    /// An error leaves with the stage attached ([`Staged`]), so the code
    /// inside never names the stage it runs in.
    pub fn stage<T, E: std::fmt::Display>(
        &self,
        pid: i32,
        stage: Stage,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Staged<E>> {
        self.begin(pid, stage);
        let index = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(NO_STAGE as usize) as u8;
        let outer_stage = CURRENT_STAGE.swap(index, Ordering::SeqCst);
        let outer_pid = CURRENT_PID.swap(pid, Ordering::SeqCst);
        let start = monotonic_ns();
        let result = f();
        let duration_ns = monotonic_ns().saturating_sub(start);
        CURRENT_STAGE.store(outer_stage, Ordering::SeqCst);
        CURRENT_PID.store(outer_pid, Ordering::SeqCst);
        let outcome = if result.is_ok() { Outcome::Ok } else { Outcome::Failed };
        if let Err(e) = &result {
            self.emit(pid, Kind::Error { stage, message: e.to_string() });
        }
        self.emit(pid, Kind::StageEnd { stage, duration_ns, outcome });
        result.map_err(|error| Staged { stage, error, recorded: true })
    }

    /// The `error` line of a failure found between two stages, which no
    /// [`Recorder::stage`] wrote ([`Staged::recorded`]): the record then
    /// names the stage the failure's message does. Written at once, like
    /// every error line.
    pub fn error<E: std::fmt::Display>(&self, pid: i32, failure: &Staged<E>) {
        if !failure.recorded {
            self.emit(pid, Kind::Error { stage: failure.stage, message: failure.error.to_string() });
        }
    }

    /// A stage's `stage_begin`. Its number and time are taken now; unless a
    /// narrator tells each line as it comes, its line is made with the next event's
    /// (or at the next write), not now: a stage begins after work that
    /// left the recorder's code and data cold (a syscall, a handshake), and
    /// the step or end that follows has to bring them back anyway — made
    /// together, the begin costs what the line after a step does (~0.9 µs
    /// in the init, against ~2.7 alone).
    fn begin(&self, pid: i32, stage: Stage) {
        let narrated = config().is_some_and(|c| c.narrator.is_some());
        if narrated || (self.inner.file.is_none() && hub().is_none()) {
            self.emit(pid, Kind::StageBegin { stage });
            return;
        }
        let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.line_of_begun(self.inner.wall_offset_ns);
        pending.begun = Some((stage, self.inner.seq.next(), monotonic_ns(), pid));
    }

    /// A `status` line: created, running, stopped.
    pub fn status(&self, pid: i32, status: &str) {
        self.emit(pid, Kind::Status { status: status.into() });
    }

    /// Say, in events.jsonl, how many events the hub missed since the last
    /// report; every command calls this before it ends, the init before execve.
    pub fn report_drops(&self, pid: i32) {
        self.offer_waiting_lines();
        self.note_drops(pid);
        // Every command ends here: nothing may stay unwritten.
        self.flush();
    }

    /// The last events of a process about to execve(2) the user's program
    /// (the init, a process joining with `exec`): the hub's drops, if any,
    /// then the `execve` step (`args`: path, argv, env count) — written
    /// together, in one write(2).
    pub fn before_execve(&self, pid: i32, args: impl FnOnce(&mut StepArgs)) {
        self.offer_waiting_lines();
        self.note_drops(pid);
        // An `execve` step is written at once, with every line before it.
        self.step(pid, Stage::Exec, "execve", args);
    }

    /// Offer the hub every line still waiting, so that what it cannot take
    /// is counted before the drops are reported.
    fn offer_waiting_lines(&self) {
        let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.line_of_begun(self.inner.wall_offset_ns);
        self.inner.offer_to_hub(&mut pending);
    }

    /// The Dropped event, when the hub missed some since the last report.
    fn note_drops(&self, pid: i32) {
        let count = self.shared().hub_drops.swap(0, Ordering::SeqCst);
        if count == 0 {
            return;
        }
        crate::log::warn(&format!("events: the hub could not keep up; {count} events went to events.jsonl only"));
        if self.inner.file.is_some() {
            // Through the pending lines, written at once: a Dropped event is.
            self.emit(pid, Kind::Dropped { sink: "hub".into(), count });
        }
    }
}

/// Whether a sink that wants each line as it happens takes events: the
/// narrator (`--explain`, `--step`) or a hub.
fn live_sinks() -> bool {
    config().is_some_and(|c| c.narrator.is_some()) || hub().is_some()
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
fn wall_clock_ns() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    since_epoch.as_nanos() as i64
}

/// CLOCK_MONOTONIC in nanoseconds: the clock eBPF's bpf_ktime_get_ns() reads.
pub fn monotonic_ns() -> u64 {
    let ts =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap_or(nix::sys::time::TimeSpec::new(0, 0));
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}
