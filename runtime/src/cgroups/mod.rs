//! The container's control group (man7 cgroups(7)), made with `cgroups-rs`.
//!
//! On cgroup v1 (and this machine's hybrid layout) a container's cgroup is one
//! directory per controller, `/sys/fs/cgroup/<controller>/glassbox/<id>`; on
//! cgroup v2 it is one directory, `/sys/fs/cgroup/glassbox/<id>`. The runtime
//! makes it before the init runs anything; the init starts inside its v2
//! directory (clone3) and writes itself into the v1 ones first thing, so
//! every process the container forks is counted there too.
//!
//! Resource limits (`linux.resources`) are applied by a later part; here the
//! cgroup exists, holds the container, and is removed with it.

mod apply;
mod bpf_devices;
mod convert;
mod delegation;
mod devices;
mod path;
mod plan;
mod stats;
pub mod systemd;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cgroups_rs::fs::freezer::FreezerController;
use cgroups_rs::fs::{hierarchies, Cgroup, Controller};
use cgroups_rs::FreezerState;

pub use apply::CgroupWriteOutcome;
pub use bpf_devices::{BpfError, DeviceRule};
pub use delegation::NotDelegated;
pub use devices::{plan_device_rules_v1, rule_line};
pub use path::cgroup_path;
pub use plan::{plan_resources, CgroupVersion, CgroupWrite};
pub use stats::Stats;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("linux.cgroupsPath {0:?}: {1}")]
    BadPath(String, &'static str),
    #[error("cannot create cgroup {path}: {}", create_failure(error))]
    Create { path: String, error: cgroups_rs::fs::error::Error },
    #[error("cannot move pid {pid} into the container's cgroup: writing {file}: {source} (is the cgroup still there, and cgroupfs mounted read-write at /sys/fs/cgroup?)")]
    Join { file: PathBuf, pid: i32, source: std::io::Error },
    #[error("cgroup2 tree of a hybrid host: {path}: {source}")]
    Unified { path: PathBuf, source: std::io::Error },
    #[error("cgroup {0}: no freezer controller on this host, so it cannot be paused")]
    NoFreezer(String),
    #[error("cgroup {path}: writing the freezer state failed: {}", system_words(error))]
    Freeze { path: String, error: cgroups_rs::fs::error::Error },
    #[error("cgroup {0}: processes did not freeze within 5 s (one may be stuck in the kernel); thawed again")]
    FreezeTimeout(String),
    #[error("linux.resources.{field}: this host has no {controller} controller for the container's cgroup")]
    NoController { field: String, controller: &'static str },
    #[error("linux.resources.{field}: writing {value:?} to {path}: {source}{}", if hint.is_empty() { String::new() } else { format!(" ({hint})") })]
    Write { field: String, path: PathBuf, value: String, hint: &'static str, source: std::io::Error },
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error("linux.resources.devices: {0}")]
    DeviceFilter(#[from] BpfError),
    #[error("cannot remove cgroup {path}: {source} (processes still inside? see {path}/cgroup.procs)")]
    Remove { path: PathBuf, source: std::io::Error },
    #[error("systemd: {0}")]
    Systemd(systemd::BusError),
    #[error("systemd could not {verb} the unit {unit}: its job ended {result:?} (see `systemctl status {unit}` and `journalctl -u {unit}`)")]
    SystemdJob { unit: String, verb: &'static str, result: String },
}

/// cgroups-rs says "fs error caused by: Os { code: 13, … }" (the Debug
/// form of its cause): the system's own words instead. Kept in a field not
/// named `source`, so that no caller prints the cause again after it.
fn io_cause(e: &cgroups_rs::fs::error::Error) -> Option<&std::io::Error> {
    std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>())
}

fn system_words(e: &cgroups_rs::fs::error::Error) -> String {
    io_cause(e).map_or_else(|| e.to_string(), |io| io.to_string())
}

/// [`system_words`] and what to check for them.
fn create_failure(e: &cgroups_rs::fs::error::Error) -> String {
    let Some(io) = io_cause(e) else { return e.to_string() };
    let hint = match io.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => {
            "this process may not write the cgroup tree there: run glassbox as root, or give \
             linux.cgroupsPath a cgroup delegated to you"
        }
        Some(libc::EROFS) => "the cgroup filesystem is mounted read-only here",
        _ => "is cgroupfs mounted at /sys/fs/cgroup?",
    };
    format!("{io} ({hint})")
}

/// Without root: may this process make the cgroup `path` in every
/// hierarchy it would live in (a subtree delegated to it)? See
/// [`delegation`].
pub fn may_make_without_root(path: &str) -> Result<(), NotDelegated> {
    let would_be = ContainerCgroup::load(path);
    let mut dirs: Vec<PathBuf> =
        would_be.cgroup.subsystems().iter().map(|s| s.to_controller().path().to_path_buf()).collect();
    dirs.extend(would_be.unified.iter().cloned());
    dirs.sort();
    dirs.dedup();
    delegation::check_writable(&dirs)
}

/// A container's cgroup in every hierarchy this host has.
pub struct ContainerCgroup {
    cgroup: Cgroup,
    pub path: String,
    /// On a hybrid host (v1 controllers plus a cgroup2 tree at
    /// /sys/fs/cgroup/unified), the container's directory in the cgroup2
    /// tree too: it carries no limits, but it gives the container a v2
    /// cgroup id (what eBPF sees) and holds controllers such as hugetlb
    /// that the host put there. cgroups-rs's v1 mode does not look at it.
    unified: Option<PathBuf>,
    /// With `--systemd-cgroup`, the systemd unit whose cgroup this is: it
    /// is stopped through systemd, and its limits changed there.
    pub unit: Option<String>,
}

/// The cgroup version whose files hold the limits on this host (a hybrid
/// host's are in its v1 hierarchies).
pub fn host_version() -> CgroupVersion {
    if hierarchies::is_cgroup2_unified_mode() {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    }
}

const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";

fn hybrid_unified_dir(path: &str) -> Option<PathBuf> {
    if hierarchies::is_cgroup2_unified_mode() {
        return None;
    }
    let stat = nix::sys::statfs::statfs(HYBRID_UNIFIED).ok()?;
    (stat.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC).then(|| Path::new(HYBRID_UNIFIED).join(path))
}

impl ContainerCgroup {
    /// mkdir the cgroup in each hierarchy (cgroups-rs also copies cpuset.cpus
    /// and cpuset.mems from the parent on v1, without which no task could join).
    ///
    /// `own_parent` (`glassbox`) is the part of the path glassbox owns: its
    /// directories are made on the way here and removed by [`Self::remove`]
    /// once empty, so a moment ago another container's delete may have
    /// removed it just as we mkdir below it — hence the second try.
    pub fn create(path: &str, own_parent: &str) -> Result<ContainerCgroup, CgroupError> {
        let mut attempt = Cgroup::new(hierarchies::auto(), path);
        if attempt.is_err() {
            attempt = Cgroup::new(hierarchies::auto(), path);
        }
        let cgroup = attempt.map_err(|source| CgroupError::Create { path: path.into(), error: source })?;
        let me = ContainerCgroup { cgroup, path: path.into(), unified: hybrid_unified_dir(path), unit: None };
        if let Some(dir) = &me.unified {
            if let Err(source) = std::fs::create_dir_all(dir) {
                let _ = me.remove(own_parent);
                return Err(CgroupError::Unified { path: dir.clone(), source });
            }
        }
        Ok(me)
    }

    /// A handle on an existing cgroup (nothing is created).
    pub fn load(path: &str) -> ContainerCgroup {
        ContainerCgroup {
            cgroup: Cgroup::load(hierarchies::auto(), path),
            path: path.into(),
            unified: hybrid_unified_dir(path),
            unit: None,
        }
    }

    /// The same cgroup, known to be systemd's unit `unit`.
    pub fn with_unit(mut self, unit: Option<String>) -> ContainerCgroup {
        self.unit = unit;
        self
    }

    /// The container's directory in the cgroup2 tree: the cgroup itself on
    /// a v2 host, its limitless twin on a hybrid one. clone3(2) can start
    /// the init right there (CLONE_INTO_CGROUP): no write to move it in.
    pub fn v2_dir(&self) -> Option<PathBuf> {
        match self.cgroup.v2() {
            true => Some(Path::new("/sys/fs/cgroup").join(&self.path)),
            false => self.unified.clone(),
        }
    }

    /// The container's directory in each v1 hierarchy (none on a v2 host).
    pub fn v1_dirs(&self) -> Vec<PathBuf> {
        if self.cgroup.v2() {
            return Vec::new();
        }
        let mut dirs: Vec<PathBuf> =
            self.cgroup.subsystems().iter().map(|s| s.to_controller().path().to_path_buf()).collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// The runtime's part of getting a new process (the init, an exec'd
    /// one) into the cgroup: a `join` step when clone3 started it in the
    /// cgroup2 directory (`cloned_into_v2`), else a cgroup.procs write there;
    /// and writes into the v1 directories too when the process cannot move
    /// itself into them (`v1_too`: an init in a new user namespace).
    pub fn finish_join(&self, pid: i32, cloned_into_v2: bool, v1_too: bool) -> Result<(), CgroupError> {
        let mut dirs = if v1_too { self.v1_dirs() } else { Vec::new() };
        match self.v2_dir() {
            Some(dir) if cloned_into_v2 => record_cloned_into(&dir, pid),
            dir => dirs.extend(dir),
        }
        self.add_process(pid, &dirs)
    }

    /// Move process `pid` into the cgroup's directories `dirs` (a write of
    /// its pid to each cgroup.procs); each file is a `join` step of the
    /// stage running. The first such write after a quiet moment waits for
    /// an RCU grace period (book: cgroup.md), which is why the init joins
    /// the v1 hierarchies itself when it can ([`join_self`]) and is cloned
    /// straight into its v2 directory.
    fn add_process(&self, pid: i32, dirs: &[PathBuf]) -> Result<(), CgroupError> {
        for dir in dirs {
            let file = dir.join("cgroup.procs");
            std::fs::write(&file, pid.to_string()).map_err(|source| CgroupError::Join {
                file: file.clone(),
                pid,
                source,
            })?;
            record_join(&file, pid, None);
        }
        Ok(())
    }

    /// cgroup v2: attach the eBPF program that enforces `writes` (the same
    /// devices.allow/deny lines the v1 planner makes).
    pub fn attach_device_filter(&self, writes: &[CgroupWrite]) -> Result<usize, CgroupError> {
        let rules: Vec<DeviceRule> =
            writes.iter().filter_map(|w| DeviceRule::from_line(w.file == "devices.allow", &w.value)).collect();
        let dir = self.dir_of("devices").expect("a v2 cgroup has one directory");
        bpf_devices::attach(&dir, &rules)?;
        Ok(rules.len())
    }

    /// cgroup v1 or v2, as cgroups-rs found the host.
    pub fn version(&self) -> CgroupVersion {
        if self.cgroup.v2() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        }
    }

    /// "v1", "v2" or "hybrid" (v1 limits plus an empty cgroup2 directory),
    /// as the `create` step reports it.
    pub fn layout_name(&self) -> &'static str {
        match (self.version(), &self.unified) {
            (CgroupVersion::V2, _) => "v2",
            (CgroupVersion::V1, Some(_)) => "hybrid",
            (CgroupVersion::V1, None) => "v1",
        }
    }

    /// The directory holding `controller`'s files for this cgroup.
    pub fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        if self.cgroup.v2() {
            return Some(Path::new("/sys/fs/cgroup").join(&self.path));
        }
        self.cgroup
            .subsystems()
            .iter()
            .map(|s| s.to_controller())
            .find(|c| c.control_type().to_string() == controller)
            .map(|c| c.path().to_path_buf())
    }

    /// The directories of this cgroup, one per hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> =
            self.cgroup.subsystems().iter().map(|s| s.to_controller().path().to_path_buf()).collect();
        dirs.extend(self.unified.iter().filter(|d| d.exists()).cloned());
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Every process in the cgroup, in any of its directories.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self.cgroup.procs().into_iter().map(|p| p.pid as i32).collect();
        // A hybrid host's cgroup2 twin, which cgroups-rs does not see: a
        // process clone3 started there is in no v1 directory until it
        // writes itself in (and never, if its runtime was killed first).
        if let Some(procs) = self.unified.as_ref().and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok()) {
            pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Send `signal` to every process in the cgroup (`kill --all`, `delete --force`).
    pub fn signal_all(&self, signal: nix::sys::signal::Signal) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    /// Kill whatever is left, wait until the cgroup is empty, then rmdir it in
    /// every hierarchy, deepest first. rmdir(2) of a cgroup fails with EBUSY
    /// while a process is inside, and for a moment after the last one exits.
    ///
    /// Then the now-empty directories between it and the hierarchy's root
    /// that lie inside `own_parent` go too (`glassbox/` itself when this was
    /// the last container); directories outside it, such as a
    /// `cgroupsPath`'s parents, may belong to others and are left alone.
    pub fn remove(&self, own_parent: &str) -> Result<(), CgroupError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.pids().is_empty() {
                break;
            }
            self.signal_all(nix::sys::signal::Signal::SIGKILL);
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(unit) = &self.unit {
            // systemd removes the unit's cgroup once the unit has stopped;
            // what is left below is the directories it did not make (v1
            // controllers it does not manage). A bus that cannot be reached
            // is an error only while the cgroup is still there: a scope
            // whose directory is gone has been stopped and collected.
            match systemd::Systemd::connect() {
                Ok(mut systemd) => systemd.stop_unit(unit)?,
                Err(_) if self.dirs().iter().all(|d| !d.exists()) => {}
                Err(e) => return Err(e),
            }
        }
        for dir in self.dirs() {
            remove_tree(&dir, deadline)?;
            for owned in owned_ancestors(&dir, &self.path, own_parent) {
                // Fails (ENOTEMPTY, EBUSY) while other containers live there: fine.
                let _ = std::fs::remove_dir(owned);
            }
        }
        Ok(())
    }
}

/// The calling process (the container's init or an exec'd process, both
/// single-threaded) moves itself into the v1 directories `dirs`: a write of
/// "0" — "the writing thread" —
/// to each `tasks` file. Moving only the caller needs none of the lock over
/// every thread group that a cgroup.procs write takes, so it never waits for
/// an RCU grace period (kernel/cgroup/cgroup.c, cgroup_procs_write_start).
/// `pid` is the init's pid as the host sees it, for the record.
pub fn join_self(dirs: &[PathBuf], pid: i32) -> Result<(), CgroupError> {
    for dir in dirs {
        let file = dir.join("tasks");
        std::fs::write(&file, "0").map_err(|source| CgroupError::Join { file: file.clone(), pid, source })?;
        record_join(&file, pid, Some("0"));
    }
    Ok(())
}

/// A `join` step: `file` written, the process moved, and what was written
/// when it is not the pid (the init's own "0").
fn record_join(file: &Path, pid: i32, value: Option<&str>) {
    crate::recorder::step("join", |a| {
        a.path("file", file).int("pid", pid.into());
        if let Some(value) = value {
            a.str("value", value);
        }
    });
}

/// The `join` step of a process clone3(2) started in `dir` (CLONE_INTO_CGROUP).
fn record_cloned_into(dir: &Path, pid: i32) {
    crate::recorder::step("join", |a| {
        a.path("file", dir).int("pid", pid.into()).str("via", "clone3");
    });
}

impl ContainerCgroup {
    fn freezer(&self) -> Result<&FreezerController, CgroupError> {
        self.cgroup.controller_of::<FreezerController>().ok_or_else(|| CgroupError::NoFreezer(self.path.clone()))
    }

    /// Stop every process of the cgroup where it stands (freezer.state =
    /// FROZEN on v1, cgroup.freeze = 1 on v2). The kernel freezes tasks one
    /// by one, so wait until it reports the whole cgroup frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let freezer = self.freezer()?;
        freezer.freeze().map_err(|source| CgroupError::Freeze { path: self.path.clone(), error: source })?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.fully_frozen(freezer) {
            if Instant::now() > deadline {
                let _ = freezer.thaw();
                return Err(CgroupError::FreezeTimeout(self.path.clone()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// v1's freezer.state reads FROZEN only once every task is frozen; on v2
    /// cgroup.freeze is only the request, and cgroup.events says `frozen 1`
    /// when the kernel is done.
    fn fully_frozen(&self, freezer: &FreezerController) -> bool {
        if self.cgroup.v2() {
            let events = std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(&self.path).join("cgroup.events"));
            return events.is_ok_and(|e| e.lines().any(|l| l.trim() == "frozen 1"));
        }
        matches!(freezer.state(), Ok(FreezerState::Frozen))
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.freezer()?.thaw().map_err(|source| CgroupError::Freeze { path: self.path.clone(), error: source })
    }

    pub fn is_frozen(&self) -> bool {
        self.freezer()
            .is_ok_and(|f| f.exists() && matches!(f.state(), Ok(FreezerState::Frozen | FreezerState::Freezing)))
    }
}

/// The ancestors of `dir` (a hierarchy's directory for cgroup `path`) whose
/// path inside the hierarchy is `own_parent` or below it, deepest first.
fn owned_ancestors<'a>(dir: &'a Path, path: &str, own_parent: &str) -> Vec<&'a Path> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let parent: Vec<&str> = own_parent.split('/').filter(|p| !p.is_empty()).collect();
    if parent.is_empty() || !parts.starts_with(&parent) {
        return Vec::new();
    }
    // dir's k-th ancestor is the cgroup parts[..len - k].
    (1..=parts.len() - parent.len()).filter_map(|k| dir.ancestors().nth(k)).collect()
}

/// rmdir a cgroup directory and any child cgroups below it.
fn remove_tree(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path(), deadline)?;
        }
    }
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(source) => return Err(CgroupError::Remove { path: dir.to_path_buf(), source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_glassbox_own_parents_are_removed() {
        let dir = Path::new("/sys/fs/cgroup/pids/glassbox/lab/web");
        assert_eq!(
            owned_ancestors(dir, "glassbox/lab/web", "glassbox"),
            [Path::new("/sys/fs/cgroup/pids/glassbox/lab"), Path::new("/sys/fs/cgroup/pids/glassbox")]
        );
        let theirs = Path::new("/sys/fs/cgroup/pids/kubepods/pod1/c1");
        assert!(owned_ancestors(theirs, "kubepods/pod1/c1", "glassbox").is_empty());
    }
}
