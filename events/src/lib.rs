//! # glassbox-events — what glassbox reports while it makes a container
//!
//! Every stage of making a container (and, later, every syscall the kernel
//! probes see) is an [`Event`]: one JSON object per line (NDJSON), schema
//! version [`SCHEMA_VERSION`], described by `schema/events.v1.json`.
//!
//! ```text
//! {"v":1,"seq":7,"ts_ns":…,"wall":"…","container":"web","pid":4242,"source":"runtime",
//!  "type":"step","stage":"mounts","action":"mount","args":{"target":"/proc",…}}
//! ```
//!
//! This crate is the model and its encoding (with the `wall` field's
//! text, [`WallText`]), the reading of a record as it grows ([`Tail`]), and
//! the record's one sequence counter ([`Sequence`], a file every writer of
//! the record maps): no sockets, nothing that depends on the operating
//! system beyond the time of day, reading a file and mapping one — so the dashboard and tools can use it
//! without the runtime. The runtime owns the sinks that write events to
//! `events.jsonl`, the hub socket or the narrator.
//! One text helper rides along: [`proc_text`], the kernel's escapes in
//! mountinfo, read by the runtime and by the tests that watch it from outside.

mod codec;
mod event;
mod follow;
mod json_text;
pub mod proc_text;
mod sequence;
mod step_args;
mod wall;

pub use codec::{from_line, from_line_head, to_line, write_line, CodecError, LineWriter, PlainSyscall};
pub use event::{Event, Kind, Outcome, ProcessChange, Source, Stage, SCHEMA_VERSION};
pub use follow::Tail;
pub use sequence::{Sequence, COUNTER_FILE};
pub use step_args::StepArgs;
pub use wall::WallText;
