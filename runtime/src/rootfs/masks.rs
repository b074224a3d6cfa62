//! The last touches, after pivot_root, when `/` is the container's own
//! (runtime-spec config-linux.md "Masked Paths", "Readonly Paths", and
//! config.md `root.readonly`; mount(2)):
//! - each `linux.maskedPaths[]` is hidden: `/dev/null` bound over a file,
//!   a read-only empty tmpfs over a directory;
//! - each `linux.readonlyPaths[]` is bound onto itself, then remounted
//!   read-only, keeping the nosuid/nodev/noexec it already had;
//! - `root.readonly` remounts `/` read-only the same way;
//! - `linux.rootfsPropagation`, when set, is applied to `/` as written.
//!
//! A path that does not exist in this container is skipped silently, as runc
//! does: the defaults list /proc files that older kernels lack.

use std::fmt;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

use nix::sys::statvfs::{statvfs, FsFlags};

use super::actions::MountCall;
use super::error::RootfsError;
use super::in_root::{self, InRoot, Root};
use super::mounts::{existing_flags, mount, mount_at, mount_error};
use super::options::propagation_flags;
use crate::recorder;

/// One finishing step; most of them decide their exact mount(2) calls only
/// when they see the path (file or directory, flags it has).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishStep {
    Mask { origin: String, path: PathBuf },
    ReadOnly { origin: String, path: PathBuf },
    ReadOnlyRoot,
    Propagation(MsFlags),
}

impl fmt::Display for FinishStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinishStep::Mask { path, .. } => write!(f, "hide {}", path.display()),
            FinishStep::ReadOnly { path, .. } => write!(f, "make {} read-only", path.display()),
            FinishStep::ReadOnlyRoot => write!(f, "make / read-only"),
            FinishStep::Propagation(flags) => MountCall::propagation("/", *flags).fmt(f),
        }
    }
}

/// The finishing steps for this spec, in the order runc takes them.
pub fn plan_finish(spec: &Spec) -> Result<Vec<FinishStep>, RootfsError> {
    let linux = spec.linux().as_ref();
    let mut steps = Vec::new();
    let masked = linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default();
    for (i, p) in masked.iter().enumerate() {
        steps.push(FinishStep::Mask { origin: format!("linux.maskedPaths[{i}]"), path: p.into() });
    }
    let readonly = linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default();
    for (i, p) in readonly.iter().enumerate() {
        steps.push(FinishStep::ReadOnly { origin: format!("linux.readonlyPaths[{i}]"), path: p.into() });
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        steps.push(FinishStep::ReadOnlyRoot);
    }
    if let Some(word) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        let flags = propagation_flags(word).ok_or_else(|| RootfsError::BadPropagation { value: word.into() })?;
        steps.push(FinishStep::Propagation(flags));
    }
    Ok(steps)
}

/// The mount(2) call that hides a path: a read-only tmpfs over a
/// directory, /dev/null bound over anything else. What the record and the
/// narrator show; the call itself is made through descriptors ([`mask`]).
pub fn mask_call(path: &Path, is_dir: bool) -> MountCall {
    if is_dir {
        MountCall::new_fs("tmpfs", "tmpfs", path, MsFlags::MS_RDONLY, None)
    } else {
        MountCall::bind("/dev/null", path, false)
    }
}

fn origin_of(step: &FinishStep) -> (&str, &'static str) {
    match step {
        FinishStep::Mask { origin, .. } => (origin, "masked path"),
        FinishStep::ReadOnly { origin, .. } => (origin, "read-only path"),
        FinishStep::ReadOnlyRoot => ("root.readonly", "read-only /"),
        FinishStep::Propagation(_) => ("linux.rootfsPropagation", "propagation of /"),
    }
}

/// What the steps share: the container's root, opened once, and its
/// /dev/null, opened at the first mask and checked to be the null device —
/// never the image's file or symlink of that name.
pub struct Finishing {
    root: Root,
    null: Option<InRoot>,
}

impl Finishing {
    pub fn new() -> Result<Finishing, RootfsError> {
        let root = Root::current().map_err(|errno| RootfsError::Filesystem {
            field: "linux.maskedPaths".into(),
            action: "open",
            path: "/".into(),
            errno,
        })?;
        Ok(Finishing { root, null: None })
    }
}

/// Runs one step.
pub fn apply_finish_step(step: &FinishStep, at: &mut Finishing) -> Result<(), RootfsError> {
    let (origin, what) = origin_of(step);
    match step {
        FinishStep::Mask { path, .. } => mask(origin, path, at),
        FinishStep::ReadOnly { path, .. } => make_read_only(origin, path, &at.root),
        FinishStep::ReadOnlyRoot => {
            recorder::step("readonly", |a| {
                a.str("path", "/");
            });
            let call = MountCall::remount_bind("/", MsFlags::MS_RDONLY);
            let kept = existing_flags(Path::new("/")).map_err(|e| mount_error(origin, what, &call, e))?;
            let call = MountCall::remount_bind("/", kept | MsFlags::MS_RDONLY);
            mount(&call, &call.target).map_err(|e| mount_error(origin, what, &call, e))
        }
        FinishStep::Propagation(flags) => {
            let call = MountCall::propagation("/", *flags);
            mount(&call, &call.target).map_err(|e| mount_error(origin, what, &call, e))
        }
    }
}

/// The path as an O_PATH descriptor, refusing a symlink of the image in its
/// place; `None` when it does not exist (skipped, as runc does).
fn open_target(root: &Root, origin: &str, what: &'static str, path: &Path) -> Result<Option<InRoot>, RootfsError> {
    let opened = root.open(path).map_err(|errno| RootfsError::Filesystem {
        field: origin.into(),
        action: "open (inside the container, no magic links)",
        path: path.into(),
        errno,
    })?;
    match opened {
        Some(target) if target.is_symlink() => Err(RootfsError::SymlinkInTheWay {
            origin: origin.into(),
            what,
            path: path.into(),
            found: target.describe(path),
        }),
        other => Ok(other),
    }
}

/// Hide `path`: a read-only tmpfs over a directory, the *checked* /dev/null
/// over anything else; then look again that this is what is there now.
fn mask(origin: &str, path: &Path, at: &mut Finishing) -> Result<(), RootfsError> {
    let what = "masked path";
    let Some(target) = open_target(&at.root, origin, what, path)? else { return Ok(()) };
    let call = mask_call(path, target.is_dir());
    let how = if target.is_dir() { "read-only tmpfs" } else { "bind /dev/null" };
    recorder::step("mask", |a| {
        a.str("how", how).path("path", path);
    });
    let fail = |e| mount_error(origin, what, &call, e);
    if target.is_dir() {
        mount_at(&call, call.source.as_deref(), &target.proc_path()).map_err(fail)?;
        let is_dir = in_root::look(path).is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR);
        if !is_dir || !statvfs(path).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
            return Err(not_in_place(origin, what, path, "a read-only tmpfs"));
        }
    } else {
        let null = checked_null(origin, at)?;
        mount_at(&call, Some(&null.proc_path()), &target.proc_path()).map_err(fail)?;
        if !in_root::look(path).is_some_and(|now| in_root::is_char_device(&now, 1, 3)) {
            return Err(not_in_place(origin, what, path, "the null device"));
        }
    }
    Ok(())
}

/// /dev/null as the container has it, once: it must be the character
/// device 1:3 itself (glassbox made it, or the image's real node).
fn checked_null<'a>(origin: &str, at: &'a mut Finishing) -> Result<&'a InRoot, RootfsError> {
    if at.null.is_none() {
        let path = Path::new("/dev/null");
        let opened = at.root.open(path).map_err(|errno| RootfsError::Filesystem {
            field: origin.into(),
            action: "open",
            path: path.into(),
            errno,
        })?;
        match opened {
            Some(dev) if dev.is_char_device(1, 3) => at.null = Some(dev),
            found => {
                let found = found.map_or_else(|| "missing".into(), |dev| dev.describe(path));
                return Err(RootfsError::NotTheNullDevice { origin: origin.into(), found });
            }
        }
    }
    Ok(at.null.as_ref().expect("just set"))
}

/// Bind `path` onto itself, then remount that bind read-only, keeping the
/// nosuid/nodev/noexec it already had; then check it is read-only.
fn make_read_only(origin: &str, path: &Path, root: &Root) -> Result<(), RootfsError> {
    let what = "read-only path";
    let Some(target) = open_target(root, origin, what, path)? else { return Ok(()) };
    recorder::step("readonly", |a| {
        a.path("path", path);
    });
    let at = target.proc_path();
    let remount = MountCall::remount_bind(path, MsFlags::MS_RDONLY);
    let kept = existing_flags(&at).map_err(|e| mount_error(origin, what, &remount, e))?;
    let bind = MountCall::bind(path, path, true);
    mount_at(&bind, Some(&at), &at).map_err(|e| mount_error(origin, what, &bind, e))?;
    // The bind is a new mount over the path: reach it by the path again.
    let Some(bound) = open_target(root, origin, what, path)? else {
        return Err(not_in_place(origin, what, path, "a read-only bind mount"));
    };
    let remount = MountCall::remount_bind(path, kept | MsFlags::MS_RDONLY);
    mount_at(&remount, None, &bound.proc_path()).map_err(|e| mount_error(origin, what, &remount, e))?;
    if !statvfs(&bound.proc_path()).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        return Err(not_in_place(origin, what, path, "a read-only bind mount"));
    }
    Ok(())
}

fn not_in_place(origin: &str, what: &'static str, path: &Path, wanted: &'static str) -> RootfsError {
    let found = InRoot::open(path).ok().flatten().map_or_else(|| "gone".into(), |now| now.describe(path));
    RootfsError::NotInPlace { origin: origin.into(), what, path: path.into(), wanted, found }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, RootBuilder, SpecBuilder};

    #[test]
    fn finish_plan_order_and_bad_propagation() {
        let linux = LinuxBuilder::default()
            .masked_paths(vec!["/proc/kcore".to_string()])
            .readonly_paths(vec!["/proc/sys".to_string()])
            .rootfs_propagation("rshared")
            .build()
            .unwrap();
        let root = RootBuilder::default().path("rootfs").readonly(true).build().unwrap();
        let spec = SpecBuilder::default().linux(linux).root(root).build().unwrap();
        let shown: Vec<String> = plan_finish(&spec).unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            shown,
            vec!["hide /proc/kcore", "make /proc/sys read-only", "make / read-only", "mount --make-rshared /"]
        );
        let linux = LinuxBuilder::default().rootfs_propagation("sideways").build().unwrap();
        let spec = SpecBuilder::default().linux(linux).build().unwrap();
        assert!(plan_finish(&spec).unwrap_err().to_string().contains("\"sideways\""));
    }

    #[test]
    fn a_mask_is_a_tmpfs_over_a_directory_and_dev_null_over_the_rest() {
        assert_eq!(mask_call(Path::new("/proc/kcore"), false).to_string(), "mount --bind /dev/null /proc/kcore");
        assert_eq!(mask_call(Path::new("/sys/firmware"), true).to_string(), "mount -t tmpfs -o ro tmpfs /sys/firmware");
    }
}
