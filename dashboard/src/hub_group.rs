//! Who may send events to the hub socket. By default only root (mode 0600,
//! ingest.rs): any process that can connect can put lines into every
//! container's record as the dashboard shows it. `--hub-group NAME` lets
//! that group's members' runtimes send too: the socket is given to the
//! group and made 0660. A unix socket's permission is checked at
//! connect(2), on the socket file, so this is all it takes — as long as the
//! group can also reach the directory it is in (the dashboard says so if not).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::{chown, Gid, Group};

#[derive(Debug, thiserror::Error)]
pub enum HubGroupError {
    #[error("--hub-group {0}: no such group (see /etc/group, `getent group {0}`)")]
    NoSuchGroup(String),
    #[error("--hub-group {group}: looking it up: {source}")]
    Lookup { group: String, source: nix::Error },
    #[error("{path}: chown to group {group}: {source}")]
    Chown { path: PathBuf, group: String, source: nix::Error },
    #[error("{path}: chmod 0660: {source}")]
    Chmod { path: PathBuf, source: std::io::Error },
}

/// Give the socket at `path` to `group`, mode 0660; returns the group's id.
pub fn share(path: &Path, group: &str) -> Result<Gid, HubGroupError> {
    let found = Group::from_name(group)
        .map_err(|source| HubGroupError::Lookup { group: group.into(), source })?
        .ok_or_else(|| HubGroupError::NoSuchGroup(group.into()))?;
    chown(path, None, Some(found.gid)).map_err(|source| HubGroupError::Chown {
        path: path.into(),
        group: group.into(),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|source| HubGroupError::Chmod { path: path.into(), source })?;
    Ok(found.gid)
}

/// A warning if the group cannot search the socket's directory (no x for
/// group or others on it), so it could not connect whatever the socket's mode.
pub fn unreachable_dir(path: &Path, gid: Gid) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dir = path.parent()?;
    let meta = std::fs::metadata(dir).ok()?;
    let searchable = meta.mode() & 0o001 != 0 || (meta.gid() == gid.as_raw() && meta.mode() & 0o010 != 0);
    (!searchable).then(|| {
        format!(
            "{}: mode {:o}: members of the hub group cannot reach the socket in it",
            dir.display(),
            meta.mode() & 0o777
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_group_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = share(&dir.path().join("x"), "no-such-group-here").unwrap_err().to_string();
        assert!(err.contains("--hub-group no-such-group-here: no such group"), "{err}");
    }
}
