//! Where a container's cgroup lives inside each hierarchy.

use std::path::Path;

use super::CgroupError;

/// Where the container's cgroup goes inside each hierarchy:
/// - no `cgroupsPath`: `<parent>/<id>`;
/// - absolute `/a/b`: exactly there (`a/b` from the hierarchy's root);
/// - relative `a/b`: under glassbox's parent, `<parent>/a/b`.
pub fn cgroup_path(cgroups_path: Option<&Path>, parent: &str, id: &str) -> Result<String, CgroupError> {
    let Some(p) = cgroups_path else {
        return Ok(format!("{parent}/{id}"));
    };
    let text = p.to_string_lossy().to_string();
    if text.contains(':') && !text.starts_with('/') {
        return Err(CgroupError::BadPath(text, "looks like a systemd slice:prefix:name path: pass --systemd-cgroup (podman and containerd do when their cgroup manager is systemd)"));
    }
    if text.split('/').any(|c| c == "..") {
        return Err(CgroupError::BadPath(text, "must not contain `..`"));
    }
    let trimmed = text.trim_matches('/');
    if trimmed.is_empty() {
        return Err(CgroupError::BadPath(text, "must name a cgroup below the root"));
    }
    Ok(if text.starts_with('/') { trimmed.to_string() } else { format!("{parent}/{trimmed}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(cgroup_path(None, "glassbox", "web").unwrap(), "glassbox/web");
        assert_eq!(cgroup_path(Some(Path::new("/pods/web")), "glassbox", "x").unwrap(), "pods/web");
        assert_eq!(cgroup_path(Some(Path::new("lab/web")), "glassbox", "x").unwrap(), "glassbox/lab/web");
        assert!(cgroup_path(Some(Path::new("/a/../b")), "glassbox", "x").is_err());
        assert!(cgroup_path(Some(Path::new("system.slice:glassbox:web")), "glassbox", "x").is_err());
        assert!(cgroup_path(Some(Path::new("/")), "glassbox", "x").is_err());
    }
}
