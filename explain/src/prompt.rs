//! The `--step` pause: before each stage, say which stage comes next and
//! how to look inside the half-made container from a second terminal with
//! nsenter(1), which joins a process's namespaces through /proc/<pid>/ns.

use glassbox_events::{Event, Kind, Stage};

use super::render::{wrap, MIN_WIDTH};
use super::{stages, Style};

const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The prompt shown before `event` (a `stage_begin`): a blank line, then
/// lines of at most `style.width` columns, each ending with a newline.
pub fn step_prompt(event: &Event, style: &Style) -> String {
    let stage = match &event.kind {
        Kind::StageBegin { stage } | Kind::StageEnd { stage, .. } | Kind::Step { stage, .. } => Some(*stage),
        _ => None,
    };
    let heading = match stage {
        Some(stage) => format!("next stage: {} — {}", stage.name(), stages::info(stage).title),
        None => "paused".to_string(),
    };
    // (first-line lead, text, bold)
    let mut lines: Vec<(&str, String, bool)> = vec![("‖ ", heading, true)];
    let pid = event.pid;
    if pid == style.runtime_pid || pid <= 0 {
        lines.push(("  ", where_glassbox_runs(stage, pid, &event.container), false));
    } else {
        let look = format!(
            "The container's process is pid {pid}. To look inside the half-made container, run this in a \
             second terminal:"
        );
        lines.push(("  ", look, false));
        lines.push(("    ", format!("nsenter --target {pid} --all sh"), false));
    }
    lines.push(("  ", "Enter: run this stage · c + Enter: continue without pausing".into(), false));

    let mut out = String::from("\n");
    for (lead, text, bold) in lines {
        for line in wrap(lead, &text, style.width.max(MIN_WIDTH), "  ") {
            if bold && style.colour {
                out.push_str(&format!("{BOLD}{line}{RESET}\n"));
            } else {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

/// What to say when the stage runs in glassbox itself, not in the
/// container's process: there is none yet, none any more, or it is
/// elsewhere and only `glassbox state` knows its pid.
fn where_glassbox_runs(stage: Option<Stage>, pid: i32, container: &str) -> String {
    match stage {
        None | Some(Stage::Bundle | Stage::Cgroup | Stage::Namespaces) => format!(
            "There is no container process yet: this stage runs in glassbox itself (pid {pid}). The \
             container's process is cloned in the namespaces stage."
        ),
        Some(Stage::Exit | Stage::Cleanup) => {
            format!("The container's process is gone; this stage runs in glassbox itself (pid {pid}).")
        }
        Some(_) => format!(
            "This stage runs in glassbox itself (pid {pid}), outside the container. To look inside, find the \
             container's pid with `glassbox state {container}` and run: nsenter --target <that pid> --all sh"
        ),
    }
}
