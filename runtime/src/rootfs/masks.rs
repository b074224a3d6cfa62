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

use super::actions::MountCall;
use super::error::RootfsError;
use super::mounts::{existing_flags, mount, mount_error};
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

/// The mount(2) calls one step makes, given what is at its path now.
/// Empty when the path does not exist.
pub fn calls_for(step: &FinishStep) -> Result<Vec<MountCall>, RootfsError> {
    let calls = match step {
        FinishStep::Mask { path, .. } => match std::fs::metadata(path) {
            Err(_) => vec![],
            Ok(m) if m.is_dir() => vec![MountCall::new_fs("tmpfs", "tmpfs", path, MsFlags::MS_RDONLY, None)],
            Ok(_) => vec![MountCall::bind("/dev/null", path, false)],
        },
        FinishStep::ReadOnly { path, origin } => {
            if std::fs::metadata(path).is_err() {
                return Ok(vec![]);
            }
            let kept = existing_flags(path).map_err(|e| {
                mount_error(origin, "read-only path", &MountCall::remount_bind(path, MsFlags::MS_RDONLY), e)
            })?;
            vec![MountCall::bind(path, path, true), MountCall::remount_bind(path, kept | MsFlags::MS_RDONLY)]
        }
        FinishStep::ReadOnlyRoot => {
            let kept = existing_flags(Path::new("/"))
                .map_err(|e| mount_error("root.readonly", "/", &MountCall::remount_bind("/", MsFlags::MS_RDONLY), e))?;
            vec![MountCall::remount_bind("/", kept | MsFlags::MS_RDONLY)]
        }
        FinishStep::Propagation(flags) => vec![MountCall::propagation("/", *flags)],
    };
    Ok(calls)
}

fn origin_of(step: &FinishStep) -> (&str, &'static str) {
    match step {
        FinishStep::Mask { origin, .. } => (origin, "masked path"),
        FinishStep::ReadOnly { origin, .. } => (origin, "read-only path"),
        FinishStep::ReadOnlyRoot => ("root.readonly", "read-only /"),
        FinishStep::Propagation(_) => ("linux.rootfsPropagation", "propagation of /"),
    }
}

/// Runs one step, one mount(2) per call.
pub fn apply_finish_step(step: &FinishStep) -> Result<(), RootfsError> {
    let (origin, what) = origin_of(step);
    let calls = calls_for(step)?;
    // The step first, then the mount(2) calls that make it (none: path absent).
    match (step, calls.first()) {
        (_, None) => {}
        (FinishStep::Mask { path, .. }, Some(call)) => {
            let how = if call.is_bind() { "bind /dev/null" } else { "read-only tmpfs" };
            recorder::step("mask", |a| {
                a.str("how", how).path("path", path);
            });
        }
        (FinishStep::ReadOnly { path, .. }, _) => recorder::step("readonly", |a| {
            a.path("path", path);
        }),
        (FinishStep::ReadOnlyRoot, _) => recorder::step("readonly", |a| {
            a.str("path", "/");
        }),
        (FinishStep::Propagation(_), _) => {}
    }
    for call in calls {
        mount(&call, &call.target).map_err(|e| mount_error(origin, what, &call, e))?;
    }
    Ok(())
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
    fn mask_calls_depend_on_what_is_there() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let mask = |p: &Path| calls_for(&FinishStep::Mask { origin: "o".into(), path: p.into() }).unwrap();
        assert_eq!(mask(&file)[0].to_string(), format!("mount --bind /dev/null {}", file.display()));
        assert_eq!(mask(t.path())[0].to_string(), format!("mount -t tmpfs -o ro tmpfs {}", t.path().display()));
        assert!(mask(&t.path().join("missing")).is_empty());
    }
}
