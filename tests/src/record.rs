//! A container's event record, wherever it is: `<root>/<id>/events.jsonl`
//! while the container exists, `<root>/.events/<id>.jsonl` after delete.

use std::path::{Path, PathBuf};

use glassbox_events::{from_line, Event};

/// Where the record of `id` is now, if anywhere.
pub fn record_path(root: &Path, id: &str) -> Option<PathBuf> {
    [root.join(id).join("events.jsonl"), kept_record_path(root, id)].into_iter().find(|p| p.exists())
}

/// Where the record of `id` goes when the container is deleted.
pub fn kept_record_path(root: &Path, id: &str) -> PathBuf {
    root.join(".events").join(format!("{id}.jsonl"))
}

/// Every event of the record, in sequence order; panics on a bad line. A
/// test that polls the record can read it while a line is being appended
/// (a reader may see the first pages of a write before the rest): only
/// whole lines, those ending in a newline, count.
pub fn record_of(root: &Path, id: &str) -> Vec<Event> {
    let path = record_path(root, id).unwrap_or_else(|| panic!("no event record for {id} under {}", root.display()));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let whole = &bytes[..bytes.iter().rposition(|b| *b == b'\n').map_or(0, |end| end + 1)];
    let whole = std::str::from_utf8(whole).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut events: Vec<Event> =
        whole.lines().map(|l| from_line(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()))).collect();
    events.sort_by_key(|e| e.seq);
    events
}
