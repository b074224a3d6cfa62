//! The container's record on disk: `<root>/<id>/state.json`, written
//! atomically (write a temporary file, then rename(2)), and a lock file taken
//! with flock(2) so two commands on the same id never interleave.
//!
//! The status is not trusted from the file: it is worked out each time from
//! the init process (alive? still waiting on `exec.fifo`?), because the
//! container can die while no glassbox command is running.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::paths::Paths;

/// The file `<root>/<id>/lock` every command flock(2)s; its first eight
/// bytes are also the record's sequence counter (glassbox_events::Sequence).
pub const LOCK_FILE: &str = glassbox_events::COUNTER_FILE;

/// `<root>/<id>/cgroup`: the container's cgroup path, one line, written
/// before the cgroup is made (see [`ContainerDir::record_cgroup_path`]).
pub const CGROUP_FILE: &str = "cgroup";

/// `<root>/<id>/rootfs-mount`: for a container without a mount namespace of
/// its own, where its mounts start in the runtime's (rootfs/inherited.rs),
/// written before any is made; `delete` reads it to take them away.
pub const ROOTFS_MOUNT_FILE: &str = "rootfs-mount";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container id {0:?} is not valid: use letters, digits, '.', '_', '-', '+' (not starting with '.'), at most 249 characters")]
    InvalidId(String),
    #[error("container {0:?} already exists (see `glassbox list`; remove it with `glassbox delete`)")]
    Exists(String),
    #[error("container {0:?} does not exist (see `glassbox list`)")]
    NotFound(String),
    #[error("container {0:?} has no state.json: its create is still running, or was killed before it finished; `glassbox delete --force {0}` removes what it left")]
    Unfinished(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{path}: {source}: the state root (--root) must be a directory this user may write; without root, \
         pass --root DIR or set XDG_RUNTIME_DIR (glassbox then uses $XDG_RUNTIME_DIR/glassbox)"
    )]
    RootNotWritable { path: PathBuf, source: std::io::Error },
    #[error("{path}: unreadable, not a container's state ({reason}); `glassbox delete --force {id}` removes what is left of the container")]
    Corrupt { id: String, path: PathBuf, reason: String },
    #[error("{path}: cannot lock: {source}")]
    Lock { path: PathBuf, source: nix::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

/// Making a directory under the state root: a refusal says what to pass.
fn making(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| match source.raw_os_error() {
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => {
            StateError::RootNotWritable { path: path.to_path_buf(), source }
        }
        _ => StateError::Io { path: path.to_path_buf(), source },
    }
}

/// The `<id>/cgroup` file, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedCgroup {
    /// The container's cgroup path, and the systemd unit it belongs to
    /// (`--systemd-cgroup`).
    Path { path: String, unit: Option<String> },
    /// The container has no cgroup.
    None,
    /// No whole line: nothing written yet, or a write cut short.
    Unknown,
}

/// runtime-spec `state.md` statuses (plus `paused`, as runc reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(|v| v.as_str()).unwrap_or("unknown"))
    }
}

/// What glassbox remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    pub oci_version: String,
    pub id: String,
    /// The init's pid as seen from the host.
    pub pid: i32,
    /// Field 22 of /proc/<pid>/stat when the init was made: tells our init
    /// apart from an unrelated process that later got the same pid.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The cgroup path inside each hierarchy, e.g. `glassbox/web`; none
    /// for a container made without root where no cgroup was delegated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_path: Option<String>,
    /// With `--systemd-cgroup`: the transient scope unit that owns the
    /// cgroup (`libpod-<id>.scope`), stopped through systemd at delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// config.json's hooks as they were at create: `start` and `delete` run
    /// them without reading the bundle again (which may have changed).
    #[serde(default)]
    pub hooks: oci_spec::runtime::Hooks,
}

/// The longest id: ids become file names — `<root>/<id>/`, the cgroup
/// `glassbox/<id>`, and the longest, the kept record `.events/<id>.jsonl` —
/// and a file name has at most 255 bytes (NAME_MAX).
pub const MAX_ID_LEN: usize = 255 - ".jsonl".len();

/// Container ids become directory and cgroup names: keep them to one safe
/// path component.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

/// The directory of one container, locked for the life of this value.
pub struct ContainerDir {
    pub path: PathBuf,
    lock: Option<Flock<File>>,
}

impl ContainerDir {
    /// Make `<root>/<id>` for a new container; fails if the id is taken.
    pub fn create(paths: &Paths, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        fs::create_dir_all(&paths.state_root).map_err(making(&paths.state_root))?;
        let path = paths.container_dir(id);
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(StateError::Exists(id.into())),
            Err(e) => return Err(making(&path)(e)),
        }
        Self::lock(path)
    }

    /// Open and lock the directory of an existing container. A directory
    /// without state.json is a create still at work (which holds the lock:
    /// no need to wait for it) or one that was killed.
    pub fn open(paths: &Paths, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        let path = paths.container_dir(id);
        if !path.join("state.json").exists() {
            return Err(match path.is_dir() {
                true => StateError::Unfinished(id.into()),
                false => StateError::NotFound(id.into()),
            });
        }
        let dir = Self::open_any(paths, id)?;
        // Another command may have deleted it while we waited for the lock.
        if !dir.state_file().exists() {
            return Err(StateError::NotFound(id.into()));
        }
        Ok(dir)
    }

    /// Lock `<root>/<id>` whatever it holds, waiting for a create still at
    /// work: `delete --force` takes what a killed create left.
    pub fn open_any(paths: &Paths, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        Self::lock(paths.container_dir(id)).map_err(|e| match e {
            StateError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                StateError::NotFound(id.into())
            }
            other => other,
        })
    }

    fn lock(path: PathBuf) -> Result<ContainerDir, StateError> {
        let lock_path = path.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, source)| StateError::Lock { path: lock_path, source })?;
        Ok(ContainerDir { path, lock: Some(lock) })
    }

    /// Let other commands at this container while we only watch it
    /// (`events` follows a container for as long as it runs).
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    pub fn exec_fifo(&self) -> PathBuf {
        self.path.join("exec.fifo")
    }

    pub fn state_file(&self) -> PathBuf {
        self.path.join("state.json")
    }

    /// state.json, checked: a pid that is not a process's (0 and -1 mean
    /// "every process" to kill(2)) makes it as unreadable as broken JSON.
    pub fn load(&self) -> Result<ContainerState, StateError> {
        let file = self.state_file();
        let id = || self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = match fs::read(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::Unfinished(id())),
            Err(e) => return Err(io(&file)(e)),
        };
        let corrupt = |reason: String| StateError::Corrupt { id: id(), path: file.clone(), reason };
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt("it is empty".into()));
        }
        let state: ContainerState = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        if state.pid <= 0 {
            return Err(corrupt(format!("pid {} is no process's", state.pid)));
        }
        Ok(state)
    }

    /// Write down where the container's cgroup goes, before it is made: a
    /// create killed at any later moment leaves this record, by which
    /// `delete --force` finds the cgroup without state.json (with
    /// `linux.cgroupsPath`, the id alone does not say where it is). The
    /// path is one line, and a systemd unit (`--systemd-cgroup`) a second,
    /// `unit NAME`; the last newline ends a whole record, and a write cut
    /// short has none. An empty line says the container has no cgroup
    /// (made without root).
    pub fn record_cgroup_path(&self, cgroup_path: Option<&str>, unit: Option<&str>) -> Result<(), StateError> {
        let file = self.path.join(CGROUP_FILE);
        let unit = unit.map(|u| format!("unit {u}\n")).unwrap_or_default();
        fs::write(&file, format!("{}\n{unit}", cgroup_path.unwrap_or_default())).map_err(io(&file))
    }

    /// What [`Self::record_cgroup_path`] wrote, if it wrote it whole.
    pub fn recorded_cgroup_path(&self) -> RecordedCgroup {
        let Ok(text) = fs::read_to_string(self.path.join(CGROUP_FILE)) else { return RecordedCgroup::Unknown };
        let Some(whole) = text.strip_suffix('\n') else { return RecordedCgroup::Unknown };
        let mut lines = whole.split('\n');
        let path = lines.next().unwrap_or_default();
        let unit = match lines.next() {
            None => None,
            Some(line) => match line.strip_prefix("unit ") {
                Some(unit) if !unit.is_empty() => Some(unit.to_string()),
                _ => return RecordedCgroup::Unknown,
            },
        };
        match (path, unit, lines.next()) {
            ("", None, None) => RecordedCgroup::None,
            (path, unit, None) if !path.is_empty() => RecordedCgroup::Path { path: path.to_string(), unit },
            _ => RecordedCgroup::Unknown,
        }
    }

    /// Write down, before the init is cloned, where the mounts of a container
    /// sharing the runtime's mount namespace will start: one line, which
    /// `delete` (`--force` too, without state.json) needs to remove them.
    pub fn record_rootfs_mount(&self, line: &[u8]) -> Result<(), StateError> {
        let file = self.path.join(ROOTFS_MOUNT_FILE);
        fs::write(&file, line).map_err(io(&file))
    }

    /// What [`Self::record_rootfs_mount`] wrote; None for a container with
    /// a mount namespace of its own (no file).
    pub fn recorded_rootfs_mount(&self) -> Option<Vec<u8>> {
        fs::read(self.path.join(ROOTFS_MOUNT_FILE)).ok()
    }

    /// Write state.json so that a reader sees the old or the new file, never
    /// half of one. No fsync: the state root is a tmpfs (/run) on most hosts,
    /// and the state describes processes that do not outlive a reboot anyway.
    pub fn save(&self, state: &ContainerState) -> Result<(), StateError> {
        let file = self.state_file();
        let tmp = self.path.join(".state.json.tmp");
        let text = serde_json::to_vec_pretty(state).expect("state serializes");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&text).map_err(io(&tmp))?;
        fs::rename(&tmp, &file).map_err(io(&file))
    }

    /// Remove the directory, the lock and the events record with it. The
    /// state directory sits below the recorder, which writes into it, so
    /// keeping the record is the caller's step, taken first: `delete` (and a
    /// failed `create`) move it out with `recorder::kept::keep`.
    pub fn remove(self) -> Result<(), StateError> {
        fs::remove_dir_all(&self.path).map_err(io(&self.path))
    }
}

/// Ids of every container under the state root, sorted.
pub fn list_ids(paths: &Paths) -> Result<Vec<String>, StateError> {
    let mut ids = Vec::new();
    let entries = match fs::read_dir(&paths.state_root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(io(&paths.state_root)(e)),
    };
    for entry in entries.flatten() {
        if entry.path().join("state.json").exists() {
            ids.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    ids.sort();
    Ok(ids)
}

/// Field 22 (starttime) and field 3 (state) of /proc/<pid>/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and ')': split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

impl ContainerState {
    /// Is our init process still there (and not a zombie)?
    pub fn init_alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((s, start)) if s != 'Z' && s != 'X' && start == self.pid_start_time)
    }

    /// The JSON `glassbox state` prints: runtime-spec's state plus runc's extras.
    pub fn to_oci_json(&self, status: Status) -> serde_json::Value {
        let pid = if status == Status::Stopped { 0 } else { self.pid };
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": status,
            "pid": pid,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
            "annotations": self.annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["web", "a-b_c.1", "0123456789abcdef"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", "..", "../x", "a/b", ".hidden", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_id(&"a".repeat(MAX_ID_LEN)).is_ok());
        assert!(validate_id(&"a".repeat(MAX_ID_LEN + 1)).is_err(), "its kept record would need a 256-byte name");
    }

    #[test]
    fn create_twice_is_refused_and_state_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::new(tmp.path());
        let dir = ContainerDir::create(&paths, "c1").unwrap();
        let state = ContainerState {
            oci_version: "1.2.0".into(),
            id: "c1".into(),
            pid: 1,
            pid_start_time: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            cgroup_path: Some("glassbox/c1".into()),
            systemd_unit: None,
            created: "now".into(),
            owner: "root".into(),
            annotations: Default::default(),
            hooks: Default::default(),
        };
        dir.save(&state).unwrap();
        assert_eq!(dir.load().unwrap().id, "c1");
        drop(dir);
        assert!(matches!(ContainerDir::create(&paths, "c1"), Err(StateError::Exists(_))));
        assert_eq!(list_ids(&paths).unwrap(), vec!["c1".to_string()]);
        ContainerDir::open(&paths, "c1").unwrap().remove().unwrap();
        assert!(list_ids(&paths).unwrap().is_empty());
    }

    #[test]
    fn a_broken_state_file_is_corrupt_and_a_missing_one_unfinished() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::new(tmp.path());
        let dir = ContainerDir::create(&paths, "c2").unwrap();
        assert!(matches!(dir.load(), Err(StateError::Unfinished(id)) if id == "c2"));
        drop(dir);
        assert!(matches!(ContainerDir::open(&paths, "c2"), Err(StateError::Unfinished(_))));
        assert!(matches!(ContainerDir::open(&paths, "nope"), Err(StateError::NotFound(_))));
        let dir = ContainerDir::open_any(&paths, "c2").unwrap();
        for text in [
            "",
            "  \n",
            "{\"ociVersion\":",
            "garbage",
            r#"{"ociVersion":"1","id":"c2","pid":-1,"pidStartTime":0,"bundle":"/b","rootfs":"/r","cgroupPath":"g","created":"","owner":""}"#,
        ] {
            std::fs::write(dir.state_file(), text).unwrap();
            let err = dir.load().unwrap_err();
            assert!(matches!(err, StateError::Corrupt { .. }), "{text:?}: {err}");
            let line = err.to_string();
            assert!(
                line.contains("state.json") && line.contains("delete --force c2") && !line.contains('\n'),
                "{line}"
            );
        }
    }

    #[test]
    fn the_cgroup_path_is_trusted_only_when_written_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ContainerDir::create(&Paths::new(tmp.path()), "c3").unwrap();
        assert_eq!(dir.recorded_cgroup_path(), RecordedCgroup::Unknown);
        dir.record_cgroup_path(Some("pods/c3"), None).unwrap();
        assert_eq!(dir.recorded_cgroup_path(), RecordedCgroup::Path { path: "pods/c3".into(), unit: None });
        dir.record_cgroup_path(Some("machine.slice/libpod-c3.scope"), Some("libpod-c3.scope")).unwrap();
        assert_eq!(
            dir.recorded_cgroup_path(),
            RecordedCgroup::Path { path: "machine.slice/libpod-c3.scope".into(), unit: Some("libpod-c3.scope".into()) }
        );
        // A write cut short: no newline yet.
        std::fs::write(dir.path.join(CGROUP_FILE), "pods/c").unwrap();
        assert_eq!(dir.recorded_cgroup_path(), RecordedCgroup::Unknown);
        dir.record_cgroup_path(None, None).unwrap();
        assert_eq!(dir.recorded_cgroup_path(), RecordedCgroup::None);
    }

    #[test]
    fn own_stat_parses() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!("RS".contains(state), "{state}");
        assert!(start > 0);
    }
}
