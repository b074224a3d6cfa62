//! cAdvisor's metric names and labels for each container's cgroup, so the
//! Grafana dashboards and alerts written for cAdvisor and the kubelet
//! (`container_memory_working_set_bytes`, `container_oom_events_total`, …)
//! work on glassbox's containers unchanged.
//!
//! Labels, as the kubelet's cAdvisor sets them: `id` (the cgroup path),
//! `name` (here the container id), `image`, and `container`, `pod`,
//! `namespace` — the Kubernetes names from containerd's CRI annotations,
//! empty for a container made outside Kubernetes (Prometheus treats an
//! empty label as no label, so `{container!=""}` selects pods' containers,
//! as on a kubelet).
//!
//! The families are built at each scrape from the latest sample of every
//! container still sampled (a Prometheus `Collector`), rather than kept in
//! gauges updated by the sampler: a container whose cgroup is gone leaves
//! no stale series behind, with nothing to remove.

use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, GaugeVec, Opts};

use crate::cgroup::{Book, Sample};
use crate::store::Store;

pub const LABELS: [&str; 6] = ["id", "name", "image", "container", "pod", "namespace"];

/// What a family's value is, read from a sample and the container's start time.
type Value = fn(&Sample, Option<f64>) -> Option<f64>;

/// (name, help, counter?, value): cAdvisor's names and meanings, in help texts of
/// our own that say which cgroup file each number comes from.
const FAMILIES: &[(&str, &str, bool, Value)] = &[
    (
        "container_cpu_usage_seconds_total",
        "CPU time the container's processes used, user and system (cpuacct.usage, cpu.stat usage_usec)",
        true,
        |s, _| Some(s.cpu.usage_ns as f64 / 1e9),
    ),
    (
        "container_cpu_cfs_periods_total",
        "CFS periods that went by while the container had runnable tasks (cpu.stat nr_periods)",
        true,
        |s, _| Some(s.cpu.periods as f64),
    ),
    (
        "container_cpu_cfs_throttled_periods_total",
        "CFS periods in which the container used up its quota and waited (cpu.stat nr_throttled)",
        true,
        |s, _| Some(s.cpu.throttled_periods as f64),
    ),
    (
        "container_cpu_cfs_throttled_seconds_total",
        "Time the container's tasks spent waiting for the next period (cpu.stat throttled time)",
        true,
        |s, _| Some(s.cpu.throttled_ns as f64 / 1e9),
    ),
    ("container_spec_cpu_quota", "CPU quota of the container (µs per period)", false, |s, _| {
        s.cpu.quota_us.map(|q| q as f64)
    }),
    ("container_spec_cpu_period", "CPU period of the container (µs)", false, |s, _| {
        (s.cpu.period_us > 0).then_some(s.cpu.period_us as f64)
    }),
    (
        "container_memory_usage_bytes",
        "Memory charged to the cgroup now, page cache included (memory.usage_in_bytes, memory.current)",
        false,
        |s, _| Some(s.memory.usage as f64),
    ),
    ("container_memory_working_set_bytes", "Current working set (usage minus inactive file pages)", false, |s, _| {
        Some(s.memory.working_set as f64)
    }),
    ("container_spec_memory_limit_bytes", "Memory limit for the container (0: none)", false, |s, _| {
        Some(s.memory.limit.unwrap_or(0) as f64)
    }),
    // A counter in cAdvisor, typed gauge here: `promtool check metrics`
    // wants every counter's name to end in _total, and PromQL's rate() and
    // increase() read it the same either way.
    (
        "container_memory_failcnt",
        "Times the cgroup's usage reached its limit (v1 memory.failcnt; v2 memory.events max)",
        false,
        |s, _| s.memory.failcnt.map(|n| n as f64),
    ),
    (
        "container_oom_events_total",
        "Processes the OOM killer ended in the cgroup (oom_kill of memory.oom_control or memory.events)",
        true,
        |s, _| Some(s.memory.oom_kills as f64),
    ),
    ("container_processes", "Processes (thread-group leaders) in the cgroup now", false, |s, _| {
        Some(s.processes as f64)
    }),
    ("container_threads", "Tasks in the cgroup now (pids.current)", false, |s, _| Some(s.pids.current as f64)),
    ("container_threads_max", "The cgroup's pids.max (0: no limit)", false, |s, _| s.pids.max.map(|m| m as f64)),
    (
        "container_start_time_seconds",
        "When the container was created (state.json), in seconds since 1970",
        false,
        |_, start| start,
    ),
    (
        "container_pressure_cpu_waiting_seconds_total",
        "PSI: time at least one task of the cgroup was runnable but not running (cpu.pressure some)",
        true,
        |s, _| s.psi.as_ref().map(|p| p.cpu_some_total_us as f64 / 1e6),
    ),
    (
        "container_pressure_cpu_stalled_seconds_total",
        "PSI: time every non-idle task of the cgroup waited for a CPU (cpu.pressure full)",
        true,
        |s, _| s.psi.as_ref().map(|p| p.cpu_full_total_us as f64 / 1e6),
    ),
    (
        "container_pressure_memory_waiting_seconds_total",
        "PSI: time at least one task of the cgroup stalled on memory (memory.pressure some)",
        true,
        |s, _| s.psi.as_ref().map(|p| p.memory_some_total_us as f64 / 1e6),
    ),
    (
        "container_pressure_memory_stalled_seconds_total",
        "PSI: time every non-idle task of the cgroup stalled on memory (memory.pressure full)",
        true,
        |s, _| s.psi.as_ref().map(|p| p.memory_full_total_us as f64 / 1e6),
    ),
    (
        "container_pressure_io_waiting_seconds_total",
        "PSI: time at least one task of the cgroup stalled on I/O (io.pressure some)",
        true,
        |s, _| s.psi.as_ref().map(|p| p.io_some_total_us as f64 / 1e6),
    ),
    (
        "container_pressure_io_stalled_seconds_total",
        "PSI: time every non-idle task of the cgroup stalled on I/O (io.pressure full)",
        true,
        |s, _| s.psi.as_ref().map(|p| p.io_full_total_us as f64 / 1e6),
    ),
];

enum Family {
    Counter(CounterVec),
    Gauge(GaugeVec),
}

fn families() -> Vec<Family> {
    FAMILIES
        .iter()
        .map(|(name, help, counter, _)| {
            let opts = Opts::new(*name, *help);
            match counter {
                true => Family::Counter(CounterVec::new(opts, &LABELS).expect("metric")),
                false => Family::Gauge(GaugeVec::new(opts, &LABELS).expect("metric")),
            }
        })
        .collect()
}

/// The collector `/metrics` asks at each scrape.
pub struct Cadvisor {
    store: Arc<Mutex<Store>>,
    book: Arc<Mutex<Book>>,
    /// Empty families, for their descriptions (the registry checks names once).
    prototypes: Vec<Family>,
}

impl Cadvisor {
    pub fn new(store: Arc<Mutex<Store>>, book: Arc<Mutex<Book>>) -> Cadvisor {
        Cadvisor { store, book, prototypes: families() }
    }
}

impl Collector for Cadvisor {
    fn desc(&self) -> Vec<&Desc> {
        self.prototypes
            .iter()
            .flat_map(|f| match f {
                Family::Counter(c) => c.desc(),
                Family::Gauge(g) => g.desc(),
            })
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // The latest sample of every container still sampled, with its labels.
        let latest: Vec<(String, String, Sample)> = {
            let book = self.book.lock().expect("cgroup lock");
            book.series
                .iter()
                .filter(|(_, s)| s.live)
                .filter_map(|(id, s)| Some((id.clone(), s.path.clone(), s.last()?.clone())))
                .collect()
        };
        let families = families();
        let store = self.store.lock().expect("store lock");
        for (id, path, sample) in &latest {
            let view = store.get_ref(id);
            let k8s = view.and_then(|v| v.kubernetes.clone()).unwrap_or_default();
            let image = view.and_then(|v| v.annotations.get("io.kubernetes.cri.image-name")).map(String::as_str);
            let labels = [path.as_str(), id, image.unwrap_or(""), &k8s.container, &k8s.pod, &k8s.namespace];
            let start = view.and_then(|v| unix_seconds(&v.created));
            for (family, (_, _, _, value)) in families.iter().zip(FAMILIES) {
                let Some(v) = value(sample, start) else { continue };
                match family {
                    Family::Counter(c) => c.with_label_values(&labels).inc_by(v),
                    Family::Gauge(g) => g.with_label_values(&labels).set(v),
                }
            }
        }
        drop(store);
        families
            .iter()
            .flat_map(|f| match f {
                Family::Counter(c) => c.collect(),
                Family::Gauge(g) => g.collect(),
            })
            .filter(|f| !f.get_metric().is_empty())
            .collect()
    }
}

/// RFC 3339 (`2026-12-07T21:34:37.123456789Z`, as state.json's `created`) → unix seconds.
pub fn unix_seconds(rfc3339: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339).ok().map(|t| t.timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Series;

    #[test]
    fn live_containers_get_cadvisor_series_and_gone_ones_none() {
        let shared = crate::Shared::new();
        let state = crate::state_file::StateFile {
            id: "web".into(),
            pid: 5,
            created: "2026-12-07T00:00:01.5Z".into(),
            annotations: [
                ("io.kubernetes.cri.sandbox-name".to_string(), "shop-0".to_string()),
                ("io.kubernetes.cri.sandbox-namespace".to_string(), "prod".to_string()),
                ("io.kubernetes.cri.container-name".to_string(), "nginx".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        shared.store.lock().unwrap().set_state(&state);
        let mut series = Series::new("hybrid", "/glassbox/web".into(), 5);
        let mut sample = Sample::default();
        sample.memory.limit = Some(33554432);
        sample.memory.oom_kills = 2;
        sample.cpu.usage_ns = 1_500_000_000;
        series.push(sample);
        let mut gone = Series::new("hybrid", "/glassbox/gone".into(), 6);
        gone.push(Sample::default());
        gone.live = false;
        shared.cgroups.lock().unwrap().series.insert("web".into(), series);
        shared.cgroups.lock().unwrap().series.insert("gone".into(), gone);

        let text = shared.metrics.render();
        let labels = r#"{container="nginx",id="/glassbox/web",image="",name="web",namespace="prod",pod="shop-0"}"#;
        for line in [
            format!("container_spec_memory_limit_bytes{labels} 33554432"),
            format!("container_oom_events_total{labels} 2"),
            format!("container_cpu_usage_seconds_total{labels} 1.5"),
            format!("container_start_time_seconds{labels} 1796601601.5"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("container_spec_cpu_quota"), "no quota, no series: {text}");
        assert!(!text.contains("gone"), "a container whose cgroup is gone has no series: {text}");
        assert!(text.contains("# TYPE container_oom_events_total counter"), "{text}");
    }
}
