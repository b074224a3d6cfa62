//! What exists before the dashboard starts: under each state root (`--root`,
//! as the runtime's), every container's `<id>/events.jsonl` and every kept
//! record in `.events/<id>.jsonl` (the runtime moves a container's record
//! there when it deletes it), with each live one's `state.json`. Read once
//! at start; from then on the socket brings the rest.

use std::path::Path;

use crate::Shared;

/// Read every record under `root`; returns how many containers were found.
/// A missing root is not an error: nothing has run there yet.
pub fn load_root(root: &Path, shared: &Shared) -> usize {
    let mut found = 0;
    let kept = root.join(".events");
    if let Ok(entries) = std::fs::read_dir(&kept) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(id) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".jsonl")) else {
                continue;
            };
            if load_file(&path, shared) {
                shared.store.lock().expect("store lock").mark_deleted(id);
                found += 1;
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let path = entry.path().join("events.jsonl");
            if entry.file_name() != ".events" && load_file(&path, shared) {
                found += 1;
                // What the events do not say: bundle, owner, annotations (state_file.rs).
                if let Ok(Some(state)) = crate::state_file::read(root, &entry.file_name().to_string_lossy()) {
                    shared.store.lock().expect("store lock").set_state(&state);
                }
            }
        }
    }
    found
}

/// Feed one record's lines; false if there was no such file.
fn load_file(path: &Path, shared: &Shared) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        shared.take_line(line);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(container: &str, seq: u64, kind: &str) -> String {
        format!(
            r#"{{"v":1,"seq":{seq},"ts_ns":{seq},"wall":"2026-12-07T00:00:00.000000000Z","container":"{container}","pid":3,"source":"runtime",{kind}}}"#
        )
    }

    #[test]
    fn live_containers_and_kept_records_are_both_read() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("live")).unwrap();
        std::fs::create_dir_all(root.path().join(".events")).unwrap();
        let begin = r#""type":"stage_begin","stage":"bundle""#;
        std::fs::write(root.path().join("live/events.jsonl"), line("live", 1, begin) + "\n").unwrap();
        let status = r#""type":"status","status":"stopped""#;
        let gone = format!("{}\n{}\n", line("gone", 1, begin), line("gone", 2, status));
        std::fs::write(root.path().join(".events/gone.jsonl"), gone).unwrap();
        let shared = Shared::new();
        assert_eq!(load_root(root.path(), &shared), 2);
        let store = shared.store.lock().unwrap();
        assert_eq!(store.get("live").unwrap().status, "creating");
        assert_eq!(store.get("gone").unwrap().status, "deleted");
        assert_eq!(load_root(&root.path().join("nothing-here"), &Shared::new()), 0);
    }
}
