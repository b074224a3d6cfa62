//! # glassbox-explain — the narrator of `glassbox run --explain`
//!
//! Turns the runtime's events (`glassbox_events::Event`) into prose for a
//! learner: for each stage a heading saying what it is for, for each step
//! the concrete action with its real values, the config.json field that
//! asked for it, the system call made, the shell command that would do the
//! same, and how to see the result from outside.
//!
//! Pure code: no I/O, no clock, no globals. The caller feeds events in and
//! prints what comes out; deciding (what an event means: [`narrate`]) is
//! kept apart from showing ([`render_text`], [`render_json`]), so the same
//! narration reaches a terminal, a JSON consumer and the book's snapshots.
//! It needs nothing of the runtime but its events, so it is a crate of its
//! own: the runtime's `--explain` thread and anything else that reads a
//! record (a dashboard, a course's exercises) narrate the same way.
//!
//! Files: `stages` (what each stage is for), `steps` and its siblings (one
//! narration per action of the step vocabulary), `render` (wrapping,
//! colour, JSON), `prompt` (the `--step` pause).

mod args;
mod prompt;
mod render;
mod stages;
mod steps;
mod steps_process;
mod steps_rootfs;
mod steps_systemd;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

use glassbox_events::{Event, Kind, Outcome};

pub use prompt::step_prompt;
pub use render::{render_json, render_text};

/// How to narrate: for which terminal, and which pid is glassbox itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// ANSI colour (bold headings, dim details, red errors).
    pub colour: bool,
    /// The terminal's width in columns; every rendered line fits in it.
    pub width: usize,
    /// The runtime's own pid: events about it happen before the container
    /// has a process of its own, so there is no /proc/<pid> to look into.
    pub runtime_pid: i32,
}

/// What one event means. Plain data; the narrator's whole knowledge of containers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Narration {
    /// One short line: what glassbox did, with the real values.
    pub headline: String,
    /// Which config.json field caused it (for a stage: what the stage is for).
    pub why: Option<String>,
    /// The system call(s) made.
    pub syscall: Option<String>,
    /// The equivalent shell command.
    pub shell: Option<String>,
    /// How to check it from outside the container.
    pub check: Option<String>,
    /// The book chapter about the stage.
    pub chapter: Option<String>,
}

impl Narration {
    fn new(headline: impl Into<String>) -> Narration {
        Narration { headline: headline.into(), ..Narration::default() }
    }
    fn why(mut self, why: impl Into<String>) -> Narration {
        self.why = Some(why.into());
        self
    }
    fn syscall(mut self, syscall: impl Into<String>) -> Narration {
        self.syscall = Some(syscall.into());
        self
    }
    fn shell(mut self, shell: impl Into<String>) -> Narration {
        self.shell = Some(shell.into());
        self
    }
    fn check(mut self, check: impl Into<String>) -> Narration {
        self.check = Some(check.into());
        self
    }
    fn check_opt(mut self, check: Option<String>) -> Narration {
        self.check = check;
        self
    }
}

/// What `event` means, or `None` when there is nothing worth saying (the
/// kernel's own syscall and process events: the narrator tells the
/// runtime's story, the dashboard shows the kernel's).
pub fn narrate(event: &Event, style: &Style) -> Option<Narration> {
    let narration = match &event.kind {
        Kind::StageBegin { stage } => {
            let info = stages::info(*stage);
            let why = match info.fields {
                Some(fields) => format!("{} Reads {fields} from config.json.", info.purpose),
                None => info.purpose.to_string(),
            };
            Narration::new(format!("{} — {}", stage.name(), info.title)).why(why)
        }
        Kind::StageEnd { stage, duration_ns, outcome } => match outcome {
            Outcome::Ok => Narration::new(format!("done in {}", args::duration(*duration_ns))),
            Outcome::Failed => {
                Narration::new(format!("{} failed after {}", stage.name(), args::duration(*duration_ns)))
            }
        },
        Kind::Step { stage, action, args } => steps::narrate(*stage, action, args, event, style),
        Kind::Status { status } => status_narration(status, &event.container),
        Kind::Error { stage, message } => Narration::new(format!("error in {}: {message}", stage.name())),
        Kind::Dropped { sink, count } => Narration::new(format!(
            "the {sink} missed {count} event{} (it could not keep up); events.jsonl has them all",
            if *count == 1 { "" } else { "s" }
        )),
        Kind::Syscall { .. } | Kind::Process { .. } => return None,
    };
    let chapter = stage_of(event).map(stages::chapter);
    Some(Narration { chapter, ..narration })
}

fn status_narration(status: &str, container: &str) -> Narration {
    let meaning = match status {
        "creating" => "glassbox is making it",
        "created" => "its process waits on exec.fifo for `glassbox start`",
        "running" => "your program runs",
        "stopped" => "its process has exited",
        "paused" => "its cgroup is frozen",
        _ => "",
    };
    let headline = if meaning.is_empty() {
        format!("the container is now {status}")
    } else {
        format!("the container is now {status}: {meaning}")
    };
    Narration::new(headline).check(format!("glassbox state {}", args::shell_quote(container)))
}

/// The stage an event belongs to, when it names one.
fn stage_of(event: &Event) -> Option<glassbox_events::Stage> {
    match &event.kind {
        Kind::StageBegin { stage }
        | Kind::StageEnd { stage, .. }
        | Kind::Step { stage, .. }
        | Kind::Error { stage, .. } => Some(*stage),
        _ => None,
    }
}
