//! The wire form: one event per line of JSON (NDJSON). A line never holds
//! a raw newline (JSON escapes it), so a reader can split on '\n' alone, and
//! a writer can emit a whole line with one write(2) — which keeps lines from
//! two processes appending to the same file from interleaving.

use serde_json::{Map, Value};

use crate::event::{Event, Kind, Outcome, ProcessChange, Source, Stage, SCHEMA_VERSION};

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
    let wire: Wire = serde_json::from_str(line.trim_end_matches('\n'))?;
    Event::try_from(wire)
}

/// A line as it is on the wire: every field any kind has, side by side.
/// `Event` declares its kind as a flattened, internally tagged enum, which
/// serde can only read through a buffered copy of every value (several
/// times slower); this shape is read directly, and `type` then says which
/// fields make the kind. `--trace`'s printer reads every line of a
/// container's record while the command waits for it. `Event`'s own
/// Deserialize goes through here too (`try_from`): one way to read a line.
#[derive(serde::Deserialize)]
pub(crate) struct Wire {
    v: u32,
    seq: u64,
    ts_ns: u64,
    wall: String,
    container: String,
    pid: i32,
    source: Source,
    #[serde(rename = "type")]
    kind: Type,
    stage: Option<Stage>,
    duration_ns: Option<u64>,
    outcome: Option<Outcome>,
    action: Option<String>,
    args: Option<Args>,
    status: Option<String>,
    nr: Option<u32>,
    name: Option<String>,
    ret: Option<i64>,
    latency_ns: Option<u64>,
    decoded: Option<Map<String, Value>>,
    ns: Option<Map<String, Value>>,
    change: Option<ProcessChange>,
    ppid: Option<i32>,
    filename: Option<String>,
    exit_code: Option<i32>,
    message: Option<String>,
    sink: Option<String>,
    count: Option<u64>,
}

impl TryFrom<Wire> for Event {
    type Error = CodecError;

    fn try_from(w: Wire) -> Result<Event, CodecError> {
        if w.v != SCHEMA_VERSION {
            return Err(CodecError::Version(w.v));
        }
        fn need<T>(v: Option<T>, field: &'static str) -> Result<T, serde_json::Error> {
            v.ok_or_else(|| serde::de::Error::missing_field(field))
        }
        let kind = match w.kind {
            Type::StageBegin => Kind::StageBegin { stage: need(w.stage, "stage")? },
            Type::StageEnd => Kind::StageEnd {
                stage: need(w.stage, "stage")?,
                duration_ns: need(w.duration_ns, "duration_ns")?,
                outcome: need(w.outcome, "outcome")?,
            },
            Type::Step => Kind::Step {
                stage: need(w.stage, "stage")?,
                action: need(w.action, "action")?,
                args: need(w.args, "args")?.into_object()?,
            },
            Type::Status => Kind::Status { status: need(w.status, "status")? },
            Type::Syscall => Kind::Syscall {
                nr: need(w.nr, "nr")?,
                name: need(w.name, "name")?,
                args: need(w.args, "args")?.into_numbers()?,
                ret: need(w.ret, "ret")?,
                latency_ns: need(w.latency_ns, "latency_ns")?,
                decoded: w.decoded,
                ns: w.ns,
            },
            Type::Process => Kind::Process {
                change: need(w.change, "change")?,
                ppid: w.ppid,
                filename: w.filename,
                exit_code: w.exit_code,
                ns: w.ns,
            },
            Type::Error => Kind::Error { stage: need(w.stage, "stage")?, message: need(w.message, "message")? },
            Type::Dropped => Kind::Dropped { sink: need(w.sink, "sink")?, count: need(w.count, "count")? },
        };
        Ok(Event {
            v: w.v,
            seq: w.seq,
            ts_ns: w.ts_ns,
            wall: w.wall,
            container: w.container,
            pid: w.pid,
            source: w.source,
            kind,
        })
    }
}

/// The `type` field: which [`Kind`] the line is (serde names the others
/// when a line has none of these).
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Type {
    StageBegin,
    StageEnd,
    Step,
    Status,
    Syscall,
    Process,
    Error,
    Dropped,
}

/// `args`: a step's object of arguments, or a syscall's six numbers — read
/// as whichever the line holds, without going through a `Value`.
enum Args {
    Numbers(Vec<u64>),
    Object(Map<String, Value>),
}

impl<'de> serde::Deserialize<'de> for Args {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Args, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = Args;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of arguments or a list of numbers")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Args, A::Error> {
                let mut numbers = Vec::with_capacity(6);
                while let Some(n) = seq.next_element()? {
                    numbers.push(n);
                }
                Ok(Args::Numbers(numbers))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Args, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Args::Object)
            }
        }
        d.deserialize_any(Either)
    }
}

impl Args {
    fn into_object(self) -> Result<Map<String, Value>, serde_json::Error> {
        match self {
            Args::Object(args) => Ok(args),
            Args::Numbers(_) => Err(serde::de::Error::custom("a step's args are an object, not a list")),
        }
    }

    fn into_numbers(self) -> Result<Vec<u64>, serde_json::Error> {
        match self {
            Args::Numbers(args) => Ok(args),
            Args::Object(_) => Err(serde::de::Error::custom("a syscall's args are a list, not an object")),
        }
    }
}
