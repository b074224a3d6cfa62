//! One line of an events.jsonl read back into an Event (`from_line`, what
//! `events --follow`, `start --explain` and `--trace`'s printer do with
//! every line), then used as they use it. Any bytes: an error or an event,
//! never a panic. For an event that reads:
//! - written again (`to_line`, `LineWriter`, serde) it is the same bytes
//!   three ways, and those bytes read back to the same event;
//! - narrated (`explain::narrate`, `render_text`, `render_json`,
//!   `step_prompt`), every text line fits the terminal's width.

#![no_main]

use glassbox_events::{from_line, to_line, Event, LineWriter};
use glassbox_explain::{narrate, render_json, render_text, step_prompt, Style};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let Ok(event) = from_line(line) else { return };

    let text = to_line(&event);
    let mut by_writer = Vec::new();
    LineWriter::new().line(&mut by_writer, &event);
    assert_eq!(text.as_bytes(), by_writer, "LineWriter and to_line disagree");
    let by_serde = serde_json::to_string(&event).expect("an event serializes") + "\n";
    assert_eq!(text, by_serde, "the hand-written line is not serde's");
    let again: Event = from_line(&text).expect("a line glassbox wrote reads back");
    assert_eq!(again, event, "the event changed on its way through a line");

    for (colour, width) in [(false, 80), (true, 80), (false, 24)] {
        let style = Style { colour, width, runtime_pid: 1000 };
        let narration = narrate(&event, &style);
        if let Some(n) = &narration {
            let shown = render_text(&event, n, &style);
            if !colour {
                for l in shown.lines() {
                    assert!(l.chars().count() <= width, "{l:?} is wider than {width}");
                }
            }
        }
        let json = render_json(&event, narration.as_ref());
        serde_json::from_str::<serde_json::Value>(&json).expect("render_json makes JSON");
        let prompt = step_prompt(&event, &style);
        if !colour {
            for l in prompt.lines() {
                assert!(l.chars().count() <= width, "{l:?} is wider than {width}");
            }
        }
    }
});
