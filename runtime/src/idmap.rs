//! The id maps of a new user namespace (user_namespaces(7), "User and group
//! ID mappings"): /proc/<pid>/uid_map and gid_map, written once each, in
//! one write(2), by a process in the parent namespace — the runtime.
//!
//! Who may write what decides how glassbox writes them ([`Writer`]):
//! - **root** (CAP_SETUID and CAP_SETGID over the parent namespace) writes
//!   any map itself;
//! - **an ordinary user** may write, without privilege, one line mapping
//!   one id, its own — and for the gid map only after writing `deny` to
//!   /proc/<pid>/setgroups, so that no process of the namespace can ever
//!   drop a group with setgroups(2) (a group may be what keeps a user *out*
//!   of a file). That is `glassbox spec --rootless`'s map when the user has
//!   no subordinate ids;
//! - **anything more** goes through `newuidmap(1)` and `newgidmap(1)`
//!   (Debian package `uidmap`): setuid-root helpers that write the map if
//!   /etc/subuid and /etc/subgid give the user the ranges it names, as
//!   rootless podman does. [`subordinate_range`] reads those files for
//!   `spec --rootless`.
//!
//! The map a config asks for is written as asked; the choice of writer is
//! made before anything is created, so a missing helper fails at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::runtime::LinuxIdMapping;

use crate::recorder::step;
use crate::rootless::Privilege;

#[derive(Debug, thiserror::Error)]
pub enum IdMapError {
    #[error(
        "writing {file}: {source} (check linux.uidMappings/gidMappings: ranges must not overlap, at most 340 lines)"
    )]
    Write { file: PathBuf, source: std::io::Error },
    #[error(
        "{field}: mapping more than your own {what} {own} takes {helper} (Debian package uidmap) and a range of \
         yours in {subids}; install it, or map only {{\"containerID\": 0, \"hostID\": {own}, \"size\": 1}}"
    )]
    NoHelper { field: &'static str, what: &'static str, own: u32, helper: &'static str, subids: &'static str },
    #[error("{field}: {helper} {args} failed: {message} (check {subids} for your user, and {field})")]
    Helper { field: &'static str, helper: &'static str, args: String, subids: &'static str, message: String },
}

/// Which of the two maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Kind::Uid => "linux.uidMappings",
            Kind::Gid => "linux.gidMappings",
        }
    }

    fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }

    fn subids(self) -> &'static str {
        match self {
            Kind::Uid => "/etc/subuid",
            Kind::Gid => "/etc/subgid",
        }
    }
}

/// How one map gets written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// write(2) with the privilege to write any map (root, or root of the parent namespace).
    Direct,
    /// write(2) of the caller's own id only (for gid_map, setgroups `deny` first).
    OwnId,
    /// The setuid helper at this path (newuidmap or newgidmap).
    Helper(PathBuf),
}

/// The writer of each map, chosen before anything is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapPlan {
    pub uid: Writer,
    pub gid: Writer,
}

impl IdMapPlan {
    /// Decide, for `privilege`, how to write these maps; a helper that is
    /// needed but missing is an error now.
    pub fn new(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping], privilege: Privilege) -> Result<Self, IdMapError> {
        Ok(IdMapPlan {
            uid: writer(Kind::Uid, uid, privilege, find_in_path)?,
            gid: writer(Kind::Gid, gid, privilege, find_in_path)?,
        })
    }
}

fn writer(
    kind: Kind,
    maps: &[LinuxIdMapping],
    privilege: Privilege,
    find: impl Fn(&str) -> Option<PathBuf>,
) -> Result<Writer, IdMapError> {
    let Some((uid, gid)) = privilege.unprivileged() else { return Ok(Writer::Direct) };
    let own = if kind == Kind::Uid { uid } else { gid };
    if let [only] = maps {
        if only.host_id() == own && only.size() == 1 {
            return Ok(Writer::OwnId);
        }
    }
    let helper = kind.helper();
    find(helper).map(Writer::Helper).ok_or(IdMapError::NoHelper {
        field: kind.field(),
        what: if kind == Kind::Uid { "uid" } else { "gid" },
        own,
        helper,
        subids: kind.subids(),
    })
}

/// The lines of /proc/<pid>/uid_map (or gid_map): `inside outside count`.
pub fn id_map_lines(mappings: &[LinuxIdMapping]) -> String {
    mappings.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

/// Write both maps of process `pid`'s new user namespace, each as `plan` says.
pub fn write_id_maps(
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
    plan: &IdMapPlan,
) -> Result<(), IdMapError> {
    for (kind, maps, writer) in [(Kind::Uid, uid, &plan.uid), (Kind::Gid, gid, &plan.gid)] {
        if maps.is_empty() {
            continue;
        }
        let file = PathBuf::from(format!("/proc/{pid}/{}", kind.file()));
        let lines = id_map_lines(maps);
        match writer {
            Writer::Direct => write_file(&file, &lines)?,
            Writer::OwnId => {
                if kind == Kind::Gid {
                    deny_setgroups(pid)?;
                }
                write_file(&file, &lines)?;
            }
            Writer::Helper(helper) => run_helper(kind, helper, pid, maps)?,
        }
        let via = match writer {
            Writer::Helper(helper) => Some(helper),
            _ => None,
        };
        for line in lines.lines() {
            step(kind.file(), |a| {
                a.path("file", &file).str("line", line);
                if let Some(helper) = via {
                    a.path("via", helper);
                }
            });
        }
    }
    Ok(())
}

/// One write(2): the kernel accepts a map only once, whole.
fn write_file(file: &Path, text: &str) -> Result<(), IdMapError> {
    std::fs::write(file, text).map_err(|source| IdMapError::Write { file: file.to_path_buf(), source })
}

/// `deny` to /proc/<pid>/setgroups, which the kernel wants before an
/// unprivileged writer's gid_map.
fn deny_setgroups(pid: i32) -> Result<(), IdMapError> {
    let file = PathBuf::from(format!("/proc/{pid}/setgroups"));
    write_file(&file, "deny")?;
    step("setgroups", |a| {
        a.path("file", &file).str("value", "deny");
    });
    Ok(())
}

/// `newuidmap <pid> <inside> <outside> <count> …`: the helper checks the
/// ranges against /etc/subuid and writes the map.
fn run_helper(kind: Kind, helper: &Path, pid: i32, maps: &[LinuxIdMapping]) -> Result<(), IdMapError> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id().to_string(), m.host_id().to_string(), m.size().to_string()]);
    }
    let failed = |message: String| IdMapError::Helper {
        field: kind.field(),
        helper: kind.helper(),
        args: args.join(" "),
        subids: kind.subids(),
        message,
    };
    let out = Command::new(helper)
        .args(&args)
        .output()
        .map_err(|e| failed(format!("cannot run {}: {e}", helper.display())))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    Err(failed(if said.is_empty() { format!("{}", out.status) } else { said }))
}

/// A program on `$PATH` (or the usual directories when PATH is unset).
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// The first range /etc/subuid (or /etc/subgid) gives the user `name`
/// (uid `id`): lines `name:first:count` or `id:first:count` (subuid(5)).
pub fn subordinate_range(text: &str, name: &str, id: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let who = fields.next()?;
        let first = fields.next()?.parse().ok()?;
        let count = fields.next()?.parse().ok()?;
        (fields.next().is_none() && (who == name || who.parse() == Ok(id)) && count > 0).then_some((first, count))
    })
}

/// The ranges `spec --rootless` maps besides the caller's own ids: its
/// subordinate uids and gids, when it has both and both helpers are
/// installed; otherwise `None` (only its own id is mapped).
pub fn subordinate_ranges_of(name: &str, uid: u32, gid: u32) -> Option<((u32, u32), (u32, u32))> {
    find_in_path("newuidmap")?;
    find_in_path("newgidmap")?;
    let read = |file| std::fs::read_to_string(file).unwrap_or_default();
    let uids = subordinate_range(&read("/etc/subuid"), name, uid)?;
    let gids = subordinate_range(&read("/etc/subgid"), name, gid)?;
    Some((uids, gids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    fn map(inside: u32, outside: u32, size: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default().container_id(inside).host_id(outside).size(size).build().unwrap()
    }

    const USER: Privilege = Privilege::User { uid: 1001, gid: 1002 };
    const NO_HELPER: fn(&str) -> Option<PathBuf> = |_| None;
    const HELPERS: fn(&str) -> Option<PathBuf> = |name| Some(Path::new("/usr/bin").join(name));

    #[test]
    fn id_map_format() {
        assert_eq!(id_map_lines(&[map(0, 100000, 65536)]), "0 100000 65536\n");
        assert_eq!(id_map_lines(&[map(0, 1001, 1), map(1, 100000, 65536)]), "0 1001 1\n1 100000 65536\n");
    }

    #[test]
    fn root_writes_any_map_itself() {
        for privilege in [Privilege::Root, Privilege::RootOfUserNamespace] {
            assert_eq!(writer(Kind::Uid, &[map(0, 100000, 65536)], privilege, NO_HELPER).unwrap(), Writer::Direct);
        }
    }

    #[test]
    fn a_user_maps_its_own_id_alone_and_the_rest_through_the_helpers() {
        assert_eq!(writer(Kind::Uid, &[map(0, 1001, 1)], USER, NO_HELPER).unwrap(), Writer::OwnId);
        assert_eq!(writer(Kind::Gid, &[map(0, 1002, 1)], USER, NO_HELPER).unwrap(), Writer::OwnId);
        // Someone else's id, or more than one: the helper.
        let full = [map(0, 1001, 1), map(1, 100000, 65536)];
        assert_eq!(
            writer(Kind::Uid, &full, USER, HELPERS).unwrap(),
            Writer::Helper(PathBuf::from("/usr/bin/newuidmap"))
        );
        let e = writer(Kind::Gid, &[map(0, 1001, 1)], USER, NO_HELPER).unwrap_err().to_string();
        assert!(e.starts_with("linux.gidMappings: mapping more than your own gid 1002 takes newgidmap"), "{e}");
        assert!(e.contains("/etc/subgid") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn subordinate_ids_by_name_or_number() {
        let text = "alice:100000:65536\n1001:200000:1000\nbad line\nbob:300000:0\n";
        assert_eq!(subordinate_range(text, "alice", 1000), Some((100000, 65536)));
        assert_eq!(subordinate_range(text, "carol", 1001), Some((200000, 1000)));
        assert_eq!(subordinate_range(text, "bob", 7), None, "an empty range is no range");
        assert_eq!(subordinate_range("", "alice", 1000), None);
    }
}
