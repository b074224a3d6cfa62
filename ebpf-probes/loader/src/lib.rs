//! # glassbox-probes — the kernel's side of a container, as Events
//!
//! Loads glassbox's eBPF programs (ebpf-probes/kernel, built and embedded by
//! build.rs), follows a process tree in the kernel, and reads back what it
//! did: every syscall (or per-syscall counts and latency histograms in
//! aggregate mode) and every fork, exec and exit. Records are decoded into
//! [`KernelRecord`]s and then into glassbox [`Event`](glassbox_events::Event)s
//! with `source: kernel`, on the same CLOCK_MONOTONIC clock the runtime uses.
//!
//! ```no_run
//! use glassbox_probes::{TraceOptions, Tracer};
//! let mut tracer = Tracer::load(&TraceOptions::default())?;
//! tracer.follow(std::process::id(), 1)?;
//! tracer.wait(None, 100)?;
//! for rec in tracer.drain() {
//!     println!("{rec:?}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Beyond one tracer: [`writer`] turns records into lines of each
//! container's record, and [`PinnedHub`] holds the probes with pinned maps
//! for every `--trace` runtime to register with (what the dashboard runs).
//!
//! Synchronous on purpose (no async runtime): [`Tracer::wait`] is poll(2) on
//! the ring buffer's fd. See bpf(2) and bpf-helpers(7).

mod btf;
mod decoded;
mod display;
mod error;
mod event;
pub mod fastline;
mod hub;
mod probes;
mod record;
mod session;
mod stream;
mod summary;
mod syscalls;
mod tracefs;
mod tracer;
pub mod writer;

pub use display::{decoded_args, format_ns, format_ret, Formatter};
pub use error::{TraceError, Unavailable};
pub use event::{to_event, EventContext};
pub use glassbox_probes_common::SyscallRecord;
pub use glassbox_probes_common::{maps as map_names, OwnerInfo, MAX_OWNER};
pub use hub::{pinned_sessions, HubError, HubNote, PinnedHub, DEFAULT_PIN_DIR, PINNED_RING_BYTES};
pub use record::{decode, Call, KernelRecord, NsInodes};
pub use session::{owner_container, owner_events_path, owner_info, Sessions};
pub use stream::RecordStream;
pub use summary::SyscallSummary;
pub use syscalls::{syscall_name, syscall_number};
pub use tracer::{TraceOptions, Tracer};

/// CLOCK_MONOTONIC now, in ns: the clock of the records and the runtime's events.
pub fn monotonic_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: t is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The owner slot a raw ring record carries (see [`Sessions`]): each
/// record kind has an `owner` field of its own.
pub(crate) fn record_owner(bytes: &[u8]) -> u8 {
    use glassbox_probes_common::{DetailRecord, NamespaceRecord, ProcessRecord, RecordKind};
    let tag = bytes.get(..4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    let at = match tag.and_then(RecordKind::from_tag) {
        Some(RecordKind::Syscall) => std::mem::offset_of!(SyscallRecord, owner),
        Some(RecordKind::Fork | RecordKind::Exec | RecordKind::Exit) => std::mem::offset_of!(ProcessRecord, owner),
        Some(RecordKind::Detail) => std::mem::offset_of!(DetailRecord, owner),
        Some(RecordKind::Namespaces) => std::mem::offset_of!(NamespaceRecord, owner),
        None => return 0,
    };
    bytes.get(at..at + 4).map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u8)
}
