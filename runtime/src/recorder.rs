//! The runtime's side of the event stream: every stage of making a
//! container becomes `stage_begin`/`stage_end` lines (and `step`, `status`,
//! `error` lines) in `<root>/<id>/events.jsonl`, in the format of the
//! `glassbox-events` crate.
//!
//! The runtime and the container's init both write to the same file: the
//! descriptor is opened with O_APPEND before clone(2), and each event is one
//! write(2) of one whole line, so lines never interleave. Their sequence
//! numbers come from one counter in a MAP_SHARED page, which clone(2)
//! without CLONE_VM still shares. The descriptor is O_CLOEXEC, so nothing of
//! it reaches the user's program. Writing is best effort: a full disk must
//! not stop a container from being made.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use glassbox_events::{to_line, Event, Kind, Outcome, Source, Stage, SCHEMA_VERSION};
use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};

/// What the runtime and its init share.
#[repr(C)]
struct Shared {
    seq: AtomicU64,
    /// The init's pid as the host sees it (the init itself sees 1).
    init_pid: AtomicI32,
}

pub struct Recorder {
    container: String,
    file: Option<File>,
    shared: NonNull<Shared>,
}

// SAFETY: `shared` points at atomics only, in a mapping never unmapped.
unsafe impl Send for Recorder {}
unsafe impl Sync for Recorder {}

/// The init's recorder and pid, for code deep in the init (one mount(2),
/// one mknod(2)) that reports a step without being handed a recorder. Set
/// once per process: only ever in the init, which is single-threaded.
static INIT_RECORDER: std::sync::OnceLock<(Recorder, i32)> = std::sync::OnceLock::new();

/// Make `rec` this process's step recorder (the init calls this).
pub fn install(rec: &Recorder, pid: i32) {
    let copy = Recorder {
        container: rec.container.clone(),
        file: rec.file.as_ref().and_then(|f| f.try_clone().ok()),
        shared: rec.shared,
    };
    let _ = INIT_RECORDER.set((copy, pid));
}

/// Record one concrete action as a `step` event, if a recorder is installed.
pub fn step(stage: Stage, action: &str, args: serde_json::Map<String, serde_json::Value>) {
    if let Some((rec, pid)) = INIT_RECORDER.get() {
        rec.emit(*pid, Kind::Step { stage, action: action.into(), args });
    }
}

impl Recorder {
    /// Start `<dir>/events.jsonl`. Without it (a read-only state dir) the
    /// recorder stays silent rather than failing the container.
    pub fn open(dir: &Path, container: &str) -> Recorder {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.join("events.jsonl"))
            .ok();
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
            NonNull::from(Box::leak(Box::new(Shared { seq: AtomicU64::new(0), init_pid: AtomicI32::new(0) })))
        });
        let recorder = Recorder { container: container.into(), file, shared };
        // `start` and `delete` append to what `create` wrote: carry on counting.
        let written =
            std::fs::read(dir.join("events.jsonl")).map(|t| t.iter().filter(|b| **b == b'\n').count()).unwrap_or(0);
        recorder.shared().seq.store(written as u64, Ordering::SeqCst);
        recorder
    }

    fn shared(&self) -> &Shared {
        // SAFETY: the mapping lives as long as the process (never unmapped).
        unsafe { self.shared.as_ref() }
    }

    /// Tell the init (through the shared page) its host pid.
    pub fn set_init_pid(&self, pid: i32) {
        self.shared().init_pid.store(pid, Ordering::SeqCst);
    }

    pub fn init_pid(&self) -> i32 {
        self.shared().init_pid.load(Ordering::SeqCst)
    }

    /// Write one event line about `pid`.
    pub fn emit(&self, pid: i32, kind: Kind) {
        let Some(file) = &self.file else { return };
        let event = Event {
            v: SCHEMA_VERSION,
            seq: self.shared().seq.fetch_add(1, Ordering::SeqCst),
            ts_ns: monotonic_ns(),
            wall: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            container: self.container.clone(),
            pid,
            source: Source::Runtime,
            kind,
        };
        // One write(2) per line: O_APPEND makes each land whole at the end.
        let _ = (&*file).write_all(to_line(&event).as_bytes());
    }

    /// Run `f` as `stage`: a begin line, then an end line with its duration
    /// and outcome, and an error line naming the stage if it failed.
    pub fn stage<T, E: std::fmt::Display>(
        &self,
        pid: i32,
        stage: Stage,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.emit(pid, Kind::StageBegin { stage });
        let start = monotonic_ns();
        let result = f();
        let duration_ns = monotonic_ns().saturating_sub(start);
        let outcome = if result.is_ok() { Outcome::Ok } else { Outcome::Failed };
        if let Err(e) = &result {
            self.emit(pid, Kind::Error { stage, message: e.to_string() });
        }
        self.emit(pid, Kind::StageEnd { stage, duration_ns, outcome });
        result
    }

    /// A `status` line: created, running, stopped.
    pub fn status(&self, pid: i32, status: &str) {
        self.emit(pid, Kind::Status { status: status.into() });
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock eBPF's bpf_ktime_get_ns() reads.
pub fn monotonic_ns() -> u64 {
    let ts =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap_or(nix::sys::time::TimeSpec::new(0, 0));
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}
