//! The hub: the one long-lived process every runtime on the host sends its
//! events to (`/run/glassbox/hub.sock`), and what it makes of them for the
//! people watching — a JSON API and Prometheus metrics today; the web page
//! and the terminal UI read the same API.
//!
//! Where the data comes from, in the order the dashboard starts:
//! 1. [`scan`]: what exists already — live containers and kept records
//!    under each state root — read from the files the runtime writes;
//! 2. [`ingest`]: every event a runtime sends from now on, over the hub
//!    socket (one SOCK_SEQPACKET message per event line);
//! 3. [`probes`]: the eBPF probes `--trace` runtimes register with, whose
//!    kernel records it writes into each container's record and takes too;
//!
//! and where it goes: [`store`] keeps one [`store::ContainerView`] per
//! container, [`metrics`] counts, [`api`] serves both over HTTP.

pub mod api;
pub mod ingest;
pub mod metrics;
pub mod probes;
pub mod scan;
pub mod store;

use std::sync::{Arc, Mutex};

/// What the ingest threads write and the HTTP handlers read.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<Mutex<store::Store>>,
    pub metrics: Arc<metrics::Metrics>,
}

impl Shared {
    pub fn new() -> Shared {
        Shared { store: Arc::new(Mutex::new(store::Store::default())), metrics: Arc::new(metrics::Metrics::new()) }
    }

    /// One event line, from the socket or a file: into the store and the counters.
    pub fn take_line(&self, line: &str) {
        match glassbox_events::from_line(line) {
            Ok(event) => self.take_event(&event),
            Err(_) => self.metrics.invalid_lines.inc(),
        }
    }

    /// One event, whoever read it: a runtime's line, or a kernel record
    /// the hub's own probes decoded.
    pub fn take_event(&self, event: &glassbox_events::Event) {
        self.metrics.observe(event);
        self.store.lock().expect("store lock").apply(event);
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}
