//! Everything that can go wrong while building the container's root
//! filesystem, as one enum. Each variant names *where the request came from*
//! (`mounts[2]`, `linux.devices[0]`, `linux.maskedPaths[3]`, `root.readonly`…),
//! the path it was about, the kernel's answer, and a hint of what to check —
//! on one line, because it usually ends up in a runc-style log.

use std::path::PathBuf;

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A mount(2) call refused. `call` is the equivalent shell command.
    #[error("{origin} ({what}): mount(2) failed: {errno} — {hint}; the call was `{call}`")]
    Mount { origin: String, what: String, call: String, errno: Errno, hint: String },

    /// A `mounts[]` entry that cannot be turned into mount(2) calls.
    #[error("{origin}: {problem}")]
    BadMount { origin: String, problem: String },

    /// A bind mount whose source is not on the host.
    #[error("{origin}.source: {source_path} does not exist on the host ({errno}) — a bind mount needs an existing file or directory to show")]
    MissingBindSource { origin: String, source_path: PathBuf, errno: Errno },

    /// Walking a container path met a symlink that would leave the rootfs.
    #[error("{field}: {path} goes through the symlink {link} -> {target}, which {why}; glassbox refuses to follow it onto a host path")]
    UnsafeSymlink { field: String, path: PathBuf, link: PathBuf, target: PathBuf, why: &'static str },

    /// A path with `..` that climbs above the container's `/`.
    #[error("{field}: {path} climbs above the container's root with `..`; write the path without `..`")]
    DotDotEscape { field: String, path: PathBuf },

    /// Symlinks pointing at each other (the kernel's own limit is 40).
    #[error("{field}: {path}: more than {limit} symlinks while resolving it inside the rootfs (a loop?)")]
    SymlinkLoop { field: String, path: PathBuf, limit: usize },

    /// A middle component of the path is a file, not a directory.
    #[error("{field}: {path}: {component} inside the rootfs is not a directory, so nothing can be below it")]
    NotADirectory { field: String, path: PathBuf, component: PathBuf },

    /// Looking at, or creating, a file or directory inside the rootfs failed.
    #[error("{field}: could not {action} {path}: {errno} — is that part of the rootfs read-only or full?")]
    Filesystem { field: String, action: &'static str, path: PathBuf, errno: Errno },

    /// mknod(2) (or the chmod/chown right after it) failed.
    #[error("{origin}: {call} failed: {errno} — {hint}")]
    DeviceNode { origin: String, call: String, errno: Errno, hint: &'static str },

    /// A `linux.devices[]` entry that cannot be made.
    #[error("{origin}: {problem}")]
    BadDevice { origin: String, problem: String },

    /// symlink(2) failed.
    #[error("{origin}: `ln -s {target} {link}` failed: {errno}")]
    Symlink { origin: String, link: PathBuf, target: PathBuf, errno: Errno },

    /// `linux.rootfsPropagation` holds a word that is not a propagation type.
    #[error(
        "linux.rootfsPropagation: {value:?} is not one of shared, slave, private, unbindable (or their r- variants)"
    )]
    BadPropagation { value: String },

    /// One step of switching the root (pivot_root, umount, chroot, chdir).
    #[error("{step} failed on {path}: {errno} — {hint}")]
    Enter { step: &'static str, path: PathBuf, errno: Errno, hint: &'static str },

    /// The container's /dev/null is not the null device: masking with it
    /// would put *that* file where a masked path was (CVE-2025-31133's pattern).
    #[error("{origin}: the container's /dev/null is {found}, not the null device (character device 1:3), so glassbox will not mask with it; mount a tmpfs on /dev (mounts[]) so glassbox makes /dev/null, or fix the image's /dev/null")]
    NotTheNullDevice { origin: String, found: String },

    /// A symlink of the image where glassbox would mount: never followed.
    #[error("{origin} ({what}): {path} in the container is {found}; glassbox does not mount through a symlink of the image (it could point at a file of /proc or /sys)")]
    SymlinkInTheWay { origin: String, what: &'static str, path: PathBuf, found: String },

    /// After mounting, the path is not what was mounted there.
    #[error("{origin} ({what}): after mounting, {path} is {found} rather than {wanted}; something moved it: refusing to go on")]
    NotInPlace { origin: String, what: &'static str, path: PathBuf, wanted: &'static str, found: String },

    /// Mounts a container without a mount namespace of its own left on the
    /// host, which `delete` could not take away.
    #[error("the container's mounts on {rootfs} could not all be removed: {problem}")]
    Leftover { rootfs: PathBuf, problem: String },

    /// A host file glassbox reads to decide (mountinfo, /sys/fs/cgroup).
    #[error("could not read {path} to {purpose}: {errno}")]
    HostInfo { path: PathBuf, purpose: &'static str, errno: Errno },
}

/// `std::io::Error` → `Errno`, so every variant shows the kernel's own name (ENOENT, EPERM…).
pub(crate) fn errno_of(e: &std::io::Error) -> Errno {
    e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::UnknownErrno)
}

/// What a failed mount(2) most likely means, by errno.
pub(crate) fn mount_hint(errno: Errno, data: Option<&str>) -> String {
    match errno {
        Errno::EINVAL => match data {
            Some(d) if !d.is_empty() => format!("check the options {d:?}"),
            _ => "check the flags and that the target is a mount point where one is needed".into(),
        },
        Errno::ENODEV => "this kernel does not know that filesystem type (see /proc/filesystems)".into(),
        Errno::ENOENT => "the source or the target does not exist".into(),
        Errno::ENOTDIR => "a directory was mounted on a file or the other way round".into(),
        Errno::EPERM | Errno::EACCES => {
            "not permitted: in a user namespace some filesystems and flag changes are refused".into()
        }
        Errno::EBUSY => "something is already mounted there or the mount is in use".into(),
        _ => "see mount(2) for this error".into(),
    }
}
