//! The probes pinned for every `--trace` runtime, as the dashboard holds
//! them: loaded once, TRACED and OWNERS pinned in a bpffs directory
//! (/sys/fs/bpf/glassbox/ unless told otherwise; bpf(2) BPF_OBJ_PIN), and
//! every traced session's kernel records written into its container's
//! events.jsonl by the [`Writer`]. Runtimes started with `--trace` find the
//! pins ([`pinned_sessions`]) and only register (an owner slot and their
//! pid), so they never pay for loading the probes.
//!
//! [`PinnedHub::turn`] is one round of the reader's loop (wait on the ring,
//! drain it, write a batch, end the sessions that are over); whoever holds
//! the hub calls it until it wants to stop, then drops it, which removes the
//! pins. Each event written is also handed to a tap, so the holder (the
//! dashboard's store) sees the records live.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::record::KernelRecord;
use crate::writer::{exists, Writer};
use crate::{map_names, Sessions, TraceOptions, Tracer, Unavailable};

/// Where the pinned probes' maps live unless told otherwise.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/glassbox";

/// The pinned probes' ring buffer: they serve every traced container at
/// once and their reader shares the machine's CPUs with them, so they get
/// more room than one `--trace` session (32 MiB of kernel memory).
pub const PINNED_RING_BYTES: u32 = 32 << 20;

/// statfs(2)'s f_type of a bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{0}: not on a bpf filesystem; pins must live on one (mount -t bpf bpf /sys/fs/bpf)")]
    NoBpffs(PathBuf),
    #[error("mounting a bpf filesystem at /sys/fs/bpf failed ({0}); try `mount -t bpf bpf /sys/fs/bpf`")]
    Mount(std::io::Error),
    #[error("another hub (pid {pid}) holds the maps pinned in {dir}; stop it first")]
    AnotherHub { pid: u32, dir: PathBuf },
    #[error("making the pin directory {0}: {1}")]
    PinDir(PathBuf, std::io::Error),
    #[error(transparent)]
    Load(#[from] Unavailable),
}

/// What changed in one [`PinnedHub::turn`], for the holder to say.
#[derive(Debug, Clone, PartialEq)]
pub enum HubNote {
    /// A runtime registered and its first records came.
    Began { slot: u8, container: String, runtime_pid: u32, events_path: PathBuf },
    /// Every process of the session exited and every record is written.
    Ended { slot: u8, container: String, written: u64, lost: u64 },
}

/// The loaded probes with their maps pinned, and the writer of their records.
pub struct PinnedHub {
    tracer: Option<Tracer>,
    writer: Writer,
    /// What one turn drained from the ring, kept from turn to turn (see Tracer::drain_owned_into).
    drained: Vec<(u8, KernelRecord)>,
    pin_dir: PathBuf,
    made_dir: bool,
    last_check: Instant,
}

impl PinnedHub {
    /// Loads the probes and pins their maps in `pin_dir` (mounting a bpffs
    /// at /sys/fs/bpf if the directory is under it and none is there).
    pub fn start(pin_dir: &Path, ring_bytes: u32) -> Result<PinnedHub, HubError> {
        ensure_bpffs(pin_dir)?;
        if let Some((_, pid)) = pinned_sessions(pin_dir) {
            return Err(HubError::AnotherHub { pid, dir: pin_dir.to_path_buf() });
        }
        let made_dir = !pin_dir.exists();
        // Pins left by a hub that was killed (SIGKILL) point at dead sessions.
        for name in [map_names::TRACED, map_names::OWNERS] {
            let _ = std::fs::remove_file(pin_dir.join(name));
        }
        std::fs::create_dir_all(pin_dir).map_err(|e| HubError::PinDir(pin_dir.to_path_buf(), e))?;
        let opts = TraceOptions { ring_bytes, ..TraceOptions::default() };
        let tracer = Tracer::load_pinned(&opts, pin_dir).inspect_err(|_| {
            if made_dir {
                let _ = std::fs::remove_dir(pin_dir);
            }
        })?;
        Ok(PinnedHub {
            tracer: Some(tracer),
            writer: Writer::default(),
            drained: Vec::new(),
            pin_dir: pin_dir.into(),
            made_dir,
            last_check: Instant::now(),
        })
    }

    fn tracer(&mut self) -> &mut Tracer {
        self.tracer.as_mut().expect("the tracer lives until drop")
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    pub fn ring_bytes(&self) -> u32 {
        self.tracer.as_ref().map_or(0, Tracer::ring_bytes)
    }

    /// Why namespace records are off, if they are.
    pub fn namespaces_unavailable(&self) -> Option<&str> {
        self.tracer.as_ref().and_then(Tracer::namespaces_unavailable)
    }

    /// Records the kernel could not put in the ring (it was full), since the start.
    pub fn lost(&self) -> u64 {
        self.tracer.as_ref().map_or(0, Tracer::lost)
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.writer.sessions.len()
    }

    /// One round: waits up to 20 ms for records (or for `wake` to be
    /// readable; not at all while records wait to be written), writes a
    /// batch, handing the events written (with their lines) to `tap`, and ends the sessions
    /// that are over. Returns whether `wake` was readable, and what changed.
    pub fn turn(&mut self, wake: Option<BorrowedFd>, tap: &mut crate::writer::Tap) -> (bool, Vec<HubNote>) {
        let timeout = if self.writer.backlog() > 0 { 0 } else { 20 };
        let woken = self.tracer().wait(wake, timeout).unwrap_or(false);
        let lost = self.lost();
        let tracer = self.tracer.as_mut().expect("the tracer lives until drop");
        tracer.drain_owned_into(&mut self.drained);
        let mut notes = Vec::new();
        for slot in self.writer.write_tapped(tracer.sessions(), self.drained.drain(..), lost, Some(&mut *tap)) {
            let s = &self.writer.sessions[&slot];
            notes.push(HubNote::Began {
                slot,
                container: s.container.clone(),
                runtime_pid: s.info.pid,
                events_path: s.events_path.clone(),
            });
        }
        if self.last_check.elapsed() > Duration::from_millis(500) {
            self.writer.check_alive();
            self.last_check = Instant::now();
        }
        for mut s in self.writer.end_finished(tracer.sessions()) {
            let lost_here = lost.saturating_sub(s.lost_at_start);
            if lost_here > 0 {
                s.report_lost(lost_here);
            }
            notes.push(HubNote::Ended {
                slot: s.slot,
                container: s.container.clone(),
                written: s.written,
                lost: lost_here,
            });
        }
        (woken, notes)
    }
}

impl Drop for PinnedHub {
    /// The tracer's drop removes the pins; then the directory, if the hub made it.
    fn drop(&mut self) {
        drop(self.tracer.take());
        if self.made_dir {
            let _ = std::fs::remove_dir(&self.pin_dir);
        }
    }
}

/// The maps a live hub pinned in `dir`, and the hub's pid: what a `--trace`
/// runtime registers through. None if nothing is pinned there or the hub
/// that pinned them is gone.
pub fn pinned_sessions(dir: &Path) -> Option<(Sessions, u32)> {
    if !dir.join(map_names::OWNERS).exists() {
        return None;
    }
    let sessions = Sessions::from_pins(dir).ok()?;
    let hub = sessions.owner(0)?.pid;
    exists(hub).then_some((sessions, hub))
}

/// Pins need a bpf filesystem: mount one at /sys/fs/bpf when the pin
/// directory is under it and nothing is mounted there yet.
fn ensure_bpffs(pin_dir: &Path) -> Result<(), HubError> {
    let parent = pin_dir.parent().unwrap_or(Path::new("/"));
    if is_bpffs(parent) {
        return Ok(());
    }
    let bpf = Path::new("/sys/fs/bpf");
    if parent.starts_with(bpf) {
        // SAFETY: mount(2) with NUL-terminated literals and no data.
        let rc = unsafe { libc::mount(c"bpf".as_ptr(), c"/sys/fs/bpf".as_ptr(), c"bpf".as_ptr(), 0, std::ptr::null()) };
        if rc != 0 {
            return Err(HubError::Mount(std::io::Error::last_os_error()));
        }
        if is_bpffs(parent) {
            return Ok(());
        }
    }
    Err(HubError::NoBpffs(parent.to_path_buf()))
}

fn is_bpffs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return false };
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statfs to write into.
    unsafe { libc::statfs(path.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC }
}
