//! Each container's detail — every step, syscall and process event, not
//! only the stage summary [`crate::store`] keeps — for the waterfall, the
//! trace and the export, held in bounded memory.
//!
//! The choice: memory holds a ring of each container's most recent events,
//! as their JSON lines (the compact form: one allocation each, a third of
//! an [`Event`]'s size), at most [`PER_CONTAINER`] events and
//! [`PER_CONTAINER_BYTES`] per container, and all rings together at most
//! [`TOTAL_BYTES`]; past that, the ring of the container touched longest
//! ago is emptied. Bytes, not events, are the bound: a line may be long (a
//! hook's argv, a hostile annotation), and memory is what must not grow.
//! The full detail is never lost, because the runtime already writes every
//! event (and, with `--trace`, every kernel record) to the container's
//! record on disk: `<root>/<id>/events.jsonl` while it exists,
//! `<root>/.events/<id>.jsonl` once deleted. So a container whose ring
//! still holds everything since its first event is served from memory,
//! and one whose ring lost events is read back from its record ("paged
//! out to the records on disk"), at most [`FROM_DISK`] events of it. A
//! million events in store cost at most [`TOTAL_BYTES`] of lines.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use glassbox_events::{Event, Source};

/// The most recent events kept in memory per container.
pub const PER_CONTAINER: usize = 8192;
/// The most bytes of lines kept in memory per container.
pub const PER_CONTAINER_BYTES: usize = 4 << 20;
/// The most bytes of lines kept in memory for all containers together.
pub const TOTAL_BYTES: usize = 48 << 20;
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
    /// Bytes of lines held, all rings together.
    held: usize,
    clock: u64,
    caps: Caps,
    roots: Vec<PathBuf>,
}

/// The bounds (tests use small ones).
#[derive(Clone, Copy)]
pub struct Caps {
    pub per_container: usize,
    pub per_container_bytes: usize,
    pub total_bytes: usize,
}

struct Ring {
    lines: VecDeque<Arc<str>>,
    bytes: usize,
    /// False once an event was let go.
    complete: bool,
    /// The pid of the first runtime event: glassbox itself.
    runtime_pid: i32,
    touched: u64,
}

impl Default for Detail {
    fn default() -> Self {
        Detail::with_caps(Caps {
            per_container: PER_CONTAINER,
            per_container_bytes: PER_CONTAINER_BYTES,
            total_bytes: TOTAL_BYTES,
        })
    }
}

impl Detail {
    pub fn with_caps(caps: Caps) -> Detail {
        Detail { rings: HashMap::new(), held: 0, clock: 0, caps, roots: Vec::new() }
    }

    /// The state roots whose records hold what memory let go.
    pub fn set_roots(&mut self, roots: Vec<PathBuf>) {
        self.roots = roots;
    }

    /// Keep one event's line; returns the container's runtime pid (0 if
    /// unknown) and whether this is the container's first event.
    pub fn push(&mut self, event: &Event, line: Arc<str>) -> (i32, bool) {
        if event.container.is_empty() {
            return (0, false);
        }
        self.clock += 1;
        let mut first = false;
        // get_mut first: entry() wants an owned key, a copy of the id per event.
        if !self.rings.contains_key(&event.container) {
            first = true;
            let ring = Ring { lines: VecDeque::new(), bytes: 0, complete: true, runtime_pid: 0, touched: 0 };
            self.rings.insert(event.container.clone(), ring);
        }
        let ring = self.rings.get_mut(&event.container).expect("inserted above");
        if ring.runtime_pid == 0 && event.source == Source::Runtime {
            ring.runtime_pid = event.pid;
        }
        ring.bytes += line.len();
        self.held += line.len();
        ring.lines.push_back(line);
        while ring.lines.len() > self.caps.per_container || ring.bytes > self.caps.per_container_bytes {
            let Some(old) = ring.lines.pop_front() else { break };
            ring.bytes -= old.len();
            self.held -= old.len();
            ring.complete = false;
        }
        ring.touched = self.clock;
        let runtime_pid = ring.runtime_pid;
        while self.held > self.caps.total_bytes && self.empty_oldest_ring(&event.container) {}
        (runtime_pid, first)
    }

    /// Let go of the least recently touched ring other than `keep`'s.
    fn empty_oldest_ring(&mut self, keep: &str) -> bool {
        let oldest = self
            .rings
            .iter_mut()
            .filter(|(id, ring)| *id != keep && !ring.lines.is_empty())
            .min_by_key(|(_, ring)| ring.touched);
        match oldest {
            Some((_, ring)) => {
                self.held -= ring.bytes;
                ring.lines = VecDeque::new();
                ring.bytes = 0;
                ring.complete = false;
                true
            }
            None => false,
        }
    }

    /// How many bytes of lines memory holds now, for all containers.
    pub fn held(&self) -> usize {
        self.held
    }

    /// The container's detail if memory holds all of it, else the path of
    /// its record to read (None: neither).
    pub fn lookup(&self, id: &str) -> Lookup {
        let ring = self.rings.get(id);
        match ring {
            Some(r) if r.complete => Lookup::Memory(r.lines.iter().cloned().collect(), r.runtime_pid),
            _ => match self.record_path(id) {
                Some(path) => Lookup::Disk(path),
                None => match ring {
                    Some(r) => Lookup::Partial(r.lines.iter().cloned().collect(), r.runtime_pid),
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

/// What [`Detail::lookup`] found: lines from memory (cheap to copy: each
/// is shared), or the record to read.
pub enum Lookup {
    Memory(Vec<Arc<str>>, i32),
    Disk(PathBuf),
    Partial(Vec<Arc<str>>, i32),
    Unknown,
}

fn parse(lines: &[Arc<str>]) -> Vec<Event> {
    lines.iter().filter_map(|l| glassbox_events::from_line(l).ok()).collect()
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
        Lookup::Memory(lines, pid) => Some((parse(&lines), pid, Origin::Memory)),
        Lookup::Partial(lines, pid) => Some((parse(&lines), pid, Origin::MemoryPartial)),
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

    fn keep(detail: &mut Detail, e: &Event) -> (i32, bool) {
        detail.push(e, glassbox_events::to_line(e).into())
    }

    #[test]
    fn memory_is_bounded_and_what_it_lets_go_is_read_back_from_the_record() {
        let root = tempfile::tempdir().unwrap();
        let size = glassbox_events::to_line(&event("a", 0)).len();
        let mut detail =
            Detail::with_caps(Caps { per_container: 3, per_container_bytes: 1 << 20, total_bytes: 5 * size });
        detail.set_roots(vec![root.path().to_path_buf()]);
        assert_eq!(keep(&mut detail, &event("a", 0)), (7, true));
        assert_eq!(keep(&mut detail, &event("a", 1)), (7, false));
        let Lookup::Memory(lines, pid) = detail.lookup("a") else { panic!("a is whole in memory") };
        assert_eq!((lines.len(), pid), (2, 7));

        // Four events of b: its ring keeps three, and knows it lost one.
        for seq in 0..4 {
            keep(&mut detail, &event("b", seq));
        }
        assert!(matches!(detail.lookup("b"), Lookup::Partial(ref e, _) if e.len() == 3));
        assert_eq!(detail.held(), 5 * size);
        // Over the total: the ring touched longest ago (a's) is let go.
        keep(&mut detail, &event("c", 0));
        assert_eq!(detail.held(), 4 * size);
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

    #[test]
    fn a_long_line_is_bounded_by_bytes_not_by_count() {
        let mut detail =
            Detail::with_caps(Caps { per_container: 1000, per_container_bytes: 1000, total_bytes: 10_000 });
        let long: Arc<str> = "x".repeat(600).into();
        detail.push(&event("a", 0), long.clone());
        detail.push(&event("a", 1), long);
        assert_eq!(detail.held(), 600, "the older line went: two would pass the container's 1000 bytes");
    }
}
