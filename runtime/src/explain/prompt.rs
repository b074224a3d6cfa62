//! The `--step` pause: before each stage, say which stage comes next and
//! how to look inside the half-made container from a second terminal with
//! nsenter(1), which joins a process's namespaces through /proc/<pid>/ns.

use glassbox_events::{Event, Kind, Stage};

use super::render::wrap;
use super::{stages, Style};

const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The prompt shown before `event` (a `stage_begin`), ending with a newline.
pub fn step_prompt(event: &Event, style: &Style) -> String {
    let heading = match &event.kind {
        Kind::StageBegin { stage } | Kind::StageEnd { stage, .. } | Kind::Step { stage, .. } => {
            format!("⏸ next stage: {} — {}", stage.name(), stages::info(*stage).title)
        }
        _ => "⏸ paused".to_string(),
    };
    let stage = match &event.kind {
        Kind::StageBegin { stage } => Some(*stage),
        _ => None,
    };
    let mut lines: Vec<(&str, String, bool)> = vec![("", heading, true)];
    if event.pid == style.runtime_pid || event.pid <= 0 {
        let text = match stage {
            Some(Stage::Exit | Stage::Cleanup) => {
                format!("The container's process is gone; this stage runs in glassbox itself (pid {}).", event.pid)
            }
            _ => format!(
                "There is no container process yet: this stage runs in glassbox itself (pid {}). The \
                 container's process is cloned in the namespaces stage.",
                event.pid
            ),
        };
        lines.push(("  ", text, false));
    } else {
        lines.push((
            "  ",
            format!(
                "The container's process is pid {}. To look inside the half-made container, run this in a \
                 second terminal:",
                event.pid
            ),
            false,
        ));
        lines.push(("    ", format!("nsenter --target {} --all sh", event.pid), false));
    }
    lines.push(("  ", "Enter: run this stage · c + Enter: continue without pausing".into(), false));

    let width = style.width.max(24);
    let mut out = String::new();
    for (lead, text, bold) in lines {
        for line in wrap(lead, &text, width, "  ") {
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
