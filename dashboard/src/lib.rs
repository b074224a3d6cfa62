//! The hub: the one long-lived process every runtime on the host sends its
//! events to (`/run/glassbox/hub.sock`), and what it makes of them for the
//! people watching — a live web page, a JSON API (which the page, and the
//! terminal UI to come, read) and Prometheus metrics.
//!
//! Where the data comes from, in the order the dashboard starts:
//! 1. [`scan`]: what exists already — live containers and kept records
//!    under each state root — read from the files the runtime writes;
//! 2. [`ingest`]: every event a runtime sends from now on, over the hub
//!    socket (one SOCK_SEQPACKET message per event line);
//! 3. [`probes`]: the eBPF probes `--trace` runtimes register with, whose
//!    kernel records it writes into each container's record and takes too;
//! 4. [`cgroup`]: every second, each live container's cgroup (its
//!    `state.json`, [`state_file`], adds what events do not say);
//!
//! and where it goes: [`store`] keeps one [`store::ContainerView`] per
//! container, [`metrics`] counts ([`cadvisor`] in cAdvisor's names), [`api`]
//! serves them over HTTP, behind [`auth`]'s token when there is one; [`web`]
//! keeps each container's detail in bounded memory ([`detail`]), pushes
//! every event to the open pages ([`live`]) and serves the page itself.

pub mod api;
pub mod auth;
pub mod book;
pub mod cadvisor;
pub mod cgroup;
pub mod chrome_trace;
pub mod detail;
pub mod hub_group;
pub mod ingest;
pub mod kernel_api;
pub mod live;
pub mod metrics;
pub mod namespaces;
pub mod narrated;
pub mod probes;
pub mod replay;
pub mod roots;
pub mod scan;
pub mod state_file;
pub mod store;
pub mod web;

use std::sync::{Arc, Mutex};

/// What the ingest threads write and the HTTP handlers read.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<Mutex<store::Store>>,
    pub metrics: Arc<metrics::Metrics>,
    /// The web page's side: detail rings, the live stream, the book.
    pub web: web::WebState,
    /// Each container's cgroup samples and namespaces (cgroup/sampler.rs).
    pub cgroups: Arc<Mutex<cgroup::Book>>,
    /// Where state.json files are looked for.
    pub roots: Arc<roots::Roots>,
}

impl Shared {
    pub fn new() -> Shared {
        Shared::with_roots(roots::Roots::default())
    }

    pub fn with_roots(roots: roots::Roots) -> Shared {
        let shared = Shared {
            store: Arc::new(Mutex::new(store::Store::default())),
            metrics: Arc::new(metrics::Metrics::new()),
            cgroups: Arc::new(Mutex::new(cgroup::Book::default())),
            roots: Arc::new(roots),
            web: web::WebState::default(),
        };
        shared.metrics.register(Box::new(cadvisor::Cadvisor::new(shared.store.clone(), shared.cgroups.clone())));
        shared
    }

    /// One event line, from the socket or a file: into the store and the counters.
    pub fn take_line(&self, line: &str) {
        self.take_lines(&[line], &mut Vec::new());
    }

    /// Several lines at once — what one connection had waiting — taken
    /// under one lock of each part: with fifty runtimes sending at once, a
    /// lock per event is what the threads would spend their time on.
    /// `parsed`: the caller's scratch space, kept from batch to batch (a
    /// batch's worth of events allocated anew each time made glibc's malloc
    /// sort its free lists over and over).
    pub fn take_lines(&self, lines: &[&str], parsed: &mut Vec<glassbox_events::Event>) {
        parsed.clear();
        let mut received = Vec::with_capacity(lines.len());
        for line in lines {
            // Without its arguments: the store and the counters never read
            // them, and the web side keeps the line itself.
            match glassbox_events::from_line_head(line) {
                Ok(event) => {
                    parsed.push(event);
                    received.push(*line);
                }
                Err(_) => self.metrics.invalid_lines.inc(),
            }
        }
        self.take_events(parsed, &received);
        parsed.clear();
    }

    /// Events in the order they came — read from lines, or kernel records
    /// the hub's probes decoded — with the lines they were read from or
    /// written as, if any (the web side keeps those rather than making them
    /// again): counted, into the store, to the web side; then what some of
    /// them ask for (a state.json to read, a last cgroup sample), outside
    /// every lock.
    pub fn take_events(&self, events: &[glassbox_events::Event], received: &[&str]) {
        use glassbox_events::{Kind, Outcome, Stage};
        if events.is_empty() {
            return;
        }
        let mut store = self.store.lock().expect("store lock");
        for event in events {
            self.metrics.observe(event);
            store.apply(event);
            if let Kind::StageEnd { outcome: Outcome::Failed, .. } = &event.kind {
                if store.create_failed_first(&event.container) {
                    self.metrics.containers_created.with_label_values(&["failed"]).inc();
                }
            }
        }
        drop(store);
        self.web.take_events(events, received);
        for event in events {
            match &event.kind {
                Kind::Status { status } if status == "created" => self.read_state_file(&event.container),
                // The init has exited: a last look at its cgroup before `run` removes it.
                Kind::StageBegin { stage: Stage::Exit } => cgroup::sample_now(self, &event.container),
                _ => {}
            }
        }
    }

    /// The container's state.json, under whichever root holds it (the
    /// runtime writes it just before it reports `created`).
    pub fn read_state_file(&self, id: &str) {
        if let Some(state) = state_file::find(&self.roots.dirs(), id) {
            self.store.lock().expect("store lock").set_state(&state);
        }
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}
