//! Showing a narration: as lines for a terminal (words wrapped to the
//! width, continuation lines indented, ANSI colour only when asked) and as
//! one JSON line for programs. Colour is added after wrapping, line by
//! line, so escapes never count towards the width and never leak from one
//! line into the next.

use glassbox_events::{Event, Kind, Outcome};
use serde_json::Value;

use super::{Narration, Style};

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

/// Narrower than this, nothing reads well; lines may then exceed `width`.
pub const MIN_WIDTH: usize = 24;

/// The narration of `event` as terminal lines, each at most `style.width`
/// columns, ending with a newline.
pub fn render_text(event: &Event, narration: &Narration, style: &Style) -> String {
    let mut out = Lines { style, text: String::new() };
    match &event.kind {
        Kind::StageBegin { .. } => {
            out.text.push('\n');
            out.add("▶ ", &narration.headline, "  ", Some(BOLD));
            if let Some(why) = &narration.why {
                out.add("  ", why, "  ", None);
            }
            if let Some(chapter) = &narration.chapter {
                out.add("  read more: ", chapter, "    ", Some(DIM));
            }
        }
        Kind::StageEnd { outcome: Outcome::Ok, .. } => out.add("  ✓ ", &narration.headline, "    ", Some(DIM)),
        Kind::StageEnd { .. } => out.add("  ✗ ", &narration.headline, "    ", Some(RED)),
        Kind::Error { .. } => out.add("✗ ", &narration.headline, "  ", Some(RED)),
        Kind::Status { .. } => {
            out.add("» ", &narration.headline, "  ", Some(BOLD));
            details(&mut out, narration, "  ");
        }
        Kind::Step { .. } => {
            let failed = narration.headline.starts_with("FAILED");
            out.add("  • ", &narration.headline, "    ", failed.then_some(RED));
            details(&mut out, narration, "    ");
        }
        Kind::Dropped { .. } => out.add("  ! ", &narration.headline, "    ", None),
        _ => {
            out.add("  ", &narration.headline, "    ", None);
            details(&mut out, narration, "    ");
        }
    }
    out.text
}

/// The why / syscall / shell / check lines under a headline.
fn details(out: &mut Lines, narration: &Narration, indent: &str) {
    let rows = [
        ("why", &narration.why, None),
        ("syscall", &narration.syscall, None),
        ("shell", &narration.shell, Some(DIM)),
        ("check", &narration.check, Some(DIM)),
    ];
    for (label, value, colour) in rows {
        if let Some(value) = value {
            let lead = format!("{indent}{label:<8} ");
            let rest = " ".repeat(lead.len());
            out.add(&lead, value, &rest, colour);
        }
    }
}

struct Lines<'a> {
    style: &'a Style,
    text: String,
}

impl Lines<'_> {
    /// Wrap `text` after `lead` and append it.
    fn add(&mut self, lead: &str, text: &str, continuation: &str, colour: Option<&str>) {
        for line in wrap(lead, text, self.style.width.max(MIN_WIDTH), continuation) {
            match colour.filter(|_| self.style.colour) {
                Some(code) => self.text.push_str(&format!("{code}{line}{RESET}\n")),
                None => {
                    self.text.push_str(&line);
                    self.text.push('\n');
                }
            }
        }
    }
}

/// Greedy word wrap: `lead` starts the first line (kept as it is, spaces
/// and all), `continuation` the others. Spaces inside `text` are kept
/// except at a break; a word longer than a whole line (a long path) is cut.
pub fn wrap(lead: &str, text: &str, width: usize, continuation: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = lead.to_string();
    let mut empty = true; // no word on `line` yet
    for piece in text.split(' ') {
        if empty && piece.is_empty() {
            continue;
        }
        let mut word: Vec<char> = piece.chars().collect();
        loop {
            let used = line.chars().count();
            let gap = usize::from(!empty);
            if used + gap + word.len() <= width {
                if !empty {
                    line.push(' ');
                }
                line.extend(word.iter());
                empty = false;
                break;
            }
            if !empty {
                lines.push(std::mem::replace(&mut line, continuation.to_string()));
                empty = true;
                if word.is_empty() {
                    break;
                }
                continue;
            }
            // Alone on its line and still too long: cut it.
            let room = width.saturating_sub(used).max(1);
            let rest = word.split_off(room.min(word.len()));
            line.extend(word.iter());
            lines.push(std::mem::replace(&mut line, continuation.to_string()));
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !empty || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The event's own JSON line (fields in their usual order) with the
/// narration added as `"explain"` (null when there is nothing to say), on
/// one line ending with a newline.
pub fn render_json(event: &Event, narration: Option<&Narration>) -> String {
    let line = glassbox_events::to_line(event);
    let object = line.trim_end().strip_suffix('}').expect("an event is a JSON object");
    let explain = match narration {
        None => "null".to_string(),
        Some(n) => {
            let fields = [
                ("headline", Some(&n.headline)),
                ("why", n.why.as_ref()),
                ("syscall", n.syscall.as_ref()),
                ("shell", n.shell.as_ref()),
                ("check", n.check.as_ref()),
                ("chapter", n.chapter.as_ref()),
            ];
            let body: Vec<String> =
                fields.iter().map(|(key, value)| format!("\"{key}\":{}", Value::from(value.cloned()))).collect();
            format!("{{{}}}", body.join(","))
        }
    };
    format!("{object},\"explain\":{explain}}}\n")
}
