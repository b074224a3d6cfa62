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
//! tracer.follow(std::process::id())?;
//! for rec in tracer.poll(std::time::Duration::from_millis(100))? {
//!     println!("{rec:?}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Synchronous on purpose (no async runtime): [`Tracer::poll`] is poll(2) on
//! the ring buffer's fd. See bpf(2) and bpf-helpers(7).

mod btf;
mod decoded;
mod display;
mod error;
mod event;
mod probes;
mod record;
mod summary;
mod syscalls;
mod tracefs;
mod tracer;

pub use btf::task_offsets;
pub use decoded::{cap_names, clone_flags, decode_args, flag_names, mount_flags, nstype, prctl_option, seccomp_op};
pub use display::{format_ns, Formatter};
pub use error::{TraceError, Unavailable};
pub use event::{to_event, EventContext};
pub use glassbox_probes_common::SyscallRecord;
pub use probes::built as probes_built;
pub use record::{decode, decode_any, Call, Decoded, KernelRecord, NsInodes};
pub use summary::SyscallSummary;
pub use syscalls::{all_syscalls, syscall_name, syscall_number};
pub use tracer::{TraceOptions, Tracer};
