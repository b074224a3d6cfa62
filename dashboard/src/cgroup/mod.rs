//! What each container's cgroup counts, sampled every second from cgroupfs
//! on v1, hybrid and v2 hosts: the data of the dashboard's cgroup panels,
//! of `GET /api/containers/{id}/cgroup`, and of the cAdvisor-named series
//! in `/metrics`.
//!
//! Some numbers need a word:
//! - **working set** = memory usage − inactive file pages. The usage counts
//!   the page cache too, and file pages nobody touched lately are the first
//!   the kernel drops under pressure, without killing anyone; what is left is
//!   what the container needs to keep running. It is the number the OOM
//!   killer's decisions and Kubernetes' evictions track, so it is the
//!   number to watch against the limit (cAdvisor computes it the same way).
//! - **throttled periods**: with a CPU quota (`quota` µs of CPU per `period`
//!   µs, the CFS bandwidth controller), every period in which the container
//!   used up its quota and had to wait for the next one is counted. Many
//!   throttled periods with low average CPU use is the classic sign of a
//!   quota too small for bursts: latency, not CPU, suffers.
//! - **oom_kills** and **pids refused** are counters; the moment one goes up
//!   is kept as a *marker* (within milliseconds where the kernel notifies,
//!   else at the next one-second sample), so a chart can show when a
//!   process was OOM-killed or a fork got EAGAIN.
//!
//! [`hierarchy`] finds the directories, [`v1`], [`v2`] and [`psi`] read
//! them, [`series`] keeps the last samples and markers, [`sampler`] runs
//! the loop, and [`notify`] takes a sample out of turn the moment the
//! kernel says an OOM kill or a refused fork was counted.

pub mod hierarchy;
pub mod notify;
pub mod psi;
pub mod sampler;
pub mod series;
pub mod v1;
pub mod v2;

use std::path::Path;

use serde::Serialize;

pub use series::{Book, Marker, Series};

/// One reading of a container's cgroup. The field names are the API's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sample {
    /// CLOCK_MONOTONIC, the events' clock: samples and stages share an axis.
    pub ts_ns: u64,
    /// Unix time in ms, for people and for charts in wall-clock time.
    pub t_ms: u64,
    pub memory: Memory,
    pub cpu: Cpu,
    pub pids: Pids,
    pub io: Io,
    /// None where the kernel or the layout has no pressure files.
    pub psi: Option<psi::Psi>,
    /// Processes in the cgroup (cgroup.procs), as cAdvisor's container_processes.
    pub processes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Memory {
    pub usage: u64,
    pub working_set: u64,
    pub limit: Option<u64>,
    pub failcnt: Option<u64>,
    pub oom_kills: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cpu {
    pub usage_ns: u64,
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
    pub quota_us: Option<i64>,
    pub period_us: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pids {
    pub current: u64,
    pub max: Option<u64>,
    /// pids.events `max`: forks refused because pids.max was reached.
    pub refused: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Io {
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// Read every controller of `dirs` once; None when the cgroup is gone (its
/// memory directory, or on v2 its one directory, no longer readable).
pub fn read_sample(dirs: &hierarchy::Dirs, v2: bool) -> Option<Sample> {
    let memory_dir = dirs.memory.as_deref()?;
    let memory = if v2 { v2::memory(memory_dir)? } else { v1::memory(memory_dir)? };
    let cpu = match (v2, dirs.cpu.as_deref()) {
        (true, Some(dir)) => v2::cpu(dir),
        _ => v1::cpu(dirs.cpu.as_deref(), dirs.cpuacct.as_deref()),
    };
    let io = match (v2, dirs.blkio.as_deref()) {
        (true, Some(dir)) => v2::io(dir),
        (false, Some(dir)) => v1::io(dir),
        _ => Io::default(),
    };
    let pids = dirs.pids.as_deref().map(v1::pids).unwrap_or_default();
    let processes = read(dirs.pids.as_deref().unwrap_or(memory_dir), "cgroup.procs")
        .map(|t| t.lines().filter(|l| !l.is_empty()).count() as u64)
        .unwrap_or(0);
    let (ts_ns, t_ms) = now();
    Some(Sample { ts_ns, t_ms, memory, cpu, pids, io, psi: dirs.unified.as_deref().and_then(psi::read_dir), processes })
}

/// One sample of `id` now, out of the sampler's turn: when its runtime
/// reports that the init has exited, the cgroup may be about to go (`run`
/// deletes it at once), and this last look is what catches an OOM kill
/// that ended the init. A container the sampler has not met yet (it ran for
/// less than a second) is found by state.json's cgroup path; its series is
/// kept but not live, as the container is ending. Called from the ingest
/// thread, which no runtime waits on.
pub fn sample_now(shared: &crate::Shared, id: &str) {
    sample_until_moved(shared, id, 1, std::time::Duration::ZERO);
}

/// Read `id`'s cgroup up to `tries` times, `pause` apart, until its OOM
/// kills or refused forks differ from the last sample's (or the cgroup is
/// gone), and keep the last reading: one sample, not one per try.
pub fn sample_until_moved(shared: &crate::Shared, id: &str, tries: u32, pause: std::time::Duration) {
    let known = shared
        .cgroups
        .lock()
        .expect("cgroup lock")
        .series
        .get(id)
        .map(|s| (s.dirs.clone(), s.version, s.live, s.last().map(counters)));
    let (dirs, version, live, before) = match known {
        Some(known) => known,
        None => {
            let Some(state) = crate::state_file::find(&shared.roots.dirs(), id) else { return };
            let Some(path) = state.cgroup_path else { return };
            let layout = hierarchy::Layout::of_host();
            (layout.dirs_of_path(&path), layout.version(), false, None)
        }
    };
    let mut kept = None;
    for attempt in 0..tries {
        if attempt > 0 {
            std::thread::sleep(pause);
        }
        let Some(sample) = read_sample(&dirs, version == "v2") else { break };
        let moved = Some(counters(&sample)) != before;
        kept = Some(sample);
        if moved {
            break;
        }
    }
    let Some(sample) = kept else { return };
    let mut book = shared.cgroups.lock().expect("cgroup lock");
    let series = book.series.entry(id.to_string()).or_insert_with(|| Series {
        live,
        dirs: dirs.clone(),
        ..Series::new(version, dirs.path.clone(), 0)
    });
    series.push(sample);
}

/// The counters whose rise is a marker.
fn counters(sample: &Sample) -> (u64, u64) {
    (sample.memory.oom_kills, sample.pids.refused)
}

/// (CLOCK_MONOTONIC ns, unix ms) of this instant.
pub fn now() -> (u64, u64) {
    let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0);
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (mono, wall.as_millis() as u64)
}

/// A cgroup file's text, or None if it is not there.
fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// A file holding one number, or `max` (None).
fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The value of `key` in a flat keyed file (`key value` lines: memory.stat,
/// cpu.stat, memory.events, pids.events, memory.oom_control).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}
