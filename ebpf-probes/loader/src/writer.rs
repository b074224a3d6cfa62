//! Kernel records into containers' records: for a record of owner slot S,
//! OWNERS[S] says which events.jsonl (looked up once per session); the
//! record becomes an Event (`source: kernel`), numbered from the
//! container's own counter (recorder::sequence, shared with the runtime, so
//! numbers never repeat across runtime and kernel lines), and whole lines
//! are appended (O_APPEND) in one write(2) per session per batch.
//!
//! The events file is opened once, when it first exists (the runtime makes
//! it a little after the session starts; records that come earlier wait
//! here); the reader then sets OPENED in OWNERS[S], which a foreground
//! `run` waits for before its delete renames the file: the open descriptor
//! follows the file to `<root>/.events/`.
//!
//! A session ends when every process it followed has exited (the exits the
//! kernel reported, and a liveness check for any it could not).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use glassbox_events::{to_line, Event, Kind, Sequence, Source, SCHEMA_VERSION};

use crate::fastline;
use crate::{owner_container, owner_events_path, to_event, EventContext, KernelRecord, OwnerInfo, Sessions};

/// Records held for a session (not yet converted, or its events file does
/// not exist yet): 8 Mi records, about a gigabyte, then they are counted as lost.
const MAX_WAITING: usize = 8 << 20;

/// Records converted per [`Writer::write`] call: the reader goes back to
/// the ring buffer at least this often, so a burst waits here, in memory,
/// rather than filling the ring (conversion to JSON costs ~1 µs a record,
/// taking it off the ring ~0.1 µs).
pub const BATCH: usize = 1024;

/// One session as the reader sees it.
pub struct Session {
    pub slot: u8,
    pub info: OwnerInfo,
    pub container: String,
    pub events_path: PathBuf,
    out: Option<(File, Sequence)>,
    ctx: EventContext,
    lines: fastline::LineCache,
    waiting: VecDeque<KernelRecord>,
    /// Processes followed and not seen to exit (threads are not processes).
    pub alive: HashSet<u32>,
    /// Kernel events written.
    pub written: u64,
    /// The kernel's lost-record counter when the session began.
    pub lost_at_start: u64,
}

impl Session {
    /// Whether every followed process is gone and every record written.
    pub fn over(&self) -> bool {
        self.alive.is_empty() && (self.waiting.is_empty() || self.out.is_none())
    }

    /// Whether the events file is open.
    pub fn opened(&self) -> bool {
        self.out.is_some()
    }

    /// Appends a `dropped` line (sink "kernel") to the record.
    pub fn report_lost(&mut self, count: u64) {
        if let Some((file, seq)) = &self.out {
            let event = Event {
                v: SCHEMA_VERSION,
                seq: seq.next(),
                ts_ns: crate::monotonic_ns(),
                wall: glassbox_events::WallText::new().now(),
                container: self.container.clone(),
                pid: std::process::id() as i32,
                source: Source::Kernel,
                kind: Kind::Dropped { sink: "kernel".into(), count },
            };
            let _ = (&*file).write_all(to_line(&event).as_bytes());
        }
    }
}

/// Who else takes the events written (the dashboard's store): a batch of
/// events at a time, each with the line written for it (without its
/// newline), so the taker needs neither a lock per event nor to make the
/// line again.
pub type Tap<'t> = dyn FnMut(&[Event], &[&str]) + 't;

/// Every session seen, by slot.
#[derive(Default)]
pub struct Writer {
    pub sessions: HashMap<u8, Session>,
    /// Records dropped because too many waited.
    pub overflow: u64,
}

impl Writer {
    /// Queues `records` for their sessions and writes up to [`BATCH`] of
    /// what waits. Returns the slots seen for the first time.
    pub fn write(
        &mut self,
        maps: &mut Sessions,
        records: impl IntoIterator<Item = (u8, KernelRecord)>,
        lost_now: u64,
    ) -> Vec<u8> {
        self.write_tapped(maps, records, lost_now, None)
    }

    /// [`write`](Self::write), and every event written is also handed to
    /// `tap` (the dashboard's store), with its line, after the line is written.
    pub fn write_tapped(
        &mut self,
        maps: &mut Sessions,
        records: impl IntoIterator<Item = (u8, KernelRecord)>,
        lost_now: u64,
        mut tap: Option<&mut Tap>,
    ) -> Vec<u8> {
        let mut new = Vec::new();
        for (slot, rec) in records {
            let session = match self.sessions.entry(slot) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    // A slot no session claims (freed, or never claimed): nobody to write for.
                    let Some(info) = maps.owner(slot).filter(|_| slot != 0) else { continue };
                    new.push(slot);
                    e.insert(begin(slot, info, lost_now))
                }
            };
            match &rec {
                KernelRecord::Fork { child, thread: false, .. } => {
                    session.alive.insert(*child);
                }
                KernelRecord::Exit { pid, .. } => {
                    session.alive.remove(pid);
                }
                _ => {}
            }
            if session.waiting.len() < MAX_WAITING {
                session.waiting.push_back(rec);
            } else {
                self.overflow += 1;
            }
        }
        for session in self.sessions.values_mut() {
            flush(session, maps, BATCH, tap.as_deref_mut());
        }
        new
    }

    /// Records queued and not yet written (for sessions whose file is open).
    pub fn backlog(&self) -> usize {
        self.sessions.values().filter(|s| s.out.is_some()).map(|s| s.waiting.len()).sum()
    }

    /// Writes everything queued.
    pub fn flush_all(&mut self, maps: &mut Sessions) {
        for session in self.sessions.values_mut() {
            flush(session, maps, usize::MAX, None);
        }
    }

    /// Forgets followed processes that no longer exist (their exit record
    /// was lost, or they were followed before the reader started).
    pub fn check_alive(&mut self) {
        for session in self.sessions.values_mut() {
            session.alive.retain(|pid| exists(*pid));
        }
    }

    /// Removes the sessions that are over, freeing their slots; returns them.
    pub fn end_finished(&mut self, maps: &mut Sessions) -> Vec<Session> {
        let over: Vec<u8> = self.sessions.iter().filter(|(_, s)| s.over()).map(|(k, _)| *k).collect();
        over.into_iter()
            .filter_map(|slot| {
                let mut s = self.sessions.remove(&slot)?;
                flush(&mut s, maps, usize::MAX, None);
                maps.release(slot);
                Some(s)
            })
            .collect()
    }
}

fn begin(slot: u8, info: OwnerInfo, lost_now: u64) -> Session {
    let container = owner_container(&info);
    Session {
        slot,
        info,
        events_path: owner_events_path(&info),
        ctx: EventContext::new(&container),
        lines: fastline::LineCache::new(&container),
        container,
        out: None,
        waiting: VecDeque::new(),
        alive: HashSet::from([info.pid]),
        written: 0,
        lost_at_start: lost_now,
    }
}

/// Opens the session's events file if it exists now, then writes up to
/// `budget` of the records waiting.
fn flush<'t>(session: &mut Session, maps: &mut Sessions, budget: usize, mut tap: Option<&mut Tap<'t>>) {
    if session.out.is_none() {
        let Ok(file) = OpenOptions::new().append(true).custom_flags(libc::O_CLOEXEC).open(&session.events_path) else {
            return;
        };
        let dir = session.events_path.parent().map(PathBuf::from).unwrap_or_default();
        let seq = Sequence::open(&dir, || lines_in(&session.events_path));
        session.out = Some((file, seq));
        session.info.flags |= OwnerInfo::OPENED;
        let _ = maps.update(session.slot, &session.info);
    }
    if session.waiting.is_empty() {
        return;
    }
    let Some((file, seq)) = &session.out else { return };
    let n = session.waiting.len().min(budget);
    let mut lines = Vec::with_capacity(n.min(BATCH) * 256);
    // With a tap, the records (and their numbers) are kept for it until
    // their lines are written: the record's reader (a `--trace` timeline
    // waiting for the container's last exit) never waits for the tap.
    let mut tapped = Vec::with_capacity(if tap.is_some() { n.min(BATCH) } else { 0 });
    let mut ends = Vec::with_capacity(tapped.capacity());
    for rec in session.waiting.drain(..n) {
        let number = seq.next();
        match &rec {
            // Calls with decoded arguments (the few that make a container) go the ordinary way.
            KernelRecord::Syscall(call) if fastline::fits(call) => {
                session.lines.syscall(&mut lines, call, number, &session.ctx)
            }
            _ => lines.extend_from_slice(to_line(&to_event(&rec, number, &session.ctx)).as_bytes()),
        }
        session.written += 1;
        if tap.is_some() {
            tapped.push((number, rec));
            ends.push(lines.len());
        }
        // Whole lines, one write(2) per megabyte at most.
        if lines.len() > 1 << 20 {
            let _ = (&*file).write_all(&lines);
            tap_all(&mut tapped, &lines, &mut ends, &session.ctx, tap.as_deref_mut());
            lines.clear();
        }
    }
    let _ = (&*file).write_all(&lines);
    tap_all(&mut tapped, &lines, &mut ends, &session.ctx, tap);
}

/// Hands the records kept for the tap to it, as the Events their lines
/// say, with those lines (`ends`: where each ends in `lines`).
fn tap_all(
    records: &mut Vec<(u64, KernelRecord)>,
    lines: &[u8],
    ends: &mut Vec<usize>,
    ctx: &EventContext,
    tap: Option<&mut Tap>,
) {
    let Some(tap) = tap else { return };
    let events: Vec<Event> = records.drain(..).map(|(number, rec)| to_event(&rec, number, ctx)).collect();
    let mut start = 0;
    let texts: Vec<&str> = ends
        .iter()
        .map(|&end| {
            let line = std::str::from_utf8(&lines[start..end]).unwrap_or_default().trim_end_matches('\n');
            start = end;
            line
        })
        .collect();
    tap(&events, &texts);
    ends.clear();
}

/// kill(pid, 0): whether the process exists (a zombie still does).
pub fn exists(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing, it only checks; then
    // __errno_location() is this thread's errno, a pointer always valid to read.
    unsafe { libc::kill(pid as i32, 0) == 0 || *libc::__errno_location() != libc::ESRCH }
}

/// The lines a record holds: where numbering goes on when the counter file
/// cannot be mapped.
fn lines_in(path: &std::path::Path) -> u64 {
    std::fs::read(path).map(|t| t.iter().filter(|b| **b == b'\n').count() as u64).unwrap_or(0)
}
