//! The last samples of each container's cgroup, and the markers: the
//! moments a counter that means trouble went up (an OOM kill, a refused
//! fork). Bounded, so a dashboard left running for weeks holds the same
//! memory as one started a minute ago; kept after the container stops, so
//! its last minutes can still be looked at.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::Sample;

/// Ten minutes at one sample a second.
pub const MAX_SAMPLES: usize = 600;
pub const MAX_MARKERS: usize = 200;

/// One container's cgroup over time: what `GET /api/containers/{id}/cgroup` returns.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    /// The host's layout: "v1", "v2" or "hybrid".
    pub version: &'static str,
    /// The cgroup path, as /proc/<pid>/cgroup names it.
    pub path: String,
    pub samples: VecDeque<Sample>,
    pub markers: Vec<Marker>,
    /// Still sampled (false once its cgroup is gone).
    pub live: bool,
    /// The init whose cgroup this is: a new pid under the same id is a new container.
    #[serde(skip)]
    pub pid: i32,
    /// Where its files are, for a sample taken out of turn ([`super::sample_now`]).
    #[serde(skip)]
    pub dirs: super::hierarchy::Dirs,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    /// The sample that saw the counter go up.
    pub ts_ns: u64,
    pub t_ms: u64,
    /// The sample before it (0 if none): the event happened between
    /// `after_ns` and `ts_ns`, the window in which to look for the trace
    /// line that shows it (the process SIGKILLed, the clone that got EAGAIN).
    pub after_ns: u64,
    /// `oom_kill` or `fork_refused`.
    pub kind: &'static str,
    pub detail: String,
}

impl Series {
    pub fn new(version: &'static str, path: String, pid: i32) -> Series {
        Series { version, path, live: true, pid, ..Series::default() }
    }

    /// Add a sample, with a marker for each trouble counter that went up
    /// since the last one (from 0 for the first: a new cgroup starts at 0,
    /// so an OOM kill before the first sample is still marked).
    pub fn push(&mut self, sample: Sample) {
        if self.samples.back().is_some_and(|last| last.ts_ns > sample.ts_ns) {
            // Read before the one out of turn that was pushed first: the
            // series stays in time order.
            return;
        }
        let (oom_before, refused_before) =
            self.samples.back().map(|s| (s.memory.oom_kills, s.pids.refused)).unwrap_or((0, 0));
        if sample.memory.oom_kills > oom_before {
            let n = sample.memory.oom_kills - oom_before;
            let limit = sample.memory.limit.map(|l| format!("{l} bytes")).unwrap_or_else(|| "none".into());
            self.mark(
                &sample,
                "oom_kill",
                format!(
                    "the OOM killer ended {n} process{} in {} (memory limit {limit}; oom_kill {oom_before} → {})",
                    if n == 1 { "" } else { "es" },
                    self.path,
                    sample.memory.oom_kills
                ),
            );
        }
        if sample.pids.refused > refused_before {
            let n = sample.pids.refused - refused_before;
            let max = sample.pids.max.map(|m| m.to_string()).unwrap_or_else(|| "max".into());
            self.mark(
                &sample,
                "fork_refused",
                format!(
                "{n} fork{} refused with EAGAIN: pids.max {max} reached in {} (pids.events max {refused_before} → {})",
                if n == 1 { "" } else { "s" },
                self.path,
                sample.pids.refused
            ),
            );
        }
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    fn mark(&mut self, at: &Sample, kind: &'static str, detail: String) {
        if self.markers.len() == MAX_MARKERS {
            self.markers.remove(0);
        }
        let after_ns = self.samples.back().map_or(0, |s| s.ts_ns);
        self.markers.push(Marker { ts_ns: at.ts_ns, t_ms: at.t_ms, after_ns, kind, detail });
    }

    pub fn last(&self) -> Option<&Sample> {
        self.samples.back()
    }
}

/// Every container's series and namespaces, by id.
#[derive(Debug, Default)]
pub struct Book {
    pub series: BTreeMap<String, Series>,
    pub namespaces: BTreeMap<String, crate::namespaces::Inodes>,
}

/// Series of containers that are gone, kept for their charts: the newest
/// this many (each holds up to [`MAX_SAMPLES`] samples, ~100 KiB).
pub const MAX_GONE: usize = 100;

impl Book {
    /// Forget the oldest gone containers beyond `keep`, so a dashboard
    /// that watches thousands of short containers stays small.
    pub fn prune(&mut self, keep: usize) {
        let mut gone: Vec<(u64, String)> = self
            .series
            .iter()
            .filter(|(_, s)| !s.live)
            .map(|(id, s)| (s.last().map_or(0, |l| l.ts_ns), id.clone()))
            .collect();
        if gone.len() <= keep {
            return;
        }
        gone.sort();
        for (_, id) in &gone[..gone.len() - keep] {
            self.series.remove(id);
            self.namespaces.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ts_ns: u64, oom_kills: u64, refused: u64) -> Sample {
        let mut s = Sample { ts_ns, t_ms: ts_ns / 1_000_000, ..Sample::default() };
        s.memory.oom_kills = oom_kills;
        s.memory.limit = Some(1 << 25);
        s.pids.refused = refused;
        s.pids.max = Some(5);
        s
    }

    #[test]
    fn counters_going_up_are_marked_and_the_series_stays_bounded() {
        let mut series = Series::new("hybrid", "/glassbox/c".into(), 9);
        series.push(sample(1, 1, 0));
        series.push(sample(2, 1, 0));
        series.push(sample(3, 1, 2));
        assert_eq!(series.markers.len(), 2, "{:?}", series.markers);
        assert_eq!((series.markers[0].kind, series.markers[0].ts_ns), ("oom_kill", 1));
        assert!(series.markers[0].detail.contains("oom_kill 0 → 1"), "{}", series.markers[0].detail);
        assert_eq!(
            (series.markers[1].kind, series.markers[1].ts_ns, series.markers[1].after_ns),
            ("fork_refused", 3, 2)
        );
        assert_eq!(series.markers[0].after_ns, 0, "no sample before the first");
        assert!(series.markers[1].detail.contains("2 forks refused"), "{}", series.markers[1].detail);
        for t in 4..(MAX_SAMPLES as u64 + 10) {
            series.push(sample(t, 1, 2));
        }
        assert_eq!(series.samples.len(), MAX_SAMPLES);
        assert_eq!(series.samples[0].ts_ns, 10);
        let json = serde_json::to_value(&series).unwrap();
        for key in ["version", "path", "samples", "markers"] {
            assert!(json.get(key).is_some(), "{key} missing: {json}");
        }
        assert_eq!(json["samples"][0]["memory"]["limit"], 1 << 25);
        assert_eq!(json["samples"][0]["psi"], serde_json::Value::Null);
    }

    #[test]
    fn only_the_newest_gone_series_are_kept() {
        let mut book = Book::default();
        for (i, live) in [(1, false), (2, true), (3, false), (4, false)] {
            let mut series = Series::new("v1", format!("/c{i}"), i);
            series.push(sample(i as u64 * 10, 0, 0));
            series.live = live;
            book.series.insert(format!("c{i}"), series);
            book.namespaces.insert(format!("c{i}"), vec![("net", 1)]);
        }
        book.prune(1);
        assert_eq!(book.series.keys().collect::<Vec<_>>(), ["c2", "c4"], "the live one and the newest gone one");
        assert_eq!(book.namespaces.len(), 2);
    }
}
