//! Sessions sharing one loaded set of probes, through owner slots: a
//! session claims a free slot in OWNERS (BPF_NOEXIST, so two sessions can
//! never take the same one), says there where its events go, then puts the
//! slot in TRACED[its pid]; the kernel copies the slot to every child and
//! stamps it on every record, so the reader knows whose record it is.
//!
//! ```text
//!  session (runtime)                       reader (hub or the runtime's tracer)
//!  OWNERS[s] = {pid, events path, id}  ◀── looks up OWNERS[record.owner] (cached)
//!  TRACED[pid] = s ─▶ kernel: forks inherit s, records carry s
//!  …                                        sets OPENED once the file is open
//!  release: OWNERS[s] removed
//! ```
//!
//! A hub pins TRACED and OWNERS under a bpffs directory (bpf(2)
//! BPF_OBJ_PIN) and writes OWNERS[0] = its own pid; a runtime then opens
//! the two maps from their pins ([`Sessions::from_pins`]) and never loads
//! a program.

use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap, Map, MapData, MapError};
use glassbox_probes_common::{maps, OwnerInfo, MAX_OWNER, OWNER_CONTAINER_LEN, OWNER_PATH_LEN};

use crate::error::{TraceError, Unavailable};

/// BPF_NOEXIST (bpf(2)): create the entry only if it is not there.
const BPF_NOEXIST: u64 = 1;

/// The two maps a session needs: TRACED (pid → slot) and OWNERS (slot → where to).
pub struct Sessions {
    traced: Array<MapData, u8>,
    owners: HashMap<MapData, u32, OwnerInfo>,
}

impl Sessions {
    pub(crate) fn new(traced: Array<MapData, u8>, owners: HashMap<MapData, u32, OwnerInfo>) -> Sessions {
        Sessions { traced, owners }
    }

    /// Opens TRACED and OWNERS from the pins a hub made in `dir`.
    pub fn from_pins(dir: &Path) -> Result<Sessions, Unavailable> {
        let open = |name: &'static str, wrap: fn(MapData) -> Map| {
            MapData::from_pin(dir.join(name)).map(wrap).map_err(|source| Unavailable::Map { name, source })
        };
        let traced = open(maps::TRACED, Map::Array)?;
        let owners = open(maps::OWNERS, Map::HashMap)?;
        Ok(Sessions {
            traced: Array::try_from(traced).map_err(|source| Unavailable::Map { name: maps::TRACED, source })?,
            owners: HashMap::try_from(owners).map_err(|source| Unavailable::Map { name: maps::OWNERS, source })?,
        })
    }

    /// Claims a free owner slot for `info` (tried from a pseudo-random start,
    /// so sessions starting together rarely collide; a collision just moves on).
    pub fn claim(&mut self, info: &OwnerInfo) -> Result<u8, TraceError> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let start = (std::process::id() ^ nanos) % MAX_OWNER;
        for i in 0..MAX_OWNER {
            let slot = 1 + (start + i) % MAX_OWNER;
            match self.owners.insert(slot, info, BPF_NOEXIST) {
                Ok(()) => return Ok(slot as u8),
                Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(source) => return Err(err(maps::OWNERS, format!("claiming slot {slot}"), source)),
            }
        }
        Err(TraceError {
            map: maps::OWNERS,
            what: format!(
                "claiming a slot: all {MAX_OWNER} are taken; end some traced containers, or restart the dashboard \
                 if sessions of runtimes that died still hold theirs"
            ),
            source: MapError::OutOfBounds { index: MAX_OWNER, max_entries: MAX_OWNER },
        })
    }

    /// Follows `pid`, and from now on every process it forks, for `slot`.
    pub fn follow(&mut self, pid: u32, slot: u8) -> Result<(), TraceError> {
        self.traced.set(pid, slot, 0).map_err(|source| err(maps::TRACED, format!("adding pid {pid}"), source))
    }

    /// Where slot `slot`'s events go, if the slot is taken.
    pub fn owner(&self, slot: u8) -> Option<OwnerInfo> {
        self.owners.get(&(slot as u32), 0).ok()
    }

    /// Rewrites slot `slot`'s entry (the reader setting [`OwnerInfo::OPENED`]).
    pub fn update(&mut self, slot: u8, info: &OwnerInfo) -> Result<(), TraceError> {
        self.owners.insert(slot as u32, info, 0).map_err(|source| err(maps::OWNERS, format!("slot {slot}"), source))
    }

    /// Frees `slot`.
    pub fn release(&mut self, slot: u8) {
        let _ = self.owners.remove(&(slot as u32));
    }
}

fn err(map: &'static str, what: String, source: MapError) -> TraceError {
    TraceError { map, what, source }
}

/// An [`OwnerInfo`] for process `pid` recording container `container` in
/// `events_path` (both cut to what the entry holds).
pub fn owner_info(pid: u32, container: &str, events_path: &Path) -> OwnerInfo {
    let mut info = OwnerInfo { pid, flags: 0, events_path: [0; OWNER_PATH_LEN], container: [0; OWNER_CONTAINER_LEN] };
    copy_cut(&mut info.events_path, events_path.as_os_str().as_encoded_bytes());
    copy_cut(&mut info.container, container.as_bytes());
    info
}

fn copy_cut(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len() - 1);
    dst[..n].copy_from_slice(&src[..n]);
}

/// The events file an entry names.
pub fn owner_events_path(info: &OwnerInfo) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(crate::record::until_nul(&info.events_path)))
}

/// The container an entry names.
pub fn owner_container(info: &OwnerInfo) -> String {
    String::from_utf8_lossy(crate::record::until_nul(&info.container)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_entry_round_trips_its_strings() {
        let info = owner_info(42, "web", Path::new("/run/glassbox/web/events.jsonl"));
        assert_eq!(info.pid, 42);
        assert_eq!(owner_container(&info), "web");
        assert_eq!(owner_events_path(&info), Path::new("/run/glassbox/web/events.jsonl"));
        let long = "x".repeat(500);
        assert_eq!(owner_container(&owner_info(1, &long, Path::new("/"))).len(), OWNER_CONTAINER_LEN - 1);
    }
}
