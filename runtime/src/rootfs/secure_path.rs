//! Resolving a container path (`/dev/shm`, a mount destination) to the host
//! path under the rootfs *without ever leaving the rootfs*.
//!
//! Before pivot_root the kernel resolves paths against the host's `/`, so a
//! rootfs containing `etc -> /etc` would make `mount … <rootfs>/etc/x` land
//! on the host's `/etc/x`. We therefore walk the path one component at a time
//! with lstat(2) (see path_resolution(7)), reading each symlink ourselves:
//! - a relative symlink that stays inside the rootfs is followed;
//! - a symlink whose `..` climbs above the rootfs is an error;
//! - an absolute symlink is read as the container will read it after
//!   pivot_root: relative to the rootfs. Images are full of them (Debian's
//!   `/var/run -> /run`, under which Kubernetes mounts its secrets), and
//!   scoped to the rootfs they cannot reach the host;
//! - components that do not exist yet are reported, so the caller can create
//!   them (mkdir(2), or an empty file for the last one).
//!
//! The init process is single-threaded and the rootfs belongs to the
//! container, so checking then using the path is not racy in practice;
//! openat2(2) with `RESOLVE_IN_ROOT` would close even that window.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::error::{errno_of, RootfsError};

/// The kernel gives up after 40 symlinks (ELOOP); so do we.
const MAX_SYMLINKS: usize = 40;

/// A container path resolved inside the rootfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The host path of the (possibly not yet existing) file.
    pub host_path: PathBuf,
    /// The deepest directory of `host_path` that exists.
    pub existing: PathBuf,
    /// Components below `existing` that do not exist yet, in order.
    pub missing: Vec<OsString>,
}

impl Resolved {
    pub fn exists(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Walks `inside` (a path as the container sees it) under `rootfs`.
/// `field` names the config.json field for error messages.
pub fn resolve_in_rootfs(rootfs: &Path, inside: &Path, field: &str) -> Result<Resolved, RootfsError> {
    let mut done: Vec<OsString> = Vec::new();
    let mut missing: Vec<OsString> = Vec::new();
    let mut todo: VecDeque<Component> = inside.components().collect();
    let mut todo_owned: VecDeque<OsString> = VecDeque::new();
    let mut hops = 0;
    let mut last_link: Option<(PathBuf, PathBuf)> = None;
    let container_path = |parts: &[OsString]| -> PathBuf {
        let mut p = PathBuf::from("/");
        p.extend(parts);
        p
    };

    // Components come either from `inside` or from symlink targets spliced
    // in front of what is left; `todo_owned` (the spliced ones) goes first.
    loop {
        let next: OsString = if let Some(c) = todo_owned.pop_front() {
            c
        } else if let Some(c) = todo.pop_front() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
                other => other.as_os_str().to_os_string(),
            }
        } else {
            break;
        };
        if next == "." {
            continue;
        }
        if next == ".." {
            if missing.pop().is_none() && done.pop().is_none() {
                return Err(match last_link {
                    Some((link, target)) => RootfsError::UnsafeSymlink {
                        field: field.into(),
                        path: inside.into(),
                        link,
                        target,
                        why: "climbs above the rootfs with `..`",
                    },
                    None => RootfsError::DotDotEscape { field: field.into(), path: inside.into() },
                });
            }
            continue;
        }
        if !missing.is_empty() {
            missing.push(next);
            continue;
        }
        let candidate = rootfs.join(container_path(&done).strip_prefix("/").unwrap_or(Path::new(""))).join(&next);
        let meta = match std::fs::symlink_metadata(&candidate) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(next);
                continue;
            }
            Err(e) => {
                return Err(RootfsError::Filesystem {
                    field: field.into(),
                    action: "look at",
                    path: candidate,
                    errno: errno_of(&e),
                })
            }
        };
        if meta.file_type().is_symlink() {
            hops += 1;
            let mut link_parts = done.clone();
            link_parts.push(next.clone());
            let link = container_path(&link_parts);
            if hops > MAX_SYMLINKS {
                return Err(RootfsError::SymlinkLoop { field: field.into(), path: inside.into(), limit: MAX_SYMLINKS });
            }
            let target = std::fs::read_link(&candidate).map_err(|e| RootfsError::Filesystem {
                field: field.into(),
                action: "read the symlink",
                path: candidate.clone(),
                errno: errno_of(&e),
            })?;
            if target.is_absolute() {
                // Start again from the rootfs, as the container would from its `/`.
                done.clear();
            }
            let spliced: Vec<OsString> = target
                .components()
                .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
                .map(|c| c.as_os_str().to_os_string())
                .collect();
            for part in spliced.into_iter().rev() {
                todo_owned.push_front(part);
            }
            last_link = Some((link, target));
            continue;
        }
        let more_to_come =
            !todo_owned.is_empty() || todo.iter().any(|c| matches!(c, Component::Normal(_) | Component::ParentDir));
        if !meta.is_dir() && more_to_come {
            return Err(RootfsError::NotADirectory {
                field: field.into(),
                path: inside.into(),
                component: container_path(&{
                    let mut p = done.clone();
                    p.push(next);
                    p
                }),
            });
        }
        done.push(next);
    }

    let existing = rootfs.join(container_path(&done).strip_prefix("/").unwrap_or(Path::new("")));
    let mut host_path = existing.clone();
    host_path.extend(&missing);
    Ok(Resolved { host_path, existing, missing })
}

/// Creates what [`resolve_in_rootfs`] found missing: directories, and for
/// the last component a directory or (`as_file`) an empty file, mode 0755/0644
/// before umask, as mkdir -p and touch would.
pub fn create_missing(resolved: &Resolved, as_file: bool, field: &str) -> Result<(), RootfsError> {
    let mut path = resolved.existing.clone();
    let n = resolved.missing.len();
    for (i, part) in resolved.missing.iter().enumerate() {
        path.push(part);
        let last = i + 1 == n;
        let made = if last && as_file {
            std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map(drop)
        } else {
            std::fs::create_dir(&path)
        };
        made.map_err(|e| RootfsError::Filesystem {
            field: field.into(),
            action: if last && as_file { "create the empty file" } else { "create the directory" },
            path: path.clone(),
            errno: errno_of(&e),
        })?;
    }
    Ok(())
}

/// Resolve, then create whatever is missing: the host path to use.
pub fn ensure_in_rootfs(rootfs: &Path, inside: &Path, field: &str, as_file: bool) -> Result<PathBuf, RootfsError> {
    let resolved = resolve_in_rootfs(rootfs, inside, field)?;
    create_missing(&resolved, as_file, field)?;
    Ok(resolved.host_path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::create_dir_all(r.join("run")).unwrap();
        std::fs::write(r.join("etc-file"), b"x").unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("../../run", r.join("usr/lib/run-link")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../..", r.join("usr/lib/up")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        t
    }

    fn resolve(r: &Path, p: &str) -> Result<Resolved, RootfsError> {
        resolve_in_rootfs(r, Path::new(p), "mounts[0].destination")
    }

    #[test]
    fn plain_and_relative_links_inside_are_followed() {
        let t = rootfs();
        let r = t.path();
        let got = resolve(r, "/lib/x").unwrap();
        assert_eq!(got.host_path, r.join("usr/lib/x"));
        assert_eq!(got.missing, vec![OsString::from("x")]);
        let got = resolve(r, "/lib/run-link").unwrap();
        assert_eq!(got.host_path, r.join("run"));
        assert!(got.exists());
        assert_eq!(resolve(r, "/").unwrap().host_path, r.to_path_buf());
    }

    #[test]
    fn absolute_link_resolves_inside_the_rootfs() {
        let t = rootfs();
        let got = resolve(t.path(), "/abs/passwd").unwrap();
        assert_eq!(got.host_path, t.path().join("etc/passwd"));
        assert_eq!(got.existing, t.path().to_path_buf());
    }

    #[test]
    fn dotdot_escapes_are_refused() {
        let t = rootfs();
        let err = resolve(t.path(), "/lib/up/etc").unwrap_err();
        assert!(matches!(err, RootfsError::UnsafeSymlink { .. }), "{err}");
        assert!(err.to_string().contains("/usr/lib/up"), "{err}");
        let err = resolve(t.path(), "/usr/../../etc").unwrap_err();
        assert!(matches!(err, RootfsError::DotDotEscape { .. }), "{err}");
    }

    #[test]
    fn missing_components_loops_and_files() {
        let t = rootfs();
        let r = t.path();
        let got = resolve(r, "/a/b/c").unwrap();
        assert_eq!(got.existing, r.to_path_buf());
        assert_eq!(got.missing.len(), 3);
        create_missing(&got, true, "f").unwrap();
        assert!(r.join("a/b").is_dir() && r.join("a/b/c").is_file());
        assert!(matches!(resolve(r, "/loop1/x").unwrap_err(), RootfsError::SymlinkLoop { .. }));
        assert!(matches!(resolve(r, "/etc-file/x").unwrap_err(), RootfsError::NotADirectory { .. }));
    }
}
