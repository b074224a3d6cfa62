//! The wire form: one event per line of JSON (NDJSON). A line never holds
//! a raw newline (JSON escapes it), so a reader can split on '\n' alone, and
//! a writer can emit a whole line with one write(2) — which keeps lines from
//! two processes appending to the same file from interleaving.

use crate::event::{Event, Kind, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not an event line: {0}")]
    Json(#[from] serde_json::Error),
    #[error("event schema version {0} is not {SCHEMA_VERSION}: this reader is too old or too new")]
    Version(u32),
}

/// The event as one line, newline included.
pub fn to_line(event: &Event) -> String {
    let mut line = Vec::with_capacity(256);
    write_line(&mut line, event);
    String::from_utf8(line).expect("JSON is UTF-8")
}

/// Append the event as one line, newline included, to `out`: the same bytes
/// serde_json makes of an [`Event`], written field by field: a container's
/// record is ~150 events made while the container is being made, and a
/// trace adds one per syscall, so the envelope skips serde's generic walk
/// over the flattened `kind`; values (strings to escape, maps) still go
/// through serde_json. tests/wire.rs holds every kind to serde's bytes.
pub fn write_line(out: &mut Vec<u8>, event: &Event) {
    out.push(b'{');
    field(out, "v", &event.v);
    field(out, "seq", &event.seq);
    field(out, "ts_ns", &event.ts_ns);
    field(out, "wall", &event.wall);
    field(out, "container", &event.container);
    field(out, "pid", &event.pid);
    field(out, "source", &event.source);
    match &event.kind {
        Kind::StageBegin { stage } => {
            field(out, "type", "stage_begin");
            field(out, "stage", stage);
        }
        Kind::StageEnd { stage, duration_ns, outcome } => {
            field(out, "type", "stage_end");
            field(out, "stage", stage);
            field(out, "duration_ns", duration_ns);
            field(out, "outcome", outcome);
        }
        Kind::Step { stage, action, args } => {
            field(out, "type", "step");
            field(out, "stage", stage);
            field(out, "action", action);
            field(out, "args", args);
        }
        Kind::Status { status } => {
            field(out, "type", "status");
            field(out, "status", status);
        }
        Kind::Syscall { nr, name, args, ret, latency_ns, decoded, ns } => {
            field(out, "type", "syscall");
            field(out, "nr", nr);
            field(out, "name", name);
            field(out, "args", args);
            field(out, "ret", ret);
            field(out, "latency_ns", latency_ns);
            optional(out, "decoded", decoded);
            optional(out, "ns", ns);
        }
        Kind::Process { change, ppid, filename, exit_code, ns } => {
            field(out, "type", "process");
            field(out, "change", change);
            optional(out, "ppid", ppid);
            optional(out, "filename", filename);
            optional(out, "exit_code", exit_code);
            optional(out, "ns", ns);
        }
        Kind::Error { stage, message } => {
            field(out, "type", "error");
            field(out, "stage", stage);
            field(out, "message", message);
        }
        Kind::Dropped { sink, count } => {
            field(out, "type", "dropped");
            field(out, "sink", sink);
            field(out, "count", count);
        }
    }
    // The last field's comma becomes the object's end.
    out.pop();
    out.extend_from_slice(b"}\n");
}

/// A field the model skips when it is `None`.
fn optional<T: serde::Serialize>(out: &mut Vec<u8>, key: &str, value: &Option<T>) {
    if let Some(v) = value {
        field(out, key, v);
    }
}

/// `"key":value,` (keys are the model's own names: nothing to escape).
fn field<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, key: &str, value: &T) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    serde_json::to_writer(&mut *out, value).expect("event fields always serialize");
    out.push(b',');
}

/// Parse one line (with or without its newline).
pub fn from_line(line: &str) -> Result<Event, CodecError> {
    let event: Event = serde_json::from_str(line.trim_end_matches('\n'))?;
    if event.v != SCHEMA_VERSION {
        return Err(CodecError::Version(event.v));
    }
    Ok(event)
}
