//! Namespaces (man7 namespaces(7), clone(2), setns(2), user_namespaces(7)).
//!
//! `linux.namespaces` lists the namespaces the container gets. An entry
//! without `path` is a *new* namespace: a clone(2) flag. An entry with
//! `path` *joins* an existing one with setns(2). Two kinds only take effect
//! for the caller's future children — pid and time — so the runtime enters
//! (or, for time, creates) those itself just before clone and steps back
//! out right after; all others are joined by the init, user namespace first
//! because it decides what the init may do in the rest.
//!
//! The cgroup namespace is created late, by the init, with unshare(2): its
//! root is the cgroup the process is in at that moment, which must be the
//! container's cgroup, not the runtime's.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use crate::recorder::step;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("linux.namespaces: cannot open {kind} namespace {path}: {source}")]
    Open { kind: &'static str, path: PathBuf, source: std::io::Error },
    #[error("linux.namespaces: setns(2) into {kind} namespace {path} failed: {source}")]
    Join { kind: &'static str, path: PathBuf, source: nix::Error },
    #[error("unshare(2) of a new {kind} namespace failed: {source}")]
    Unshare { kind: &'static str, source: nix::Error },
    #[error("linux.timeOffsets: writing {file}: {source}")]
    TimeOffsets { file: PathBuf, source: std::io::Error },
}

/// The name the kernel uses in /proc/<pid>/ns/ for each namespace type.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME (0x80) collides with clone(2)'s exit-signal bits, so a
        // time namespace can only come from unshare(2) or clone3(2).
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// What to do with each namespace, decided from config.json alone.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespacePlan {
    /// New namespaces made by clone(2) itself.
    pub clone_flags: CloneFlags,
    /// A new time namespace: the runtime unshares it before clone.
    pub new_time: bool,
    /// A new cgroup namespace: the init unshares it once inside its cgroup.
    pub new_cgroup: bool,
    /// Existing pid/time namespaces the runtime enters before clone.
    pub join_before_clone: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Existing namespaces the init joins, user first.
    pub join_in_init: Vec<(LinuxNamespaceType, PathBuf)>,
    pub new_user: bool,
    /// The types linux.namespaces does not list: the container shares the
    /// runtime's (runtime-spec: it "MUST inherit the runtime namespace").
    pub inherited: Vec<LinuxNamespaceType>,
}

impl Default for NamespacePlan {
    fn default() -> Self {
        NamespacePlan {
            clone_flags: CloneFlags::empty(),
            new_time: false,
            new_cgroup: false,
            join_before_clone: Vec::new(),
            join_in_init: Vec::new(),
            new_user: false,
            inherited: Vec::new(),
        }
    }
}

/// Every namespace type, in the order the kernel lists /proc/<pid>/ns.
pub const ALL_TYPES: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Uts,
];

impl NamespacePlan {
    pub fn from_spec(namespaces: &[LinuxNamespace]) -> NamespacePlan {
        let mut plan = NamespacePlan::default();
        for ns in namespaces {
            let t = ns.typ();
            match ns.path() {
                Some(path) if matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) => {
                    plan.join_before_clone.push((t, path.clone()))
                }
                Some(path) => plan.join_in_init.push((t, path.clone())),
                None if t == LinuxNamespaceType::Time => plan.new_time = true,
                None if t == LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                None => plan.clone_flags |= clone_flag(t),
            }
            if t == LinuxNamespaceType::User && ns.path().is_none() {
                plan.new_user = true;
            }
        }
        // Joining a user namespace first gives the init the capabilities it
        // needs to join the namespaces that user namespace owns.
        plan.join_in_init.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
        plan.inherited = ALL_TYPES.into_iter().filter(|t| !namespaces.iter().any(|ns| ns.typ() == *t)).collect();
        plan
    }

    /// No mount namespace listed: the container's mounts go into the
    /// runtime's mount table (rootfs/inherited.rs).
    pub fn shares_mount_namespace(&self) -> bool {
        self.inherited.contains(&LinuxNamespaceType::Mount)
    }

    /// The flags in the form `unshare(1)` would take, for the narrator and errors.
    pub fn unshare_equivalent(&self) -> UnshareEquivalent<'_> {
        UnshareEquivalent(self)
    }
}

/// `unshare --pid --fork --mount …`: a plan's namespaces as unshare(1)
/// options, displayed in place (the runtime records it right after
/// clone(2), where a String would be one more allocation in memory the
/// init still shares).
pub struct UnshareEquivalent<'a>(&'a NamespacePlan);

impl std::fmt::Display for UnshareEquivalent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let plan = self.0;
        f.write_str("unshare")?;
        let options = [
            (plan.clone_flags.contains(CloneFlags::CLONE_NEWUSER), " --user"),
            (plan.clone_flags.contains(CloneFlags::CLONE_NEWPID), " --pid --fork"),
            (plan.clone_flags.contains(CloneFlags::CLONE_NEWNS), " --mount"),
            (plan.clone_flags.contains(CloneFlags::CLONE_NEWUTS), " --uts"),
            (plan.clone_flags.contains(CloneFlags::CLONE_NEWIPC), " --ipc"),
            (plan.clone_flags.contains(CloneFlags::CLONE_NEWNET), " --net"),
            (plan.new_cgroup, " --cgroup"),
            (plan.new_time, " --time"),
        ];
        for (_, option) in options.iter().filter(|(set, _)| *set) {
            f.write_str(option)?;
        }
        Ok(())
    }
}

/// setns(2) into the namespace at `path`.
pub fn join(t: LinuxNamespaceType, path: &Path) -> Result<(), NamespaceError> {
    join_all(&[(t, path.to_path_buf())])
}

/// setns(2) into each namespace, in order. Every file is opened *before*
/// the first join: once in the container's mount namespace, a path like
/// /proc/<pid>/ns/uts means the container's /proc, where that pid is not.
pub fn join_all(list: &[(LinuxNamespaceType, PathBuf)]) -> Result<(), NamespaceError> {
    let mut opened = Vec::with_capacity(list.len());
    for (t, path) in list {
        let kind = proc_name(*t);
        let file = File::open(path).map_err(|source| NamespaceError::Open { kind, path: path.clone(), source })?;
        opened.push((*t, path, file));
    }
    for (t, path, file) in opened {
        setns(file.as_fd(), clone_flag(t)).map_err(|source| NamespaceError::Join {
            kind: proc_name(t),
            path: path.clone(),
            source,
        })?;
        step("setns", |a| {
            a.path("path", path).str("type", proc_name(t));
        });
    }
    Ok(())
}

/// unshare(2) one new namespace.
pub fn unshare(t: LinuxNamespaceType) -> Result<(), NamespaceError> {
    nix::sched::unshare(clone_flag(t)).map_err(|source| NamespaceError::Unshare { kind: proc_name(t), source })?;
    step("unshare", |a| {
        a.str("flags", flag_name(t));
    });
    Ok(())
}

/// The clone(2)/unshare(2) flag's name, as the man pages spell it.
fn flag_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "CLONE_NEWNS",
        LinuxNamespaceType::Cgroup => "CLONE_NEWCGROUP",
        LinuxNamespaceType::Uts => "CLONE_NEWUTS",
        LinuxNamespaceType::Ipc => "CLONE_NEWIPC",
        LinuxNamespaceType::User => "CLONE_NEWUSER",
        LinuxNamespaceType::Pid => "CLONE_NEWPID",
        LinuxNamespaceType::Network => "CLONE_NEWNET",
        LinuxNamespaceType::Time => "CLONE_NEWTIME",
    }
}

/// The runtime's own pid and time namespaces, to step back into after clone:
/// setns to pid/time only changes what the runtime's *children* get, and the
/// runtime's later children (hooks) must stay on the host side.
pub struct ChildNamespaceGuard {
    saved: Vec<(LinuxNamespaceType, File)>,
}

impl ChildNamespaceGuard {
    /// Enter/create the pid and time namespaces the next child must be born in.
    pub fn enter(plan: &NamespacePlan, time_offsets: &[(String, i64, u32)]) -> Result<Self, NamespaceError> {
        let mut saved = Vec::new();
        let mut save = |t: LinuxNamespaceType| -> Result<(), NamespaceError> {
            let path = PathBuf::from(format!("/proc/self/ns/{}", proc_name(t)));
            let f = File::open(&path).map_err(|source| NamespaceError::Open { kind: proc_name(t), path, source })?;
            saved.push((t, f));
            Ok(())
        };
        if plan.new_time || plan.join_before_clone.iter().any(|(t, _)| *t == LinuxNamespaceType::Time) {
            save(LinuxNamespaceType::Time)?;
        }
        if plan.join_before_clone.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid) {
            save(LinuxNamespaceType::Pid)?;
        }
        let guard = ChildNamespaceGuard { saved };
        for (t, path) in &plan.join_before_clone {
            join(*t, path)?;
        }
        if plan.new_time {
            unshare(LinuxNamespaceType::Time)?;
            write_time_offsets(time_offsets)?;
        }
        Ok(guard)
    }

    /// Step back into the runtime's own namespaces.
    pub fn restore(self) -> Result<(), NamespaceError> {
        for (t, f) in &self.saved {
            setns(f.as_fd(), clone_flag(*t)).map_err(|source| NamespaceError::Join {
                kind: proc_name(*t),
                path: format!("/proc/self/ns/{}", proc_name(*t)).into(),
                source,
            })?;
        }
        Ok(())
    }
}

/// `linux.timeOffsets` → /proc/self/timens_offsets, which is writable only
/// until the first process enters the new time namespace.
fn write_time_offsets(offsets: &[(String, i64, u32)]) -> Result<(), NamespaceError> {
    let file = PathBuf::from("/proc/self/timens_offsets");
    for (clock, secs, nanos) in offsets {
        let line = format!("{clock} {secs} {nanos}\n");
        std::fs::write(&file, line).map_err(|source| NamespaceError::TimeOffsets { file: file.clone(), source })?;
    }
    Ok(())
}

/// Is the namespace file at `path` the one this process is in (same device
/// and inode as /proc/self/ns/<kind>)? False when either cannot be read.
pub fn is_ours(t: LinuxNamespaceType, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let ours = PathBuf::from(format!("/proc/self/ns/{}", proc_name(t)));
    id(path).is_some_and(|theirs| Some(theirs) == id(&ours))
}

/// The namespaces of a running process that differ from ours: what
/// `glassbox exec` must join. Order: user first, then the rest.
pub fn of_process(pid: i32) -> Vec<(LinuxNamespaceType, PathBuf)> {
    use std::os::unix::fs::MetadataExt;
    let order = [
        LinuxNamespaceType::User,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Time,
    ];
    order
        .into_iter()
        .filter_map(|t| {
            let theirs = PathBuf::from(format!("/proc/{pid}/ns/{}", proc_name(t)));
            let ours = format!("/proc/self/ns/{}", proc_name(t));
            let a = std::fs::metadata(&theirs).ok()?.ino();
            let b = std::fs::metadata(ours).ok()?.ino();
            (a != b).then_some((t, theirs))
        })
        .collect()
}

/// Every process in the pid namespace of process `pid` (host pids, `pid`
/// first): the processes whose /proc/<n>/ns/pid is the same namespace (same
/// device and inode). What stands in for a cgroup's list of processes when
/// a container has no cgroup. A process this one may not inspect (another
/// user's, or one that is not dumpable, such as an init still waiting for
/// `start`) is not seen; `pid` itself is always listed.
pub fn pid_namespace_members(pid: i32) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let ns_of = |p: &str| std::fs::metadata(format!("/proc/{p}/ns/pid")).ok().map(|m| (m.dev(), m.ino()));
    let mut members = vec![pid];
    let Some(theirs) = ns_of(&pid.to_string()) else { return members };
    let Ok(entries) = std::fs::read_dir("/proc") else { return members };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if n != pid && ns_of(&n.to_string()) == Some(theirs) {
            members.push(n);
        }
    }
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    #[test]
    fn our_pid_namespace_holds_us() {
        let me = std::process::id() as i32;
        let members = pid_namespace_members(me);
        assert_eq!(members[0], me);
        assert!(members.len() > 1, "the test runner's pid namespace holds more than this process");
        assert_eq!(members.iter().filter(|p| **p == me).count(), 1);
    }

    fn ns(t: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let b = LinuxNamespaceBuilder::default().typ(t);
        match path {
            Some(p) => b.path(p).build().unwrap(),
            None => b.build().unwrap(),
        }
    }

    #[test]
    fn plan_splits_new_and_joined() {
        let plan = NamespacePlan::from_spec(&[
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Network, Some("/var/run/netns/lab")),
            ns(LinuxNamespaceType::Mount, None),
            ns(LinuxNamespaceType::Cgroup, None),
            ns(LinuxNamespaceType::User, Some("/proc/1/ns/user")),
            ns(LinuxNamespaceType::Time, None),
        ]);
        assert_eq!(plan.clone_flags, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert!(plan.new_cgroup && plan.new_time && !plan.new_user);
        assert_eq!(plan.join_in_init[0].0, LinuxNamespaceType::User);
        assert_eq!(plan.join_in_init[1].0, LinuxNamespaceType::Network);
        assert_eq!(plan.unshare_equivalent().to_string(), "unshare --pid --fork --mount --cgroup --time");
        assert_eq!(plan.inherited, [LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts]);
        assert!(!plan.shares_mount_namespace());
    }

    #[test]
    fn what_is_not_listed_is_inherited() {
        let plan = NamespacePlan::from_spec(&[ns(LinuxNamespaceType::Pid, None)]);
        assert_eq!(plan.inherited.len(), 7);
        assert!(plan.shares_mount_namespace());
        let joined = NamespacePlan::from_spec(&[ns(LinuxNamespaceType::Mount, Some("/proc/1/ns/mnt"))]);
        assert!(!joined.shares_mount_namespace(), "a joined mount namespace is listed, not inherited");
    }

    #[test]
    fn pid_path_is_joined_before_clone() {
        let plan = NamespacePlan::from_spec(&[ns(LinuxNamespaceType::Pid, Some("/proc/9/ns/pid"))]);
        assert_eq!(plan.join_before_clone.len(), 1);
        assert!(plan.join_in_init.is_empty());
    }
}
