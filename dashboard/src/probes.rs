//! The eBPF probes the dashboard holds: loaded once at start with their
//! maps pinned ([`glassbox_probes::PinnedHub`]), so a runtime started with
//! `--trace` only registers with them. A thread of its own reads the ring
//! buffer: each kernel record goes into its container's events.jsonl (as
//! the runtime's own tracer would write it) and, as an Event, into the store
//! through [`Shared::take_events`], so the syscall trace is live.
//!
//! Its counters in /metrics: records the kernel lost (the ring was full),
//! kernel events taken, and syscalls by name. The probes held here run per
//! call (one record a syscall, which the store shows), not in aggregate
//! mode, so syscalls are counted by name from those records.
//!
//! Without the probes (`--no-probes`, or loading failed: no BTF, not root)
//! the dashboard runs on and `--trace` runtimes load probes of their own.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use glassbox_events::{Event, Kind};
use glassbox_probes::{HubError, HubNote, PinnedHub};
use prometheus::{IntCounter, IntCounterVec, Opts};

use crate::Shared;

/// The probes' counters, registered with the dashboard's /metrics.
#[derive(Clone)]
pub struct ProbeMetrics {
    pub records_lost: IntCounter,
    pub kernel_events: IntCounter,
    pub syscalls: IntCounterVec,
}

impl ProbeMetrics {
    pub fn new(shared: &Shared) -> ProbeMetrics {
        let records_lost = IntCounter::new(
            "glassbox_trace_records_lost_total",
            "Kernel records the dashboard's eBPF probes lost because their ring buffer was full",
        )
        .expect("metric");
        let kernel_events = IntCounter::new(
            "glassbox_kernel_events_total",
            "Kernel events (syscalls, forks, execs, exits) the dashboard's eBPF probes wrote into records",
        )
        .expect("metric");
        let syscalls = IntCounterVec::new(
            Opts::new(
                "glassbox_syscalls_total",
                "Syscalls of traced containers, by name (counted from per-call records)",
            ),
            &["syscall"],
        )
        .expect("metric");
        shared.metrics.register(Box::new(records_lost.clone()));
        shared.metrics.register(Box::new(kernel_events.clone()));
        shared.metrics.register(Box::new(syscalls.clone()));
        ProbeMetrics { records_lost, kernel_events, syscalls }
    }
}

/// The reader thread; [`Probes::stop`] (or dropping it, on any way out of
/// the dashboard) ends it and removes the pins, which would outlive the
/// process otherwise.
pub struct Probes {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Probes {
    /// Loads the probes, pins their maps in `pin_dir` and starts reading.
    pub fn start(shared: Shared, pin_dir: &Path, ring_bytes: u32) -> Result<Probes, HubError> {
        let hub = PinnedHub::start(pin_dir, ring_bytes)?;
        if let Some(why) = hub.namespaces_unavailable() {
            say(&format!("no namespaces events: {why}"));
        }
        say(&format!(
            "eBPF probes loaded, maps pinned in {} (ring buffer {} bytes); `--trace` runtimes register here",
            pin_dir.display(),
            hub.ring_bytes()
        ));
        let metrics = ProbeMetrics::new(&shared);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("probes".into())
            .spawn(move || read(hub, &shared, &metrics, &stopping))
            .expect("spawning the probes' reader");
        Ok(Probes { stop, thread: Some(thread) })
    }

    /// Stops reading; the pins (and the pin directory, if the dashboard made it) are gone on return.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read(mut hub: PinnedHub, shared: &Shared, metrics: &ProbeMetrics, stop: &AtomicBool) {
    // One counter handle per syscall number: the label lookup (a hash of the
    // name under a lock) is paid once per name, not once per call.
    let mut by_nr: HashMap<u32, IntCounter> = HashMap::new();
    let mut tap = |events: &[Event], lines: &[&str]| {
        metrics.kernel_events.inc_by(events.len() as u64);
        for event in events {
            if let Kind::Syscall { nr, name, .. } = &event.kind {
                by_nr.entry(*nr).or_insert_with(|| metrics.syscalls.with_label_values(&[name])).inc();
            }
        }
        // A batch under one lock, with the lines the record got: the line is not made again.
        shared.take_events(events, lines);
    };
    let mut lost_seen = 0;
    while !stop.load(Ordering::Relaxed) {
        let (_, notes) = hub.turn(None, &mut tap);
        let lost = hub.lost();
        metrics.records_lost.inc_by(lost.saturating_sub(lost_seen));
        lost_seen = lost_seen.max(lost);
        for note in notes {
            say(&match note {
                HubNote::Began { slot, container, runtime_pid, events_path } => format!(
                    "trace session {slot}: container {container} (runtime pid {runtime_pid}) → {}",
                    events_path.display()
                ),
                HubNote::Ended { slot, container, written, lost } => {
                    format!("trace session {slot} ended: container {container}, {written} kernel events, {lost} records lost")
                }
            });
        }
    }
    let open = hub.open_sessions();
    drop(hub);
    say(&format!("eBPF probes stopped; {open} trace sessions still open, pins removed"));
}

fn say(line: &str) {
    eprintln!("glassbox-dashboard: {line}");
}
