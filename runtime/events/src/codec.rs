//! The wire form: one event per line of JSON (NDJSON). A line never holds
//! a raw newline (JSON escapes it), so a reader can split on '\n' alone, and
//! a writer can emit a whole line with one write(2) — which keeps lines from
//! two processes appending to the same file from interleaving.

use crate::event::{Event, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not an event line: {0}")]
    Json(#[from] serde_json::Error),
    #[error("event schema version {0} is not {SCHEMA_VERSION}: this reader is too old or too new")]
    Version(u32),
}

/// The event as one line, newline included.
pub fn to_line(event: &Event) -> String {
    let mut line = serde_json::to_string(event).expect("events always serialize");
    line.push('\n');
    line
}

/// Parse one line (with or without its newline).
pub fn from_line(line: &str) -> Result<Event, CodecError> {
    let event: Event = serde_json::from_str(line.trim_end_matches('\n'))?;
    if event.v != SCHEMA_VERSION {
        return Err(CodecError::Version(event.v));
    }
    Ok(event)
}
