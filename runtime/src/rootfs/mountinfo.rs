//! Reading `/proc/self/mountinfo` (see proc_pid_mountinfo(5)): which mount
//! holds a path, and is it *shared*? pivot_root(2) refuses (EINVAL) when the
//! new root's parent mount is shared, so [`super::prepare_mounts`] asks this first.

use std::path::{Path, PathBuf};

use glassbox_events::proc_text::unescape;

use super::error::{errno_of, RootfsError};

/// The fields of one mountinfo line that glassbox looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
    /// An optional field `shared:N` is present: events propagate to peers.
    pub shared: bool,
}

/// Parses the whole file; malformed lines are skipped. Paths and sources
/// come back unescaped (`\040` is a space: [`unescape`]).
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            // id parent major:minor root mount_point options [optional…] - fstype source super_options
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            Some(MountEntry {
                mount_point: PathBuf::from(unescape(left.get(4)?)),
                shared: left.iter().skip(6).any(|f| f.starts_with("shared:")),
                fstype: right.first()?.to_string(),
                source: unescape(right.get(1).unwrap_or(&"")),
            })
        })
        .collect()
}

/// The mount that `path` lives on: the deepest mount point above it (the
/// last one listed when mounts are stacked on the same point).
pub fn mount_of<'a>(entries: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    entries.iter().filter(|e| path.starts_with(&e.mount_point)).fold(None, |best: Option<&MountEntry>, e| match best {
        Some(b) if b.mount_point.components().count() > e.mount_point.components().count() => Some(b),
        _ => Some(e),
    })
}

/// This process's mount table.
pub fn read_own() -> Result<Vec<MountEntry>, RootfsError> {
    let path = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(path).map_err(|e| RootfsError::HostInfo {
        path: path.into(),
        purpose: "find the mount that holds the rootfs",
        errno: errno_of(&e),
    })?;
    Ok(parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:5 / /proc rw,nosuid shared:2 - proc proc rw
40 22 0:30 / /tmp rw - tmpfs tmpfs rw
41 40 0:31 / /tmp/my\\040dir rw master:3 - tmpfs none rw
42 40 0:32 / /tmp/my\\040dir rw shared:9 - tmpfs second rw
";

    #[test]
    fn finds_the_deepest_and_last_mount() {
        let e = parse(SAMPLE);
        assert_eq!(e.len(), 5);
        let m = mount_of(&e, Path::new("/tmp/my dir/rootfs")).unwrap();
        assert_eq!(m.source, "second");
        assert!(m.shared);
        let m = mount_of(&e, Path::new("/tmp/other")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/tmp"));
        assert!(!m.shared);
        assert_eq!(mount_of(&e, Path::new("/home")).unwrap().fstype, "ext4");
        // /proc must not match /procfoo: starts_with is component-wise.
        assert_eq!(mount_of(&e, Path::new("/procfoo")).unwrap().mount_point, PathBuf::from("/"));
    }
}
