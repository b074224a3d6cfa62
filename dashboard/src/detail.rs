//! Each container's detail — every step, syscall and process event, not
//! only the stage summary [`crate::store`] keeps — for the waterfall, the
//! trace and the export, held in bounded memory.
//!
//! The choice: memory holds a ring of each container's most recent events
//! ([`PER_CONTAINER`]), and all rings together hold at most [`TOTAL`];
//! past that, the ring of the container touched longest ago is emptied.
//! The full detail is never lost, because the runtime already writes every
//! event (and, with `--trace`, every kernel record) to the container's
//! record on disk: `<root>/<id>/events.jsonl` while it exists,
//! `<root>/.events/<id>.jsonl` once deleted. So a container whose ring
//! still holds everything since its first event is served from memory,
//! and one whose ring lost events is read back from its record ("paged
//! out to the records on disk"), at most [`FROM_DISK`] events of it. A
//! million events in store cost at most [`TOTAL`] events of memory.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use glassbox_events::{Event, Source};

/// The most recent events kept in memory per container.
pub const PER_CONTAINER: usize = 8192;
/// The most events kept in memory for all containers together.
pub const TOTAL: usize = 131_072;
/// The most events read back from one record on disk for one request.
pub const FROM_DISK: usize = 200_000;

/// Where one answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Memory held every event since the container's first.
    Memory,
    /// The record on disk, read back because memory had lost some.
    Disk,
    /// Memory, knowing it lost the oldest (no record on disk was found).
    MemoryPartial,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Memory => "memory",
            Origin::Disk => "disk",
            Origin::MemoryPartial => "memory-partial",
        }
    }
}

pub struct Detail {
    rings: HashMap<String, Ring>,
    held: usize,
    clock: u64,
    per_container: usize,
    total: usize,
    roots: Vec<PathBuf>,
}

struct Ring {
    events: VecDeque<Event>,
    /// False once an event was let go.
    complete: bool,
    /// The pid of the first runtime event: glassbox itself.
    runtime_pid: i32,
    touched: u64,
}

impl Default for Detail {
    fn default() -> Self {
        Detail::with_caps(PER_CONTAINER, TOTAL)
    }
}

impl Detail {
    pub fn with_caps(per_container: usize, total: usize) -> Detail {
        Detail { rings: HashMap::new(), held: 0, clock: 0, per_container, total, roots: Vec::new() }
    }

    /// The state roots whose records hold what memory let go.
    pub fn set_roots(&mut self, roots: Vec<PathBuf>) {
        self.roots = roots;
    }

    /// Keep one event; returns the container's runtime pid (0 if unknown).
    pub fn push(&mut self, event: &Event) -> i32 {
        if event.container.is_empty() {
            return 0;
        }
        self.clock += 1;
        let ring = self.rings.entry(event.container.clone()).or_insert_with(|| Ring {
            events: VecDeque::new(),
            complete: true,
            runtime_pid: 0,
            touched: 0,
        });
        if ring.runtime_pid == 0 && event.source == Source::Runtime {
            ring.runtime_pid = event.pid;
        }
        if ring.events.len() >= self.per_container {
            ring.events.pop_front();
            ring.complete = false;
            self.held -= 1;
        }
        ring.events.push_back(event.clone());
        ring.touched = self.clock;
        self.held += 1;
        let runtime_pid = ring.runtime_pid;
        while self.held > self.total && self.empty_oldest_ring(&event.container) {}
        runtime_pid
    }

    /// Let go of the least recently touched ring other than `keep`'s.
    fn empty_oldest_ring(&mut self, keep: &str) -> bool {
        let oldest = self
            .rings
            .iter_mut()
            .filter(|(id, ring)| *id != keep && !ring.events.is_empty())
            .min_by_key(|(_, ring)| ring.touched);
        match oldest {
            Some((_, ring)) => {
                self.held -= ring.events.len();
                ring.events = VecDeque::new();
                ring.complete = false;
                true
            }
            None => false,
        }
    }

    /// How many events memory holds now, for all containers.
    pub fn held(&self) -> usize {
        self.held
    }

    /// The container's detail if memory holds all of it, else the path of
    /// its record to read (None: neither).
    pub fn lookup(&self, id: &str) -> Lookup {
        let ring = self.rings.get(id);
        match ring {
            Some(r) if r.complete => Lookup::Memory(r.events.iter().cloned().collect(), r.runtime_pid),
            _ => match self.record_path(id) {
                Some(path) => Lookup::Disk(path),
                None => match ring {
                    Some(r) => Lookup::Partial(r.events.iter().cloned().collect(), r.runtime_pid),
                    None => Lookup::Unknown,
                },
            },
        }
    }

    /// `<root>/<id>/events.jsonl` or `<root>/.events/<id>.jsonl`, the first
    /// that exists. An id that could name another path (a `/`, `..`) has none.
    pub fn record_path(&self, id: &str) -> Option<PathBuf> {
        if id.is_empty() || id.starts_with('.') || id.contains('/') || id.contains('\0') {
            return None;
        }
        self.roots
            .iter()
            .flat_map(|root| [root.join(id).join("events.jsonl"), root.join(".events").join(format!("{id}.jsonl"))])
            .find(|path| path.is_file())
    }
}

/// What [`Detail::lookup`] found.
pub enum Lookup {
    Memory(Vec<Event>, i32),
    Disk(PathBuf),
    Partial(Vec<Event>, i32),
    Unknown,
}

/// A record's events, the first `limit` that parse; lines that do not
/// parse (a line being written, a damaged file) are skipped.
pub fn read_record(path: &Path, limit: usize) -> std::io::Result<Vec<Event>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().filter_map(|line| glassbox_events::from_line(line).ok()).take(limit).collect())
}

/// Resolve a lookup to events (reading the disk if it must): the events,
/// the runtime pid, and where they came from; None for an unknown id.
pub fn resolve(lookup: Lookup) -> Option<(Vec<Event>, i32, Origin)> {
    match lookup {
        Lookup::Memory(events, pid) => Some((events, pid, Origin::Memory)),
        Lookup::Partial(events, pid) => Some((events, pid, Origin::MemoryPartial)),
        Lookup::Unknown => None,
        Lookup::Disk(path) => {
            let events = read_record(&path, FROM_DISK).ok()?;
            let pid = crate::narrated::runtime_pid(&events);
            Some((events, pid, Origin::Disk))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(container: &str, seq: u64) -> Event {
        glassbox_events::from_line(&format!(
            r#"{{"v":1,"seq":{seq},"ts_ns":{seq},"wall":"2026-12-07T00:00:00.000000000Z","container":"{container}","pid":7,"source":"runtime","type":"status","status":"running"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn memory_is_bounded_and_what_it_lets_go_is_read_back_from_the_record() {
        let root = tempfile::tempdir().unwrap();
        let mut detail = Detail::with_caps(3, 5);
        detail.set_roots(vec![root.path().to_path_buf()]);
        for seq in 0..2 {
            detail.push(&event("a", seq));
        }
        let Lookup::Memory(events, pid) = detail.lookup("a") else { panic!("a is whole in memory") };
        assert_eq!((events.len(), pid), (2, 7));

        // Four events of b: its ring keeps three, and knows it lost one.
        for seq in 0..4 {
            detail.push(&event("b", seq));
        }
        assert!(matches!(detail.lookup("b"), Lookup::Partial(ref e, _) if e.len() == 3));
        assert_eq!(detail.held(), 5);
        // Over the total: the ring touched longest ago (a's) is let go.
        detail.push(&event("c", 0));
        assert_eq!(detail.held(), 4);
        assert!(matches!(detail.lookup("a"), Lookup::Partial(ref e, _) if e.is_empty()));

        // b's whole record is on disk: that is what is served.
        std::fs::create_dir_all(root.path().join(".events")).unwrap();
        let lines: String = (0..4).map(|s| glassbox_events::to_line(&event("b", s))).collect();
        std::fs::write(root.path().join(".events/b.jsonl"), lines + "not json\n").unwrap();
        let (events, pid, origin) = resolve(detail.lookup("b")).unwrap();
        assert_eq!((events.len(), pid, origin), (4, 7, Origin::Disk));
        assert!(resolve(detail.lookup("nobody")).is_none());
        assert_eq!(detail.record_path("../b"), None, "an id is never a path");
    }
}
