//! Where a container's record goes when the container does. `delete` (and
//! `run`, which deletes, and a create that failed half-way) removes
//! `<root>/<id>/`, but the story of how the container was made — or why it
//! could not be — is what a learner or a debugging session wants next, so
//! `events.jsonl` moves to `<root>/.events/<id>.jsonl` first. No container
//! id can start with a dot, so that directory never collides with one.
//!
//! Moving is a rename(2) inside one filesystem: a descriptor still open on
//! the file (the recorder's) keeps appending to it under its new name. The
//! newest [`KEEP`] records are kept, so a host running thousands of short
//! containers does not fill /run: when more than [`PRUNE_ABOVE`] have piled
//! up, the oldest go until [`KEEP`] are left — in batches, because finding
//! the oldest means a stat(2) of every record, too much for every delete.
//!
//! Making room is [`make_room`]'s work, done by `create` while the init
//! mounts the rootfs — the runtime only waits then, so the unlink(2) of an
//! earlier record (freeing its pages: ~40 µs on the VM of
//! bench/run-true.sh) costs no time on the way to the container. `delete`
//! then only moves the record: [`keep`].

use std::path::{Path, PathBuf};

use super::EVENTS_FILE;

/// How many records of removed containers are kept.
pub const KEEP: usize = 100;
/// How many records may pile up before the oldest are removed.
pub const PRUNE_ABOVE: usize = KEEP + KEEP / 5;

/// The directory of kept records, beside the containers' directories.
pub fn kept_dir(state_root: &Path) -> PathBuf {
    state_root.join(".events")
}

/// The kept record of container `id`.
pub fn kept_record(state_root: &Path, id: &str) -> PathBuf {
    kept_dir(state_root).join(format!("{id}.jsonl"))
}

/// Move `<container_dir>/events.jsonl` to the kept records; returns where it
/// went, or `None` when there was none (or it could not be moved: keeping a
/// record never stops a delete).
///
/// The rename is tried first (it fails if there is no record, or no
/// directory of kept records yet), and it never replaces an older record of
/// a reused id — ext4 takes a rename over a file for a new version replacing
/// an old one and writes the new one to disk first (its auto_da_alloc
/// guard), a disk write in every `run` of the same id — the old one, if
/// [`make_room`] did not already remove it, is unlinked first instead.
pub fn keep(container_dir: &Path) -> Option<PathBuf> {
    use nix::errno::Errno;
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    let from = container_dir.join(EVENTS_FILE);
    let (root, to) = place_of(container_dir)?;
    let move_it = || match renameat2(AT_FDCWD, &from, AT_FDCWD, &to, RenameFlags::RENAME_NOREPLACE) {
        // A filesystem without RENAME_NOREPLACE: a plain rename, over any older record.
        Err(Errno::EINVAL) => std::fs::rename(&from, &to).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0))),
        done => done,
    };
    let mut result = move_it();
    if result == Err(Errno::ENOENT) && from.exists() {
        std::fs::create_dir_all(kept_dir(root)).ok()?;
        result = move_it();
    }
    if result == Err(Errno::EEXIST) {
        std::fs::remove_file(&to).ok()?;
        result = move_it();
    }
    result.ok()?;
    Some(to)
}

/// Make room for the record `create` is writing in `container_dir`: the
/// record of an earlier container with the same id goes (this one takes
/// its name at delete), and so do the oldest records when too many have
/// piled up.
pub fn make_room(container_dir: &Path) {
    let Some((root, place)) = place_of(container_dir) else { return };
    let _ = std::fs::remove_file(place);
    prune(&kept_dir(root), PRUNE_ABOVE, KEEP);
}

/// The state root `<root>/<id>/` is in, and where its record is kept.
fn place_of(container_dir: &Path) -> Option<(&Path, PathBuf)> {
    let root = container_dir.parent()?;
    Some((root, kept_record(root, container_dir.file_name()?.to_str()?)))
}

/// When there are more than `above` records, remove the oldest until `keep` are left.
fn prune(dir: &Path, above: usize, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let paths: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
    if paths.len() <= above {
        return;
    }
    let mut records: Vec<_> =
        paths.into_iter().filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p))).collect();
    records.sort();
    for (_, path) in &records[..records.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_moves_beside_the_containers_and_the_oldest_go() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("web");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(EVENTS_FILE), "{}\n").unwrap();
        let kept = keep(&dir).unwrap();
        assert_eq!(kept, root.path().join(".events/web.jsonl"));
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "{}\n");
        assert!(!dir.join(EVENTS_FILE).exists());
        assert_eq!(keep(&dir), None, "nothing left to keep");
        std::fs::write(dir.join(EVENTS_FILE), "{\"again\":1}\n").unwrap();
        assert_eq!(keep(&dir), Some(kept.clone()), "a reused id's record replaces the older one");
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "{\"again\":1}\n");
        make_room(&dir);
        assert!(!kept.exists(), "a new container named web makes room for its record");
        std::fs::write(dir.join(EVENTS_FILE), "{}\n").unwrap();
        assert_eq!(keep(&dir), Some(kept.clone()), "then its record moves in with one rename");

        for i in 0..5 {
            let f = kept_dir(root.path()).join(format!("old-{i}.jsonl"));
            std::fs::write(&f, "").unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i);
            std::fs::File::options().write(true).open(&f).unwrap().set_modified(t).unwrap();
        }
        prune(&kept_dir(root.path()), 6, 3);
        assert_eq!(std::fs::read_dir(kept_dir(root.path())).unwrap().count(), 6, "not more than 6 yet");
        prune(&kept_dir(root.path()), 5, 3);
        let mut left: Vec<_> = std::fs::read_dir(kept_dir(root.path()))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["old-3.jsonl", "old-4.jsonl", "web.jsonl"]);
    }
}
