//! Replay: any events.jsonl a person has (a kept record, a file a student
//! sent) read by the dashboard's parser and narrator, so the page can play
//! it back — or compare it with another. `POST /api/replay` takes the
//! file's text as the body and answers with its events, narrated, and how
//! many lines were not events. Read-only: nothing is stored; the answer is
//! all that is left of the request.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use glassbox_events::Event;

use crate::Shared;

/// The largest file taken (the body limit of the route).
pub const MAX_BODY: usize = 64 << 20;

/// `POST /api/replay`: `{"events":[…],"invalid":n,"first_invalid":"line 3: …"|null}`.
pub async fn replay(State(_): State<Shared>, body: String) -> Response {
    let mut events: Vec<Event> = Vec::new();
    let mut invalid = 0usize;
    let mut first_invalid = None;
    for (number, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match glassbox_events::from_line(line) {
            Ok(event) => events.push(event),
            Err(e) => {
                invalid += 1;
                first_invalid.get_or_insert_with(|| format!("line {}: {e}", number + 1));
            }
        }
    }
    if events.is_empty() && invalid > 0 {
        let message = format!("not an events.jsonl: no line is an event ({})", first_invalid.unwrap_or_default());
        return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": message }))).into_response();
    }
    let pid = crate::narrated::runtime_pid(&events);
    let body = format!(
        r#"{{"events":{},"invalid":{invalid},"first_invalid":{}}}"#,
        crate::narrated::array(&events, pid),
        serde_json::Value::from(first_invalid)
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
