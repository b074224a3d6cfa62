//! Checks on `mounts[]` that the mount steps cannot make well: a
//! destination that is the container's root itself, and no /proc.
//!
//! A destination is a path inside the container; a relative one is taken
//! from `/`, as runc does, so `""` and `"."` mean `/` as surely as `"/"`
//! does. Mounting there would put a filesystem over the root that root.path
//! names, and the container would then fail far from the cause ("sh: not
//! found"), so it is refused here.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Mount;

use super::BundleError;

/// `destination` as the container sees it, `..` and `.` worked out
/// without looking at any filesystem: `a/../b` is `/b`, `""` is `/`.
pub fn in_container(destination: &Path) -> PathBuf {
    let mut path = PathBuf::from("/");
    for part in destination.components() {
        match part {
            Component::Normal(name) => path.push(name),
            Component::ParentDir => {
                path.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    path
}

/// Every mount's destination below `/`, and (in a new mount namespace, or
/// in the runtime's, where the rootfs's /proc is empty until glassbox
/// mounts one there) a mount on /proc.
pub fn check_mounts(mounts: &[Mount], mounts_from_scratch: bool) -> Result<(), BundleError> {
    for (i, m) in mounts.iter().enumerate() {
        // runtime-spec 1.2's id-mapped mounts: parsed by oci-spec, never
        // applied by glassbox — the files would show the wrong owners.
        for (field, given) in [("uidMappings", m.uid_mappings().is_some()), ("gidMappings", m.gid_mappings().is_some())]
        {
            if given {
                return Err(BundleError::Invalid {
                    field: format!("mounts[{i}].{field}"),
                    message: "id-mapped mounts are not supported by glassbox (glassbox features: mountExtensions.idmap.enabled is false); remove the mapping, or map the container's ids with linux.uidMappings/gidMappings".into(),
                });
            }
        }
        let destination = m.destination();
        if in_container(destination) != Path::new("/") {
            continue;
        }
        let message = if destination.as_os_str().is_empty() {
            "is empty: give the path in the container to mount on, e.g. \"/data\"".to_string()
        } else {
            format!(
                "{:?} is the container's root: a mount there would hide the root filesystem root.path names; mount on a directory below it",
                destination.display().to_string()
            )
        };
        return Err(BundleError::Invalid { field: format!("mounts[{i}].destination"), message });
    }
    let has_proc = mounts.iter().any(|m| in_container(m.destination()) == Path::new("/proc"));
    if mounts_from_scratch && !has_proc {
        return Err(BundleError::Invalid {
            field: "mounts".into(),
            message: "nothing is mounted on /proc: glassbox's init reopens exec.fifo through /proc/self/fd to wait for `start`, and programs expect it; add {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn mount(destination: &str, typ: &str) -> Mount {
        MountBuilder::default().destination(destination).typ(typ).source(typ).build().unwrap()
    }

    #[test]
    fn destinations_are_worked_out_from_the_root() {
        assert_eq!(in_container(Path::new("")), Path::new("/"));
        assert_eq!(in_container(Path::new("/a/../..")), Path::new("/"));
        assert_eq!(in_container(Path::new("data/./x")), Path::new("/data/x"));
        assert_eq!(in_container(Path::new("//proc/")), Path::new("/proc"));
    }

    #[test]
    fn the_root_is_no_destination() {
        let proc = mount("/proc", "proc");
        assert!(check_mounts(&[proc.clone(), mount("/tmp", "tmpfs")], true).is_ok());
        let err = check_mounts(&[proc.clone(), mount("", "tmpfs")], true).unwrap_err().to_string();
        assert!(err.starts_with("mounts[1].destination: is empty"), "{err}");
        for root in ["/", "/.", "/tmp/..", "."] {
            let err = check_mounts(&[proc.clone(), mount(root, "tmpfs")], true).unwrap_err().to_string();
            assert!(
                err.starts_with("mounts[1].destination: ") && err.contains("the container's root"),
                "{root}: {err}"
            );
        }
    }

    #[test]
    fn a_new_mount_namespace_needs_proc() {
        let err = check_mounts(&[mount("/tmp", "tmpfs")], true).unwrap_err().to_string();
        assert!(err.starts_with("mounts: nothing is mounted on /proc"), "{err}");
        assert!(check_mounts(&[mount("/tmp", "tmpfs")], false).is_ok(), "a joined one may have it already");
        assert!(check_mounts(&[mount("proc", "proc")], true).is_ok(), "relative destinations count from /");
    }
}
