//! Running glassbox without root ("rootless", as runc and podman call it):
//! who this process is, and what that changes before anything is made.
//!
//! Three kinds of caller (credentials(7), user_namespaces(7)):
//! - **root of the host**: every capability over everything; nothing changes.
//! - **root of a user namespace** someone else made (rootless podman runs
//!   its runtime so): every capability over what that namespace owns, none
//!   over the host's cgroup tree or devices.
//! - **an ordinary user**: no capability at all. The container then needs a
//!   user namespace of its own, in which the caller's uid becomes root; the
//!   kernel lets an unprivileged process map exactly one id, its own
//!   (setgroups "deny" first), and `newuidmap`/`newgidmap` (setuid helpers
//!   reading /etc/subuid and /etc/subgid) map more.
//!
//! Without root, glassbox makes a cgroup only where it may write (a subtree
//! delegated to the user, see [`crate::cgroups::may_make_without_root`]);
//! otherwise the container has none, and it is followed by its pid
//! namespace instead — which it must then have. Every refusal here is one
//! line naming the field of config.json and what to do.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("--rootless {0:?}: use true, false or auto")]
    Flag(String),
    #[error(
        "not root (uid {uid}) and XDG_RUNTIME_DIR is not set: pass --root DIR (a directory of yours for the \
         containers' state) or set XDG_RUNTIME_DIR (glassbox then uses $XDG_RUNTIME_DIR/glassbox)"
    )]
    NoStateRoot { uid: u32 },
    #[error("{field}: {message}")]
    Refused { field: String, message: String },
}

/// Who this process is, as far as making a container goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// uid 0 in the host's (initial) user namespace.
    Root,
    /// uid 0 of a user namespace that is not the host's (rootless podman).
    RootOfUserNamespace,
    /// Any other effective uid: no capabilities.
    User { uid: u32, gid: u32 },
}

impl Privilege {
    /// geteuid(2); for uid 0, /proc/self/uid_map tells the host's user
    /// namespace (`0 0 4294967295`, every id mapped to itself) from another.
    pub fn of_this_process() -> Privilege {
        let uid = nix::unistd::geteuid().as_raw();
        if uid != 0 {
            return Privilege::User { uid, gid: nix::unistd::getegid().as_raw() };
        }
        match std::fs::read_to_string("/proc/self/uid_map") {
            Ok(map) if !is_initial_map(&map) => Privilege::RootOfUserNamespace,
            _ => Privilege::Root,
        }
    }

    /// Without root over the host: cgroups only where delegated.
    pub fn is_rootless(self) -> bool {
        self != Privilege::Root
    }

    /// No capability at all: the user namespace and its maps are the caller's only way to be root.
    pub fn unprivileged(self) -> Option<(u32, u32)> {
        match self {
            Privilege::User { uid, gid } => Some((uid, gid)),
            _ => None,
        }
    }
}

/// The host's user namespace maps every id to itself: one line, `0 0 4294967295`.
fn is_initial_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// runc's global `--rootless true|false|auto`: whether a cgroup glassbox may
/// not make is skipped (true) or an error (false); auto (`None`, the
/// default) decides from who runs it ([`Privilege::is_rootless`]).
pub fn parse_rootless_flag(value: Option<&str>) -> Result<Option<bool>, RootlessError> {
    match value {
        None | Some("auto") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(RootlessError::Flag(other.into())),
    }
}

/// The state root when `--root` is not given: `/run/glassbox` for root,
/// `$XDG_RUNTIME_DIR/glassbox` for anyone else (the per-user runtime
/// directory, /run/user/<uid> on systemd hosts) — and for root of a user
/// namespace when XDG_RUNTIME_DIR says where that user's files go, since
/// /run is the host root's.
pub fn default_state_root() -> Result<PathBuf, RootlessError> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()).map(PathBuf::from);
    let uid = nix::unistd::geteuid().as_raw();
    match (uid, xdg) {
        (0, None) => Ok(PathBuf::from(crate::paths::Paths::DEFAULT_STATE_ROOT)),
        (0, Some(dir)) => match Privilege::of_this_process() {
            Privilege::Root => Ok(PathBuf::from(crate::paths::Paths::DEFAULT_STATE_ROOT)),
            _ => Ok(dir.join("glassbox")),
        },
        (_, Some(dir)) => Ok(dir.join("glassbox")),
        (uid, None) => Err(RootlessError::NoStateRoot { uid }),
    }
}

/// What config.json asks that cannot be done by `privilege`, checked
/// before anything is made. `has_cgroup`: whether the container gets one.
pub fn check(spec: &Spec, privilege: Privilege, has_cgroup: bool) -> Result<(), RootlessError> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let new = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t && n.path().is_none());
    let joined = |t: LinuxNamespaceType| namespaces.iter().find(|n| n.typ() == t).and_then(|n| n.path().clone());
    if let Some((uid, _)) = privilege.unprivileged() {
        if !new(LinuxNamespaceType::User) && joined(LinuxNamespaceType::User).is_none() {
            return refuse(
                "linux.namespaces",
                format!(
                    "glassbox runs as uid {uid}, not root: the container needs a user namespace to be root in \
                     (add {{\"type\": \"user\"}} with linux.uidMappings and linux.gidMappings, as \
                     `glassbox spec --rootless` writes)"
                ),
            );
        }
    }
    if privilege.is_rootless() {
        // The runtime enters these itself, just before clone, and steps
        // back into its own: setns(2) to a pid or time namespace wants
        // CAP_SYS_ADMIN over the namespace left and the one entered, and
        // without root the host's are out of reach.
        for t in [LinuxNamespaceType::Pid, LinuxNamespaceType::Time] {
            if let Some(path) = joined(t) {
                let kind = crate::namespaces::proc_name(t);
                return refuse(
                    "linux.namespaces",
                    format!(
                        "joining the {kind} namespace {} takes CAP_SYS_ADMIN over the host's {kind} namespace, \
                         which glassbox does not have without root: run it as root, or drop the path to get a \
                         new {kind} namespace",
                        path.display()
                    ),
                );
            }
        }
        if new(LinuxNamespaceType::Time) {
            return refuse(
                "linux.namespaces",
                "a new time namespace is made by the runtime just before clone, and stepping back out of it \
                 takes CAP_SYS_ADMIN over the host's, which glassbox does not have without root: run it as \
                 root, or remove the time namespace"
                    .into(),
            );
        }
    }
    if has_cgroup {
        return Ok(());
    }
    if let Some(field) = linux.resources().as_ref().and_then(limit_needing_a_cgroup) {
        return refuse(
            &format!("linux.resources.{field}"),
            "this container gets no cgroup (glassbox runs without root and may not write the cgroup tree \
             here), so no limit can be enforced: remove the limit, delegate a cgroup2 subtree to this user \
             and name it in linux.cgroupsPath, or run glassbox as root"
                .into(),
        );
    }
    if !new(LinuxNamespaceType::Pid) {
        return refuse(
            "linux.namespaces",
            "this container gets no cgroup (glassbox runs without root and may not write the cgroup tree here), \
             so its processes are found and killed through its own pid namespace: add {\"type\": \"pid\"} \
             without a path"
                .into(),
        );
    }
    Ok(())
}

fn refuse(field: &str, message: String) -> Result<(), RootlessError> {
    Err(RootlessError::Refused { field: field.into(), message })
}

/// The first `linux.resources` field that sets a limit only a cgroup can
/// enforce. `devices` is not one of them: without a cgroup the container's
/// device nodes are binds of the host's, guarded by the host's own
/// permissions (glassbox records the rules it leaves out).
pub fn limit_needing_a_cgroup(r: &LinuxResources) -> Option<&'static str> {
    let set = [
        ("memory", r.memory().is_some()),
        ("cpu", r.cpu().is_some()),
        ("pids", r.pids().is_some()),
        ("blockIO", r.block_io().is_some()),
        ("hugepageLimits", r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty())),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|l| !l.is_empty())),
        ("unified", r.unified().as_ref().is_some_and(|l| !l.is_empty())),
    ];
    set.into_iter().find(|(_, present)| *present).map(|(field, _)| field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(linux: serde_json::Value) -> Spec {
        serde_json::from_value(json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
            "linux": linux
        }))
        .unwrap()
    }

    fn error(spec: &Spec, privilege: Privilege, has_cgroup: bool) -> String {
        check(spec, privilege, has_cgroup).unwrap_err().to_string()
    }

    const USER: Privilege = Privilege::User { uid: 1001, gid: 1001 };

    #[test]
    fn the_host_map_is_told_from_a_namespace_map() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1001          1\n"));
        assert!(!is_initial_map("0 1001 1\n1 100000 65536\n"));
    }

    #[test]
    fn the_flag_follows_runc() {
        assert_eq!(parse_rootless_flag(None).unwrap(), None);
        assert_eq!(parse_rootless_flag(Some("auto")).unwrap(), None);
        assert_eq!(parse_rootless_flag(Some("false")).unwrap(), Some(false));
        assert_eq!(parse_rootless_flag(Some("true")).unwrap(), Some(true));
        assert!(parse_rootless_flag(Some("yes")).unwrap_err().to_string().contains("true, false or auto"));
        assert!(USER.is_rootless() && Privilege::RootOfUserNamespace.is_rootless() && !Privilege::Root.is_rootless());
    }

    #[test]
    fn a_user_needs_a_user_namespace() {
        let s = spec(json!({"namespaces": [{"type": "pid"}, {"type": "mount"}]}));
        let e = error(&s, USER, false);
        assert!(e.starts_with("linux.namespaces: glassbox runs as uid 1001") && e.contains("spec --rootless"), "{e}");
        // Root of a user namespace (podman) has one already.
        assert!(check(&s, Privilege::RootOfUserNamespace, false).is_ok());
        assert!(check(&s, Privilege::Root, true).is_ok());
    }

    #[test]
    fn no_cgroup_means_no_limits_and_a_pid_namespace() {
        let s = spec(json!({
            "namespaces": [{"type": "pid"}, {"type": "user"}],
            "resources": {"memory": {"limit": 1048576}, "devices": [{"allow": false, "access": "rwm"}]}
        }));
        let e = error(&s, USER, false);
        assert!(e.starts_with("linux.resources.memory: this container gets no cgroup"), "{e}");
        assert!(check(&s, USER, true).is_ok(), "a delegated cgroup takes limits");

        let devices_only = spec(json!({
            "namespaces": [{"type": "pid"}, {"type": "user"}],
            "resources": {"devices": [{"allow": false, "access": "rwm"}]}
        }));
        assert!(check(&devices_only, USER, false).is_ok());

        let no_pid = spec(json!({"namespaces": [{"type": "user"}]}));
        let e = error(&no_pid, USER, false);
        assert!(e.starts_with("linux.namespaces: this container gets no cgroup") && e.contains("\"pid\""), "{e}");
        let host_pid = spec(json!({"namespaces": [{"type": "mount"}]}));
        assert!(error(&host_pid, Privilege::RootOfUserNamespace, false).contains("own pid namespace"));
    }

    #[test]
    fn without_root_pid_and_time_namespaces_cannot_be_entered_first() {
        let joined = spec(json!({"namespaces": [{"type": "user"}, {"type": "pid", "path": "/proc/1/ns/pid"}]}));
        let e = error(&joined, USER, true);
        assert!(e.contains("joining the pid namespace /proc/1/ns/pid takes CAP_SYS_ADMIN"), "{e}");
        let e = error(&joined, Privilege::RootOfUserNamespace, true);
        assert!(e.contains("joining the pid namespace"), "{e}");
        assert!(check(&joined, Privilege::Root, true).is_ok());
        let time = spec(json!({"namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "time"}]}));
        assert!(error(&time, USER, true).contains("new time namespace"));
    }

    #[test]
    fn every_message_is_one_line() {
        let s = spec(json!({"namespaces": []}));
        for e in [error(&s, USER, false), RootlessError::NoStateRoot { uid: 1001 }.to_string()] {
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
