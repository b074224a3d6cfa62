//! The wire form: one event per line of JSON (NDJSON). A line never holds
//! a raw newline (JSON escapes it), so a reader can split on '\n' alone, and
//! a writer can emit a whole line with one write(2) — which keeps lines from
//! two processes appending to the same file from interleaving.

use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use crate::event::{Event, Kind, Outcome, ProcessChange, Source, Stage, SCHEMA_VERSION};
use crate::json_text;
use crate::step_args::StepArgs;

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
/// serde_json makes of an [`Event`], written field by field by
/// [`json_text`] — a container's record is ~130 events made while the
/// container is being made, and a trace adds one per syscall.
/// tests/wire.rs holds every kind to serde's bytes.
pub fn write_line(out: &mut Vec<u8>, event: &Event) {
    envelope(out, event);
    kind_and_end(out, event);
}

/// Writes the lines of one stream of events — one process's events about
/// one container — whose `container`, `pid` and `source` repeat from line
/// to line, and whose steps come in runs of one action (~50 mounts, device
/// nodes, cgroup joins): that text is made once and copied after, where
/// writing it field by field was a third of what a line costs. The same
/// bytes as [`write_line`].
#[derive(Debug, Default)]
pub struct LineWriter {
    /// `,"container":…,"pid":…,"source":…` of `of`.
    shared: Vec<u8>,
    of: Option<(String, i32, Source)>,
    /// `,"type":"step","stage":…,"action":…,"args":` of `step_of`.
    step: Vec<u8>,
    step_of: Option<(Stage, String)>,
}

impl LineWriter {
    pub fn new() -> LineWriter {
        LineWriter::default()
    }

    /// Append `event` as one line (as [`write_line`]).
    pub fn line(&mut self, out: &mut Vec<u8>, event: &Event) {
        self.envelope(out, event);
        kind_and_end(out, event);
    }

    /// Append a `step` line: `event`'s envelope (its `kind` is not looked
    /// at), then `stage`, `action` and the arguments `args` writes — the
    /// same bytes as [`write_line`] of the step with those arguments as a map.
    pub fn step_line(
        &mut self,
        out: &mut Vec<u8>,
        event: &Event,
        stage: Stage,
        action: &str,
        args: impl FnOnce(&mut StepArgs),
    ) {
        self.envelope(out, event);
        if self.step_of.as_ref().is_none_or(|(s, a)| *s != stage || a != action) {
            self.step.clear();
            step_head(&mut self.step, stage, action);
            self.step_of = Some((stage, action.to_string()));
        }
        out.extend_from_slice(&self.step);
        let mut writer = StepArgs::begin(out);
        args(&mut writer);
        writer.end();
        out.extend_from_slice(b"}\n");
    }

    /// Append the `syscall` line of `call` — the same bytes as
    /// [`write_line`] of the [`Kind::Syscall`] event with those fields and
    /// neither `decoded` nor `ns` — without making the [`Event`]: a traced
    /// container makes millions of these, and the event's strings and
    /// argument list would be allocated for each only to be written.
    pub fn syscall_line(&mut self, out: &mut Vec<u8>, call: &PlainSyscall) {
        let head = Envelope {
            v: SCHEMA_VERSION,
            seq: call.seq,
            ts_ns: call.ts_ns,
            wall: call.wall,
            container: call.container,
            pid: call.pid,
            source: Source::Kernel,
        };
        self.envelope_of(out, &head);
        known_field(out, "type", "syscall");
        comma_key(out, "nr");
        json_text::uint(out, call.nr.into());
        field(out, "name", call.name);
        comma_key(out, "args");
        json_text::uints(out, call.args);
        comma_key(out, "ret");
        json_text::int(out, call.ret);
        comma_key(out, "latency_ns");
        json_text::uint(out, call.latency_ns);
        out.extend_from_slice(b"}\n");
    }

    fn envelope(&mut self, out: &mut Vec<u8>, event: &Event) {
        self.envelope_of(out, &Envelope::of(event));
    }

    fn envelope_of(&mut self, out: &mut Vec<u8>, head: &Envelope) {
        let same = self.of.as_ref().is_some_and(|(container, pid, source)| {
            *pid == head.pid && *source == head.source && container == head.container
        });
        if !same {
            self.shared.clear();
            shared_fields(&mut self.shared, head);
            self.of = Some((head.container.to_string(), head.pid, head.source));
        }
        own_fields(out, head);
        out.extend_from_slice(&self.shared);
    }
}

/// A kernel syscall with nothing decoded — most of a trace — as the parts
/// of its line, for [`LineWriter::syscall_line`]. `source` is `kernel`.
#[derive(Debug, Clone, Copy)]
pub struct PlainSyscall<'a> {
    pub seq: u64,
    pub ts_ns: u64,
    /// The `wall` text ([`crate::WallText`]).
    pub wall: &'a str,
    pub container: &'a str,
    pub pid: i32,
    pub nr: u32,
    pub name: &'a str,
    pub args: &'a [u64],
    pub ret: i64,
    pub latency_ns: u64,
}

/// The fields every line begins with, borrowed from an [`Event`] or from
/// the parts of a line made without one.
struct Envelope<'a> {
    v: u32,
    seq: u64,
    ts_ns: u64,
    wall: &'a str,
    container: &'a str,
    pid: i32,
    source: Source,
}

impl<'a> Envelope<'a> {
    fn of(event: &'a Event) -> Envelope<'a> {
        Envelope {
            v: event.v,
            seq: event.seq,
            ts_ns: event.ts_ns,
            wall: &event.wall,
            container: &event.container,
            pid: event.pid,
            source: event.source,
        }
    }
}

/// After the envelope: the kind's own fields, and the line's end.
fn kind_and_end(out: &mut Vec<u8>, event: &Event) {
    match &event.kind {
        Kind::StageBegin { stage } => {
            known_field(out, "type", "stage_begin");
            known_field(out, "stage", stage.name());
        }
        Kind::StageEnd { stage, duration_ns, outcome } => {
            known_field(out, "type", "stage_end");
            known_field(out, "stage", stage.name());
            comma_key(out, "duration_ns");
            json_text::uint(out, *duration_ns);
            known_field(out, "outcome", outcome.name());
        }
        Kind::Step { stage, action, args } => {
            step_head(out, *stage, action);
            json_text::object(out, args);
        }
        Kind::Status { status } => {
            known_field(out, "type", "status");
            field(out, "status", status);
        }
        Kind::Syscall { nr, name, args, ret, latency_ns, decoded, ns } => {
            known_field(out, "type", "syscall");
            comma_key(out, "nr");
            json_text::uint(out, (*nr).into());
            field(out, "name", name);
            comma_key(out, "args");
            json_text::uints(out, args);
            comma_key(out, "ret");
            json_text::int(out, *ret);
            comma_key(out, "latency_ns");
            json_text::uint(out, *latency_ns);
            optional_object(out, "decoded", decoded);
            optional_object(out, "ns", ns);
        }
        Kind::Process { change, ppid, filename, exit_code, ns } => {
            known_field(out, "type", "process");
            known_field(out, "change", change.name());
            if let Some(ppid) = ppid {
                comma_key(out, "ppid");
                json_text::int(out, (*ppid).into());
            }
            if let Some(filename) = filename {
                field(out, "filename", filename);
            }
            if let Some(code) = exit_code {
                comma_key(out, "exit_code");
                json_text::int(out, (*code).into());
            }
            optional_object(out, "ns", ns);
        }
        Kind::Error { stage, message } => {
            known_field(out, "type", "error");
            known_field(out, "stage", stage.name());
            field(out, "message", message);
        }
        Kind::Dropped { sink, count } => {
            known_field(out, "type", "dropped");
            field(out, "sink", sink);
            comma_key(out, "count");
            json_text::uint(out, *count);
        }
    }
    out.extend_from_slice(b"}\n");
}

/// A step's fields up to its arguments: `,"type":"step","stage":…,"action":…,"args":`.
fn step_head(out: &mut Vec<u8>, stage: Stage, action: &str) {
    known_field(out, "type", "step");
    known_field(out, "stage", stage.name());
    field(out, "action", action);
    comma_key(out, "args");
}

/// The fields every event has, from `{"v":` to `"source":…`.
fn envelope(out: &mut Vec<u8>, event: &Event) {
    let head = Envelope::of(event);
    own_fields(out, &head);
    shared_fields(out, &head);
}

/// The envelope's fields that change from one event to the next.
fn own_fields(out: &mut Vec<u8>, head: &Envelope) {
    out.extend_from_slice(b"{\"v\":");
    json_text::uint(out, head.v.into());
    comma_key(out, "seq");
    json_text::uint(out, head.seq);
    comma_key(out, "ts_ns");
    json_text::uint(out, head.ts_ns);
    field(out, "wall", head.wall);
}

/// The envelope's fields a process's events about a container share.
fn shared_fields(out: &mut Vec<u8>, head: &Envelope) {
    field(out, "container", head.container);
    comma_key(out, "pid");
    json_text::int(out, head.pid.into());
    known_field(out, "source", head.source.name());
}

/// `,"key":` — every field but the first follows a comma; the keys are the
/// model's own names.
fn comma_key(out: &mut Vec<u8>, key: &str) {
    out.push(b',');
    json_text::known(out, key);
    out.push(b':');
}

/// `,"key":"value"`.
fn field(out: &mut Vec<u8>, key: &str, value: &str) {
    comma_key(out, key);
    json_text::string(out, value);
}

/// A field whose value is one of the model's own names (a type, a stage).
fn known_field(out: &mut Vec<u8>, key: &str, value: &str) {
    comma_key(out, key);
    json_text::known(out, value);
}

/// `,"key":{…}`, or nothing when the model skips it (`None`).
fn optional_object(out: &mut Vec<u8>, key: &str, value: &Option<Map<String, Value>>) {
    if let Some(map) = value {
        comma_key(out, key);
        json_text::object(out, map);
    }
}

/// Parse one line (with or without its newline).
pub fn from_line(line: &str) -> Result<Event, CodecError> {
    let wire: Wire = serde_json::from_str(line.trim_end_matches('\n'))?;
    Event::try_from(wire)
}

/// Parse one line for everything but its arguments: a step's `args`, a
/// syscall's `args`, `decoded` and `ns` are read over (they must still be
/// JSON) and left empty. For a reader that keeps the line itself and reads
/// it whole again when it needs the arguments — the dashboard, which takes
/// hundreds of thousands of lines a second and only counts and places most
/// of them: a step's map of strings was most of what reading one cost.
pub fn from_line_head(line: &str) -> Result<Event, CodecError> {
    let wire: Wire<IgnoredAny, IgnoredAny> = serde_json::from_str(line.trim_end_matches('\n'))?;
    Event::try_from(wire)
}

/// A line as it is on the wire: every field any kind has, side by side.
/// `Event` declares its kind as a flattened, internally tagged enum, which
/// serde can only read through a buffered copy of every value (several
/// times slower); this shape is read directly, and `type` then says which
/// fields make the kind. `--trace`'s printer reads every line of a
/// container's record while the command waits for it. `Event`'s own
/// Deserialize goes through here too (`try_from`): one way to read a line.
///
/// `A` and `M` are how `args` and the maps (`decoded`, `ns`) are read:
/// kept ([`Args`], a `Map`), or read over ([`IgnoredAny`], by
/// [`from_line_head`]).
#[derive(serde::Deserialize)]
pub(crate) struct Wire<A = Args, M = Map<String, Value>> {
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
    args: Option<A>,
    status: Option<String>,
    nr: Option<u32>,
    name: Option<String>,
    ret: Option<i64>,
    latency_ns: Option<u64>,
    decoded: Option<M>,
    ns: Option<M>,
    change: Option<ProcessChange>,
    ppid: Option<i32>,
    filename: Option<String>,
    exit_code: Option<i32>,
    message: Option<String>,
    sink: Option<String>,
    count: Option<u64>,
}

impl<A: ReadArgs, M: ReadMap> TryFrom<Wire<A, M>> for Event {
    type Error = CodecError;

    fn try_from(w: Wire<A, M>) -> Result<Event, CodecError> {
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
                decoded: w.decoded.and_then(M::kept),
                ns: w.ns.and_then(M::kept),
            },
            Type::Process => Kind::Process {
                change: need(w.change, "change")?,
                ppid: w.ppid,
                filename: w.filename,
                exit_code: w.exit_code,
                ns: w.ns.and_then(M::kept),
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
pub(crate) enum Args {
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

/// What `args` becomes: a step's object, or a syscall's numbers.
pub(crate) trait ReadArgs {
    fn into_object(self) -> Result<Map<String, Value>, serde_json::Error>;
    fn into_numbers(self) -> Result<Vec<u64>, serde_json::Error>;
}

impl ReadArgs for Args {
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

/// Read over: empty (neither allocates).
impl ReadArgs for IgnoredAny {
    fn into_object(self) -> Result<Map<String, Value>, serde_json::Error> {
        Ok(Map::new())
    }

    fn into_numbers(self) -> Result<Vec<u64>, serde_json::Error> {
        Ok(Vec::new())
    }
}

/// What `decoded` and `ns` become: kept, or none.
pub(crate) trait ReadMap {
    fn kept(self) -> Option<Map<String, Value>>;
}

impl ReadMap for Map<String, Value> {
    fn kept(self) -> Option<Map<String, Value>> {
        Some(self)
    }
}

impl ReadMap for IgnoredAny {
    fn kept(self) -> Option<Map<String, Value>> {
        None
    }
}
