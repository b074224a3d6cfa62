//! The sampling loop: once a second, every container the store knows with
//! an init (pid > 0) that is not deleted gets one [`Sample`](super::Sample)
//! of its cgroup. A thread of its own, reading only cgroupfs and /proc:
//! nothing here talks to a runtime or holds a lock a runtime waits on, so
//! the runtimes are never slowed by it.
//!
//! A container's directories are found once, from its init's
//! `/proc/<pid>/cgroup`, while it is created or running — and, when its
//! `state.json` says when that init started, only if the process with that
//! pid is still the same one (pids are reused). From then on its cgroup is
//! read until it is gone (delete removes it), so the sample after an init's
//! own OOM kill is still taken when the directory outlives the process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::hierarchy::{self, Dirs, Layout};
use super::{read_sample, Series};
use crate::{namespaces, state_file, Shared};

pub const PERIOD: Duration = Duration::from_secs(1);

/// One container being sampled.
struct Tracked {
    pid: i32,
    dirs: Dirs,
}

/// The sampler's memory between ticks.
#[derive(Default)]
pub struct Sampler {
    layout: Layout,
    /// Told of each container found, to watch its trouble counters.
    notifier: Option<std::sync::Arc<super::notify::Notifier>>,
    tracked: HashMap<String, Tracked>,
    /// (id, pid) whose cgroup is gone, or that has none: not looked for again.
    finished: HashMap<String, i32>,
}

/// Start the loop on a thread of its own.
pub fn spawn(shared: Shared) {
    let mut sampler = Sampler::new(Layout::of_host());
    sampler.notifier = super::notify::spawn(shared.clone());
    let started = std::thread::Builder::new().name("cgroup-sampler".into()).spawn(move || loop {
        sampler.tick(&shared);
        std::thread::sleep(PERIOD);
    });
    if let Err(e) = started {
        eprintln!("glassbox-dashboard: no cgroup sampler: {e}");
    }
}

impl Sampler {
    pub fn new(layout: Layout) -> Sampler {
        Sampler { layout, ..Sampler::default() }
    }

    /// One round: find new containers' cgroups, read every tracked one.
    pub fn tick(&mut self, shared: &Shared) {
        let containers = shared.store.lock().expect("store lock").with_init();
        let roots: Vec<PathBuf> = shared.roots.dirs();
        for (id, pid, status) in containers {
            if status == "deleted" {
                self.stop(shared, &id);
                continue;
            }
            let known = self.tracked.get(&id).is_some_and(|t| t.pid == pid);
            if !known
                && self.finished.get(&id) != Some(&pid)
                && matches!(status.as_str(), "created" | "running" | "paused")
            {
                self.start(shared, &id, pid, &roots);
            }
            let Some(tracked) = self.tracked.get(&id) else { continue };
            match read_sample(&tracked.dirs, self.layout.version() == "v2") {
                Some(sample) => {
                    let mut book = shared.cgroups.lock().expect("cgroup lock");
                    if let Some(series) = book.series.get_mut(&id) {
                        series.push(sample);
                    }
                }
                None => self.stop(shared, &id),
            }
        }
        shared.cgroups.lock().expect("cgroup lock").prune(super::series::MAX_GONE);
    }

    /// Find `id`'s directories from its init, start its series and note its namespaces.
    fn start(&mut self, shared: &Shared, id: &str, pid: i32, roots: &[PathBuf]) {
        if let Some(state) = state_file::find(roots, id).filter(|s| s.pid == pid && s.pid_start_time > 0) {
            if start_time(pid) != Some(state.pid_start_time) {
                self.finished.insert(id.to_string(), pid);
                return;
            }
        }
        let Some(text) = hierarchy::of_process(pid) else { return };
        let dirs = self.layout.dirs(&text);
        if dirs.memory.is_none() {
            // No cgroup of its own that we can read (rootless without delegation).
            self.finished.insert(id.to_string(), pid);
            return;
        }
        let inodes = namespaces::of_process(pid);
        let mut book = shared.cgroups.lock().expect("cgroup lock");
        let mut series = Series::new(self.layout.version(), dirs.path.clone(), pid);
        series.dirs = dirs.clone();
        book.series.insert(id.to_string(), series);
        book.namespaces.insert(id.to_string(), inodes);
        drop(book);
        if let Some(notifier) = &self.notifier {
            notifier.watch(id, &dirs, self.layout.version() == "v2");
        }
        self.tracked.insert(id.to_string(), Tracked { pid, dirs });
    }

    fn stop(&mut self, shared: &Shared, id: &str) {
        if let Some(t) = self.tracked.remove(id) {
            self.finished.insert(id.to_string(), t.pid);
            if let Some(series) = shared.cgroups.lock().expect("cgroup lock").series.get_mut(id) {
                series.live = false;
            }
        }
    }
}

/// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks
/// since boot (after the command name, which may hold spaces and parentheses).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp dir stands in for a v2 cgroupfs mounted at its root; this
    /// test process stands in for the container's init (its own
    /// /proc/self/cgroup line `0::/…` is mapped under the temp dir).
    #[test]
    fn a_tick_samples_a_live_container_marks_its_oom_kill_and_stops_when_its_cgroup_is_gone() {
        let fs = tempfile::tempdir().unwrap();
        let layout = Layout {
            v1: Vec::new(),
            unified: Some(hierarchy::Mount {
                controllers: Default::default(),
                root: "/".into(),
                mount_point: fs.path().to_path_buf(),
            }),
        };
        let me = std::process::id() as i32;
        let own = hierarchy::of_process(me).unwrap();
        let path = own.lines().find_map(|l| l.strip_prefix("0::")).expect("a cgroup2 line").to_string();
        let dir = layout.dirs(&own).memory.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("memory.current", "4096\n");
        write("memory.max", "8192\n");
        write("memory.events", "max 0\noom_kill 0\n");

        let shared = Shared::new();
        let line = |seq: u64, status: &str| {
            format!(
                r#"{{"v":1,"seq":{seq},"ts_ns":{seq},"wall":"2026-12-07T00:00:00.000000000Z","container":"c","pid":{me},"source":"runtime","type":"status","status":"{status}"}}"#
            )
        };
        shared.take_line(&line(1, "created"));
        shared.take_line(&line(2, "running"));
        let mut sampler = Sampler::new(layout);
        sampler.tick(&shared);
        write("memory.events", "max 3\noom_kill 1\n");
        sampler.tick(&shared);
        {
            let book = shared.cgroups.lock().unwrap();
            let series = &book.series["c"];
            assert_eq!((series.version, series.path.as_str(), series.samples.len()), ("v2", path.as_str(), 2));
            assert_eq!(series.samples[1].memory.limit, Some(8192));
            assert_eq!(series.markers.len(), 1, "{:?}", series.markers);
            assert_eq!(series.markers[0].ts_ns, series.samples[1].ts_ns);
            assert!(!book.namespaces["c"].is_empty(), "its namespaces were noted");
        }
        // delete removes the cgroup: the samples stay, the series is no longer live.
        std::fs::remove_file(dir.join("memory.current")).unwrap();
        sampler.tick(&shared);
        sampler.tick(&shared);
        let book = shared.cgroups.lock().unwrap();
        assert_eq!((book.series["c"].live, book.series["c"].samples.len()), (false, 2));
    }

    #[test]
    fn this_process_start_time_is_read_past_its_name() {
        assert!(start_time(std::process::id() as i32).is_some());
        assert_eq!(start_time(-1), None);
    }
}
