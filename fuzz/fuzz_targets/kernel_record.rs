//! Raw eBPF ring-buffer records, as the tracer reads them: decoded and made
//! whole by a `RecordStream` (a detail joins its syscall, an exec gets the
//! parent its fork named), turned into Events (`to_event`) and lines, and
//! printed strace-like (`Formatter`). The input is a batch of records back
//! to back, each as long as the `#[repr(C)]` struct its tag names; a record
//! with an unknown tag, or cut short, takes the rest of the input (the
//! decoder must refuse it, not guess). Any bytes: never a panic. And:
//! - every event's line reads back to the same event;
//! - a syscall the trace writer writes without making its Event
//!   (`glassbox_probes::fastline::fits`) gets the same line as from `to_line`.

#![no_main]

use std::cell::RefCell;
use std::mem::size_of;

use glassbox_events::{from_line, to_line};
use glassbox_probes::fastline::{self, LineCache};
use glassbox_probes::{to_event, EventContext, Formatter, KernelRecord, RecordStream};
use glassbox_probes_common::{DetailRecord, NamespaceRecord, ProcessRecord, RecordKind, SyscallRecord};
use libfuzzer_sys::fuzz_target;

/// The records of a batch: each as long as its tag's struct says.
fn records(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let tag = data.get(..4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        let len = match tag.and_then(RecordKind::from_tag) {
            Some(RecordKind::Syscall) => size_of::<SyscallRecord>(),
            Some(RecordKind::Fork | RecordKind::Exec | RecordKind::Exit) => size_of::<ProcessRecord>(),
            Some(RecordKind::Detail) => size_of::<DetailRecord>(),
            Some(RecordKind::Namespaces) => size_of::<NamespaceRecord>(),
            None => data.len(),
        };
        let (record, rest) = data.split_at(len.min(data.len()));
        data = rest;
        Some(record)
    })
}

thread_local! {
    /// Reads each syscall's argument names from tracefs once per process,
    /// as `glassbox trace` does.
    static FORMATTER: RefCell<Formatter> = RefCell::new(Formatter::default());
}

fuzz_target!(|data: &[u8]| {
    // CLOCK_REALTIME − CLOCK_MONOTONIC on a machine up for a few days of 2025.
    let ctx = EventContext { container: "fuzz".into(), wall_offset_ns: 1_764_000_000_000_000_000 };
    let mut fast = LineCache::new(&ctx.container);
    let mut stream = RecordStream::new();
    for (seq, bytes) in records(data).enumerate() {
        let Some(rec) = stream.push(bytes) else { continue };
        let event = to_event(&rec, seq as u64, &ctx);
        let line = to_line(&event);
        let back = from_line(&line).unwrap_or_else(|e| panic!("{line:?} does not read back: {e}"));
        assert_eq!(back, event, "the event changed on its way through {line:?}");
        if let KernelRecord::Syscall(call) = &rec {
            if fastline::fits(call) {
                let mut fast_line = Vec::new();
                fast.syscall(&mut fast_line, call, seq as u64, &ctx);
                assert_eq!(String::from_utf8_lossy(&fast_line), line, "the fast line is not to_line's");
            }
        }
        FORMATTER.with(|f| f.borrow_mut().line(&rec));
    }
});
