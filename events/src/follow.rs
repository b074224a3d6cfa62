//! Reading a record as it grows: a container's events.jsonl gets lines
//! from several processes while someone reads it — `events --follow`,
//! `start --explain`, `--trace`'s timeline, a dashboard. [`Tail`] hands
//! out the whole lines appended since the last read and keeps a line still
//! being written for the next one.
//!
//! It is polled rather than watched with inotify(7): a few lines arrive per
//! millisecond at most, and after delete the file is renamed to
//! `<root>/.events/` — the open descriptor follows it there, a watch on the
//! old path would not.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::codec::from_line;
use crate::event::Event;

/// The whole lines appended to a file since the last read.
#[derive(Debug)]
pub struct Tail {
    file: File,
    /// What was read and not yet handed out: the start of a line whose
    /// newline has not been written yet.
    partial: Vec<u8>,
}

impl Tail {
    /// Follow the file at `path` from its beginning.
    pub fn open(path: &Path) -> std::io::Result<Tail> {
        Ok(Tail { file: File::open(path)?, partial: Vec::new() })
    }

    /// The events of the new whole lines, in `seq` order: two processes
    /// writing at once may land a little out of order. A line that is not
    /// an event is skipped.
    pub fn events(&mut self) -> Vec<Event> {
        let mut events: Vec<Event> = self.lines(|_| true).iter().filter_map(|l| from_line(l).ok()).collect();
        events.sort_by_key(|e| e.seq);
        events
    }

    /// The new whole lines that `keep` accepts, unparsed: a reader may skip
    /// most of them (a traced container writes millions) without copying.
    pub fn lines(&mut self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let _ = self.file.read_to_end(&mut self.partial);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else { return Vec::new() };
        let kept =
            String::from_utf8_lossy(&self.partial[..end]).lines().filter(|l| keep(l)).map(String::from).collect();
        self.partial.drain(..=end);
        kept
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::{to_line, Kind, Source, SCHEMA_VERSION};

    fn status(seq: u64) -> Event {
        Event {
            v: SCHEMA_VERSION,
            seq,
            ts_ns: seq,
            wall: "2026-11-29T04:00:00.000000000Z".into(),
            container: "c".into(),
            pid: 1,
            source: Source::Runtime,
            kind: Kind::Status { status: format!("s{seq}") },
        }
    }

    fn append(path: &Path, bytes: &[u8]) {
        std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
    }

    #[test]
    fn a_line_being_written_waits_for_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "one\ntw").unwrap();
        let mut tail = Tail::open(&path).unwrap();
        assert_eq!(tail.lines(|_| true), ["one"]);
        assert!(tail.lines(|_| true).is_empty(), "nothing new, and half a line is not a line");
        append(&path, b"o\nthree\nfour\n");
        assert_eq!(tail.lines(|l| l != "three"), ["two", "four"]);
    }

    #[test]
    fn events_come_in_seq_order_and_other_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let text = format!("{}not an event\n{}{}", to_line(&status(2)), to_line(&status(0)), to_line(&status(1)));
        std::fs::write(&path, text).unwrap();
        let mut tail = Tail::open(&path).unwrap();
        assert_eq!(tail.events(), [status(0), status(1), status(2)]);
        // The descriptor follows the file when it is renamed (a record kept at delete).
        let kept = dir.path().join("kept.jsonl");
        std::fs::rename(&path, &kept).unwrap();
        append(&kept, to_line(&status(3)).as_bytes());
        assert_eq!(tail.events(), [status(3)]);
    }
}
