//! The one sequence counter of a container's record. Several processes
//! append to the same events.jsonl — `create` and the init it clones, then
//! `start`, `exec`, `delete`, each a process of its own, sometimes at the
//! same time (`start`'s poststart hooks while the init goes on to execve) —
//! and their events must still be numbered 0, 1, 2 … without a gap or a
//! repeat. So the counter lives in a file every one of them maps MAP_SHARED
//! (mmap(2)): one atomic add hands out the next number, whichever process
//! asks. The file is the container's lock, `<root>/<id>/lock` — every
//! command opens it anyway to flock(2) it, and flock never looks at what a
//! file holds — so the counter is its first eight bytes rather than a file
//! of its own, which would be one more inode made (openat O_CREAT, ftruncate)
//! and removed (unlinkat) for every container, on the way to its execve. It
//! goes with the state directory; the record keeps the numbers.
//!
//! It lives with the event model because it is part of what a record is:
//! the runtime's recorder and the kernel records' writer (glassbox-probes,
//! in a `--trace` tracer or the dashboard) number lines of one record from it.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file in a container's state directory whose first eight bytes are
/// the counter: the runtime's lock file.
pub const COUNTER_FILE: &str = "lock";

pub struct Sequence {
    counter: NonNull<AtomicU64>,
}

// SAFETY: `counter` is an atomic in a mapping that is never unmapped: it
// stays valid whichever thread holds the Sequence.
unsafe impl Send for Sequence {}
// SAFETY: only `&AtomicU64` is ever made of `counter`, and an atomic may be
// used from many threads at once.
unsafe impl Sync for Sequence {}

impl Sequence {
    /// Map `<dir>/lock` ([`COUNTER_FILE`]) (grown to eight zero bytes by the first opener). Without
    /// it (a read-only state dir) numbering still works within this
    /// process, starting after the events `already` counts.
    pub fn open(dir: &Path, already: impl FnOnce() -> u64) -> Sequence {
        Self::map_file(dir).unwrap_or_else(|| Self::in_memory(already()))
    }

    /// A counter of this process (and what it clones) only.
    pub fn in_memory(first: u64) -> Sequence {
        Sequence { counter: NonNull::from(Box::leak(Box::new(AtomicU64::new(first)))) }
    }

    fn map_file(dir: &Path) -> Option<Sequence> {
        let size = std::mem::size_of::<AtomicU64>();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.join(COUNTER_FILE))
            .ok()?;
        if file.metadata().ok()?.len() < size as u64 {
            file.set_len(size as u64).ok()?;
        }
        // SAFETY: mmap(2) of a file at least `size` bytes long, shared, at an
        // address the kernel picks; the descriptor may close afterwards, the
        // mapping stays. MAP_FAILED is checked below.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return None;
        }
        let page = NonNull::new(page.cast::<AtomicU64>())?;
        Some(Sequence { counter: page })
    }

    /// The next number of the record.
    pub fn next(&self) -> u64 {
        // SAFETY: the mapping lives as long as the process (never unmapped).
        unsafe { self.counter.as_ref() }.fetch_add(1, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_openers_of_one_directory_count_together() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sequence::open(dir.path(), || 0);
        let b = Sequence::open(dir.path(), || 0);
        assert_eq!((a.next(), b.next(), a.next(), b.next()), (0, 1, 2, 3));
    }

    #[test]
    fn without_the_file_it_counts_on_from_what_is_there() {
        let s = Sequence::open(Path::new("/nonexistent/dir"), || 7);
        assert_eq!((s.next(), s.next()), (7, 8));
    }
}
