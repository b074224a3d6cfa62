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

use std::fs::OpenOptions;
use std::num::NonZeroUsize;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::mman::{mmap, MapFlags, ProtFlags};

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
    /// Map `<dir>/lock` (grown to eight zero bytes by the first opener). Without
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
            .open(dir.join(crate::state::LOCK_FILE))
            .ok()?;
        if file.metadata().ok()?.len() < size as u64 {
            file.set_len(size as u64).ok()?;
        }
        // SAFETY: a shared mapping of a file at least `size` bytes long; the
        // descriptor may close afterwards, the mapping stays.
        let page = unsafe {
            mmap(
                None,
                NonZeroUsize::new(size)?,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                &file,
                0,
            )
        }
        .ok()?;
        Some(Sequence { counter: page.cast() })
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
