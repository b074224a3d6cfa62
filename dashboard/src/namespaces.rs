//! A container's namespaces (namespaces(7)), as the kernel names them: each
//! `/proc/<pid>/ns/<type>` is a magic link whose target, `net:[4026531840]`,
//! holds the namespace's inode number. Two processes are in the same
//! namespace exactly when the inode numbers match, so comparing against
//! the host's (`/proc/1/ns/*`, see [`host`]) shows what a container shares with the
//! host — a container without its own `network` namespace, say — and
//! comparing against other containers shows pods (containers joining a
//! sandbox's namespaces, as containerd's CRI does).
//!
//! The inodes are read when the sampler first sees a container live and
//! kept, so a stopped container's namespaces can still be looked at.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// Every namespace type /proc shows, in namespaces(7)'s order.
pub const TYPES: [&str; 10] =
    ["cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"];

/// (type, inode) of each namespace of a process this kernel shows.
pub type Inodes = Vec<(&'static str, u64)>;

/// One namespace, for the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub inode: u64,
    /// `host`, `container:<id>`, or null for its own.
    pub shared_with: Option<String>,
}

/// The inodes of `/proc/<pid>/ns/*`; empty if the process is gone.
pub fn of_process(pid: i32) -> Inodes {
    read(&Path::new("/proc").join(pid.to_string()).join("ns"))
}

fn read(ns_dir: &Path) -> Inodes {
    TYPES
        .iter()
        .filter_map(|kind| Some((*kind, inode(&std::fs::read_link(ns_dir.join(kind)).ok()?.to_string_lossy())?)))
        .collect()
}

/// `net:[4026531840]` → 4026531840.
fn inode(link: &str) -> Option<u64> {
    link.split_once(":[")?.1.strip_suffix(']')?.parse().ok()
}

/// `id`'s namespaces, each said to be shared with the host (`host`'s inodes,
/// from /proc/1/ns) or with the first other container holding the same one.
pub fn describe(id: &str, all: &BTreeMap<String, Inodes>, host: &Inodes) -> Vec<Namespace> {
    let Some(mine) = all.get(id) else { return Vec::new() };
    mine.iter()
        .map(|&(kind, inode)| {
            let shared_with = if host.contains(&(kind, inode)) {
                Some("host".to_string())
            } else {
                all.iter()
                    .find(|(other, inodes)| *other != id && inodes.contains(&(kind, inode)))
                    .map(|(o, _)| format!("container:{o}"))
            };
            Namespace { kind, inode, shared_with }
        })
        .collect()
}

/// The host's: those of pid 1, or where pid 1's cannot be read (a
/// supervisor that forbids ptrace-reads of pid 1, as on the machines
/// glassbox is tested on) the dashboard's own — it runs in the host's
/// namespaces, since it reads every container's /proc.
pub fn host() -> Inodes {
    let init = of_process(1);
    if init.is_empty() {
        read(Path::new("/proc/self/ns"))
    } else {
        init
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes_are_compared_with_the_host_and_other_containers() {
        assert_eq!(inode("net:[4026531840]"), Some(4026531840));
        assert_eq!(inode("garbage"), None);
        let host: Inodes = vec![("net", 1), ("uts", 2)];
        let mut all = BTreeMap::new();
        all.insert("pause".to_string(), vec![("net", 10), ("uts", 2), ("pid", 20)]);
        all.insert("app".to_string(), vec![("net", 10), ("uts", 30), ("pid", 21)]);
        let app = describe("app", &all, &host);
        assert_eq!(app[0], Namespace { kind: "net", inode: 10, shared_with: Some("container:pause".into()) });
        assert_eq!((app[1].shared_with.as_deref(), app[2].shared_with.as_deref()), (None, None));
        assert_eq!(describe("pause", &all, &host)[1].shared_with.as_deref(), Some("host"));
        assert!(describe("nope", &all, &host).is_empty());
        // This process's own namespaces are readable, and the same as its pid's.
        let me = read(Path::new("/proc/self/ns"));
        assert!(me.iter().any(|(k, _)| *k == "net"), "{me:?}");
        assert_eq!(me, of_process(std::process::id() as i32));
    }
}
