//! Device nodes and the /dev symlinks (runtime-spec config-linux.md,
//! "Devices" and "Default Devices"; mknod(2), makedev(3)).
//!
//! Every container gets /dev/null, zero, full, random, urandom and tty
//! (mode 0666, root-owned), plus each `linux.devices[]` entry — an entry with
//! the same path replaces the default. A node that already exists is left as
//! it is (as runc does). In a user namespace mknod(2) of a device is refused,
//! so the host's node of the same path is bind-mounted onto an empty file
//! instead. Then the symlinks `/dev/fd`, `/dev/stdin`, `/dev/stdout`,
//! `/dev/stderr`, and `/dev/ptmx -> pts/ptmx` when `/dev/pts` is a devpts mount
//! (so each container uses its own devpts instance). `/dev/console` belongs
//! to the terminal code.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::actions::{MountCall, NodeCall, NodeKind, SymlinkCall};
use super::error::{errno_of, RootfsError};
use super::mounts::{mount, mount_error};
use super::secure_path::ensure_in_rootfs;
use super::symlinks::make_symlink;

/// The largest device numbers there are: inside the kernel a dev_t has 12
/// bits of major and 20 of minor (include/linux/kdev_t.h). A bigger number
/// names no device — or another one, once makedev(3) and mknod(2) have cut
/// it down to their bits — so it is refused.
pub const MAX_MAJOR: i64 = (1 << 12) - 1;
pub const MAX_MINOR: i64 = (1 << 20) - 1;

/// The runtime-spec's default devices: (path, major, minor), all char, 0666.
pub const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The runtime-spec's default /dev symlinks: (link, target).
pub const DEFAULT_LINKS: &[(&str, &str)] = &[
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
];

/// One thing to make under /dev.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceAction {
    /// mknod(2) (+ chmod, chown).
    Mknod {
        origin: String,
        node: NodeCall,
    },
    /// User namespace: an empty file, then `mount --bind <host node> <node>`.
    BindHostNode {
        origin: String,
        node: NodeCall,
    },
    Symlink {
        origin: String,
        link: SymlinkCall,
    },
}

impl fmt::Display for DeviceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceAction::Mknod { node, .. } => node.fmt(f),
            DeviceAction::BindHostNode { node, .. } => {
                let p = node.path.display();
                write!(f, "touch {p} && mount --bind {p} {p}")
            }
            DeviceAction::Symlink { link, .. } => link.fmt(f),
        }
    }
}

/// Decides every node and link, in order: defaults, `linux.devices[]`, links.
pub fn plan_devices(spec: &Spec, in_user_namespace: bool) -> Result<Vec<DeviceAction>, RootfsError> {
    let listed = spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default();
    let mut nodes: Vec<(String, NodeCall)> = DEFAULT_DEVICES
        .iter()
        .filter(|(path, _, _)| !listed.iter().any(|d| d.path() == Path::new(path)))
        .map(|(path, major, minor)| {
            let node = NodeCall {
                path: path.into(),
                kind: NodeKind::Char,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            };
            (format!("default device {path}"), node)
        })
        .collect();
    for (i, d) in listed.iter().enumerate() {
        let origin = format!("linux.devices[{i}]");
        let bad = |problem: String| RootfsError::BadDevice { origin: origin.clone(), problem };
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => NodeKind::Char,
            LinuxDeviceType::B => NodeKind::Block,
            LinuxDeviceType::P => NodeKind::Fifo,
            LinuxDeviceType::A => {
                return Err(bad(format!(
                    "{}: type \"a\" only exists in device cgroup rules; a node is c, b, u or p",
                    d.path().display()
                )))
            }
        };
        let number = |what: &str, n: i64, max: i64| match u64::try_from(n) {
            Ok(n) if n <= max as u64 => Ok(n),
            _ => Err(bad(format!("{}: {what} {n} is not a device number (0–{max})", d.path().display()))),
        };
        let major = number("major", d.major(), MAX_MAJOR)?;
        let minor = number("minor", d.minor(), MAX_MINOR)?;
        let node = NodeCall {
            path: Path::new("/").join(d.path()),
            kind,
            major,
            minor,
            // fileMode may carry the S_IFCHR type bits too; only permissions matter here.
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        nodes.push((origin, node));
    }
    let mut actions: Vec<DeviceAction> = nodes
        .into_iter()
        .map(|(origin, node)| {
            if in_user_namespace && node.kind != NodeKind::Fifo {
                DeviceAction::BindHostNode { origin, node }
            } else {
                DeviceAction::Mknod { origin, node }
            }
        })
        .collect();
    for (link, target) in DEFAULT_LINKS {
        let link = SymlinkCall { link: link.into(), target: target.into(), replace: false };
        actions.push(DeviceAction::Symlink { origin: "default /dev symlink".into(), link });
    }
    let devpts =
        spec.mounts().as_deref().unwrap_or_default().iter().any(|m| {
            Path::new("/").join(m.destination()) == Path::new("/dev/pts") && m.typ().as_deref() == Some("devpts")
        });
    if devpts {
        let link = SymlinkCall { link: "/dev/ptmx".into(), target: "pts/ptmx".into(), replace: true };
        actions.push(DeviceAction::Symlink { origin: "mounts[] devpts on /dev/pts".into(), link });
    }
    Ok(actions)
}

/// Makes one planned device action inside the rootfs.
pub fn apply_device(rootfs: &Path, action: &DeviceAction) -> Result<(), RootfsError> {
    let result = apply_device_action(rootfs, action);
    crate::recorder::step("device", |a| {
        a.display("equivalent", action).result("result", &result);
    });
    result
}

fn apply_device_action(rootfs: &Path, action: &DeviceAction) -> Result<(), RootfsError> {
    match action {
        DeviceAction::Mknod { origin, node } => {
            let Some(host) = free_node_path(rootfs, &node.path, origin)? else {
                return Ok(());
            };
            make_node(node, &host, origin)
        }
        DeviceAction::BindHostNode { origin, node } => {
            let Some(_) = free_node_path(rootfs, &node.path, origin)? else {
                return Ok(());
            };
            let host = ensure_in_rootfs(rootfs, &node.path, origin, true)?;
            let call = MountCall::bind(&node.path, &node.path, false);
            mount(&call, &host).map_err(|e| mount_error(origin, "host device node", &call, e))
        }
        DeviceAction::Symlink { origin, link } => make_symlink(rootfs, link, origin),
    }
}

/// The host path for a new node, its directory created; `None` when
/// something already exists there (left as it is).
fn free_node_path(rootfs: &Path, path: &Path, origin: &str) -> Result<Option<PathBuf>, RootfsError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().ok_or_else(|| RootfsError::BadDevice {
        origin: origin.into(),
        problem: format!("{} is not a file path", path.display()),
    })?;
    let host = ensure_in_rootfs(rootfs, parent, origin, false)?.join(name);
    Ok(std::fs::symlink_metadata(&host).is_err().then_some(host))
}

fn make_node(node: &NodeCall, host: &Path, origin: &str) -> Result<(), RootfsError> {
    let fail = |errno: Errno, hint: &'static str| RootfsError::DeviceNode {
        origin: origin.into(),
        call: node.to_string(),
        errno,
        hint,
    };
    let kind = match node.kind {
        NodeKind::Char => SFlag::S_IFCHR,
        NodeKind::Block => SFlag::S_IFBLK,
        NodeKind::Fifo => SFlag::S_IFIFO,
    };
    let mode = Mode::from_bits_truncate(node.mode);
    mknod(host, kind, mode, makedev(node.major, node.minor))
        .map_err(|e| fail(e, "is /dev read-only or mounted nodev, or are we in a user namespace?"))?;
    // mknod(2) applied the umask; set the exact mode asked for.
    std::fs::set_permissions(host, std::fs::Permissions::from_mode(node.mode))
        .map_err(|e| fail(errno_of(&e), "could not chmod the new node"))?;
    if node.uid != 0 || node.gid != 0 {
        std::os::unix::fs::lchown(host, Some(node.uid), Some(node.gid))
            .map_err(|e| fail(errno_of(&e), "could not chown the new node: is that uid/gid mapped?"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{get_default_mounts, LinuxBuilder, LinuxDeviceBuilder, SpecBuilder};

    #[test]
    fn defaults_spec_devices_and_links() {
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .file_mode(0o20660u32)
            .gid(5u32)
            .build()
            .unwrap();
        let null = LinuxDeviceBuilder::default()
            .path("/dev/null")
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .file_mode(0o600u32)
            .build()
            .unwrap();
        let linux = LinuxBuilder::default().devices(vec![fuse, null]).build().unwrap();
        let spec = SpecBuilder::default().linux(linux).mounts(get_default_mounts()).build().unwrap();
        let shown: Vec<String> = plan_devices(&spec, false).unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(
            shown,
            vec![
                "mknod -m 0666 /dev/zero c 1 5",
                "mknod -m 0666 /dev/full c 1 7",
                "mknod -m 0666 /dev/random c 1 8",
                "mknod -m 0666 /dev/urandom c 1 9",
                "mknod -m 0666 /dev/tty c 5 0",
                "mknod -m 0660 /dev/fuse c 10 229 && chown 0:5 /dev/fuse",
                "mknod -m 0600 /dev/null c 1 3",
                "ln -s /proc/self/fd /dev/fd",
                "ln -s /proc/self/fd/0 /dev/stdin",
                "ln -s /proc/self/fd/1 /dev/stdout",
                "ln -s /proc/self/fd/2 /dev/stderr",
                "ln -sf pts/ptmx /dev/ptmx",
            ]
        );
    }

    #[test]
    fn user_namespace_binds_and_bad_types() {
        let spec = SpecBuilder::default().mounts(vec![]).build().unwrap();
        let plan = plan_devices(&spec, true).unwrap();
        assert_eq!(plan[0].to_string(), "touch /dev/null && mount --bind /dev/null /dev/null");
        assert!(!plan.iter().any(|a| a.to_string().contains("ptmx")), "no devpts mount, no ptmx link");
        let all = LinuxDeviceBuilder::default().path("/dev/x").typ(LinuxDeviceType::A).build().unwrap();
        let spec =
            SpecBuilder::default().linux(LinuxBuilder::default().devices(vec![all]).build().unwrap()).build().unwrap();
        let err = plan_devices(&spec, false).unwrap_err().to_string();
        assert!(err.starts_with("linux.devices[0]: /dev/x: type \"a\""), "{err}");
    }

    /// Seen while writing fuzz/'s config target: nix's makedev keeps 12
    /// bits of a major (and mknod(2) 32 of the whole), so 4294967297:1 made
    /// a node for 1:1, /dev/mem.
    #[test]
    fn a_device_number_the_kernel_has_not_is_refused() {
        let device = |major: i64, minor: i64| {
            let d = LinuxDeviceBuilder::default()
                .path("/dev/x")
                .typ(LinuxDeviceType::C)
                .major(major)
                .minor(minor)
                .build()
                .unwrap();
            let linux = LinuxBuilder::default().devices(vec![d]).build().unwrap();
            plan_devices(&SpecBuilder::default().linux(linux).build().unwrap(), false)
        };
        for (major, minor) in [(4_294_967_297, 1), (4096, 0), (1, 1 << 20), (1, 4_294_967_299)] {
            let err = device(major, minor).unwrap_err().to_string();
            assert!(err.contains("is not a device number"), "{major}:{minor}: {err}");
        }
        assert!(device(4095, (1 << 20) - 1).is_ok());
    }
}
