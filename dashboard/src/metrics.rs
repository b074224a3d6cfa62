//! `/metrics` for Prometheus (the `prometheus` crate's registry and text
//! format). glassbox's own series, named `glassbox_*`: stage durations as a
//! histogram by stage, failed stages, containers created by result, events
//! taken and lost. The cgroup series, in cAdvisor's names, are cadvisor.rs's
//! collector, registered here.

use glassbox_events::{Event, Kind, Outcome};
use prometheus::{Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

pub struct Metrics {
    registry: Registry,
    pub events_received: IntCounter,
    pub invalid_lines: IntCounter,
    pub events_dropped: IntCounter,
    pub stage_seconds: HistogramVec,
    /// By `result`: `created`, or `failed` (a create that ended at a failed stage).
    pub containers_created: IntCounterVec,
    pub stage_failures: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let events_received =
            IntCounter::new("glassbox_events_received_total", "Events the hub took, from its socket or from records")
                .expect("metric");
        let invalid_lines =
            IntCounter::new("glassbox_event_lines_invalid_total", "Lines that were not events of schema v1")
                .expect("metric");
        let events_dropped = IntCounter::new(
            "glassbox_events_dropped_total",
            "Events runtimes could not hand to the hub (their `dropped` events)",
        )
        .expect("metric");
        // A stage takes from a few µs (hostname) to tens of ms (a slow hook).
        let buckets = prometheus::exponential_buckets(0.000_01, 4.0, 10).expect("buckets");
        let stage_seconds = HistogramVec::new(
            HistogramOpts::new("glassbox_stage_duration_seconds", "How long each stage of making a container took")
                .buckets(buckets),
            &["stage"],
        )
        .expect("metric");
        let containers_created = IntCounterVec::new(
            Opts::new("glassbox_containers_created_total", "Container creates, by result: created, or failed"),
            &["result"],
        )
        .expect("metric");
        let stage_failures = IntCounterVec::new(
            Opts::new("glassbox_stage_failures_total", "Stages that ended failed (a create or exec that failed there)"),
            &["stage"],
        )
        .expect("metric");
        for c in [&events_received, &invalid_lines, &events_dropped] {
            registry.register(Box::new(c.clone())).expect("register");
        }
        registry.register(Box::new(containers_created.clone())).expect("register");
        registry.register(Box::new(stage_seconds.clone())).expect("register");
        registry.register(Box::new(stage_failures.clone())).expect("register");
        Metrics {
            registry,
            events_received,
            invalid_lines,
            events_dropped,
            stage_seconds,
            containers_created,
            stage_failures,
        }
    }

    pub fn observe(&self, event: &Event) {
        self.events_received.inc();
        match &event.kind {
            Kind::StageEnd { stage, duration_ns, .. } => {
                let h: Histogram = self.stage_seconds.with_label_values(&[stage.name()]);
                h.observe(*duration_ns as f64 / 1e9);
            }
            Kind::Status { status } if status == "created" => {
                self.containers_created.with_label_values(&["created"]).inc()
            }
            Kind::Dropped { count, .. } => self.events_dropped.inc_by(*count),
            _ => {}
        }
        if let Kind::StageEnd { stage, outcome: Outcome::Failed, .. } = &event.kind {
            self.stage_failures.with_label_values(&[stage.name()]).inc();
        }
    }

    /// Another collector's series in the same scrape (cadvisor.rs, the probes' counters).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry.register(collector).expect("register a collector");
    }

    /// The text format Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).expect("utf-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
