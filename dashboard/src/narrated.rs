//! An event as the web page receives it: the event's own JSON object with
//! its narration added as `"explain"` — the same words `glassbox run
//! --explain` prints (glassbox-explain's `narrate`, shown by `render_json`),
//! so the page and the terminal never tell two stories. The narration
//! knows which pid is glassbox itself (`runtime_pid`): steps of that
//! process happen before the container has a /proc/<pid> to look into.

use glassbox_events::Event;
use glassbox_explain::{narrate, render_json, Style};

/// One event, narrated, as one JSON object without a trailing newline.
pub fn json(event: &Event, runtime_pid: i32) -> String {
    // No colour (the page styles it) and no wrapping (the browser wraps).
    let style = Style { colour: false, width: usize::MAX / 2, runtime_pid };
    let narration = narrate(event, &style);
    let mut line = render_json(event, narration.as_ref());
    line.truncate(line.trim_end().len());
    line
}

/// Several, as a JSON array's text.
pub fn array<'a>(events: impl IntoIterator<Item = &'a Event>, runtime_pid: i32) -> String {
    let mut text = String::from("[");
    for (i, event) in events.into_iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&json(event, runtime_pid));
    }
    text.push(']');
    text
}

/// The pid of the record's first runtime event: glassbox itself.
pub fn runtime_pid<'a>(events: impl IntoIterator<Item = &'a Event>) -> i32 {
    events.into_iter().find(|e| e.source == glassbox_events::Source::Runtime).map_or(0, |e| e.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_carries_its_narration_and_a_kernel_event_none() {
        let step = glassbox_events::from_line(
            r#"{"v":1,"seq":1,"ts_ns":5,"wall":"2026-12-07T00:00:00.000000000Z","container":"c","pid":9,"source":"runtime","type":"step","stage":"hostname","action":"sethostname","args":{"name":"<b>x</b>"}}"#,
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&json(&step, 9)).unwrap();
        assert_eq!(value["args"]["name"], "<b>x</b>", "data stays data");
        assert!(value["explain"]["headline"].as_str().unwrap().contains("<b>x</b>"), "{value}");
        assert_eq!(value["explain"]["chapter"], "book/src/making-a-container/hostname.md");
        let exit = glassbox_events::from_line(
            r#"{"v":1,"seq":2,"ts_ns":6,"wall":"2026-12-07T00:00:00.000000000Z","container":"c","pid":9,"source":"kernel","type":"process","change":"exit","exit_code":0}"#,
        )
        .unwrap();
        let text = array([&step, &exit], 9);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value[1]["explain"], serde_json::Value::Null);
        assert_eq!(runtime_pid([&exit, &step]), 9);
    }
}
