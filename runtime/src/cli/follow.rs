//! Reading a container's events.jsonl as it grows: `glassbox events ID
//! --follow` (live, until the container is deleted, or the kept record of
//! one already gone) and `glassbox start --explain` (what the init does
//! after `start` lets it go: its last stages and the execve).
//!
//! The reading itself (whole lines as they are appended, polled) is the
//! event crate's [`Tail`]; this is what the command line prints of it.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use glassbox_events::{Event, Kind, Stage, Tail};
use glassbox_explain::Style;

use super::args::ExplainFormat;
use crate::paths::Paths;
use crate::recorder::{kept, EVENTS_FILE};

const POLL: Duration = Duration::from_millis(20);

/// How events are printed: as `--explain` does (`Some` format), or as the
/// record holds them (`None`, `events --follow --json`).
pub struct Printer {
    format: Option<ExplainFormat>,
    style: Style,
}

impl Printer {
    /// `runtime_pid` 0: learn it from the record's first event.
    pub fn new(format: Option<ExplainFormat>, colour: bool, runtime_pid: i32) -> Printer {
        Printer { format, style: Style { colour, width: super::narrator::stderr_width(), runtime_pid } }
    }

    fn print(&mut self, event: &Event, out: &mut dyn Write) -> std::io::Result<()> {
        // A record starts with the runtime's own events (bundle, cgroup):
        // its pid tells the narrator which steps are not about a container process.
        if self.style.runtime_pid == 0 {
            self.style.runtime_pid = event.pid;
        }
        let text = match self.format {
            Some(format) => super::narrator::render(event, format, &self.style),
            None => Some(glassbox_events::to_line(event)),
        };
        text.map_or(Ok(()), |t| out.write_all(t.as_bytes()))
    }
}

/// `glassbox events ID --follow`.
pub fn follow(paths: &Paths, id: &str, json: bool, out: &mut dyn Write) -> Result<()> {
    crate::state::validate_id(id)?;
    let colour = !json && super::narrator::wants_colour(std::io::stdout());
    let mut printer = Printer::new((!json).then_some(ExplainFormat::Text), colour, 0);
    let dir = paths.container_dir(id);
    let live = dir.join(EVENTS_FILE);
    let kept_path = kept::kept_record(&paths.state_root, id);
    let mut tail = match Tail::open(&live) {
        Ok(t) => t,
        Err(_) => Tail::open(&kept_path).with_context(|| {
            format!("container {id:?}: no events at {} nor a kept record at {}", live.display(), kept_path.display())
        })?,
    };
    // `delete` writes its last lines (where the record was kept, the end
    // of the cleanup stage) after the directory is gone: once it is, read
    // on until the cleanup stage ends, or a second passes.
    let mut gone_since: Option<Instant> = None;
    loop {
        if gone_since.is_none() && !dir.exists() {
            gone_since = Some(Instant::now());
        }
        let mut finished = false;
        for event in tail.events() {
            printer.print(&event, out)?;
            finished |= matches!(event.kind, Kind::StageEnd { stage: Stage::Cleanup, .. });
        }
        out.flush()?;
        if finished || gone_since.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// After `start`: narrate what the init records from line `from` on, until
/// it calls execve(2) or fails (or `wait` passes, or it is gone).
pub fn narrate_init_after_start(dir: &Path, from: usize, init_alive: impl Fn() -> bool, printer: &mut Printer) {
    let Ok(mut tail) = Tail::open(&dir.join(EVENTS_FILE)) else { return };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = 0usize;
    let mut err = std::io::stderr().lock();
    loop {
        // Decide before reading, so the lines written just before the end are read too.
        let last_round = Instant::now() > deadline || !init_alive();
        for event in tail.events() {
            seen += 1;
            if seen <= from {
                continue;
            }
            let _ = printer.print(&event, &mut err);
            let done = matches!(&event.kind, Kind::Step { action, .. } if action == "execve")
                || matches!(event.kind, Kind::Error { .. });
            if done {
                return;
            }
        }
        if last_round {
            return;
        }
        std::thread::sleep(POLL);
    }
}
