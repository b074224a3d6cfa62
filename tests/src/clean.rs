//! What a container may leave on the host, looked up from the outside:
//! mounts in our own mountinfo (proc(5)), cgroup directories under every
//! hierarchy in /sys/fs/cgroup (cgroups(7)), and processes whose
//! /proc/<pid>/cgroup still names the container's cgroup.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The namespace link of `pid` (or "self"), e.g. `pid:[4026531836]`.
pub fn host_ns(pid: &str, ns: &str) -> String {
    let link = format!("/proc/{pid}/ns/{ns}");
    std::fs::read_link(&link).unwrap_or_else(|e| panic!("readlink {link}: {e}")).to_string_lossy().into_owned()
}

/// Mount points (field 5 of mountinfo) at or below `path`, deepest first.
pub fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(glassbox_events::proc_text::unescape)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(path))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
}

/// Lines of our mountinfo that mention `path` anywhere (source or target).
pub fn mountinfo_lines_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(String::from)
        .collect()
}

/// umount2(MNT_DETACH) of everything mounted below `path` (cleanup only).
pub fn detach_mounts_under(path: &Path) {
    for p in mounts_under(path) {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Every `<hierarchy>/glassbox/<id>` directory that exists, v1 and v2 alike.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else { return vec![] };
    let mut found = Vec::new();
    let mut roots: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    // On pure v2 the hierarchy is /sys/fs/cgroup itself.
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    for root in roots {
        let dir = root.join("glassbox").join(id);
        if dir.is_dir() && !found.iter().any(|f: &PathBuf| same_dir(f, &dir)) {
            found.push(dir);
        }
    }
    found
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Does one line of /proc/<pid>/cgroup put the process in `glassbox/<id>`?
pub fn cgroup_line_names(line: &str, id: &str) -> bool {
    let path = line.splitn(3, ':').nth(2).unwrap_or("");
    let tail = format!("glassbox/{id}");
    path.ends_with(&format!("/{tail}")) || path.contains(&format!("/{tail}/")) || path == tail
}

/// `(pid, comm, state)` of live processes in the container's cgroups.
pub fn processes_in(id: &str) -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(cg) = std::fs::read_to_string(e.path().join("cgroup")) else { continue };
        if cg.lines().any(|l| cgroup_line_names(l, id)) {
            let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
            let brief: Vec<&str> =
                status.lines().filter(|l| l.starts_with("Name:") || l.starts_with("State:")).collect();
            found.push((pid, brief.join(" ")));
        }
    }
    found
}

/// Last resort for a test's Drop guard: kill what still runs in the
/// container's cgroups and remove those cgroups (ours only, deepest first).
pub fn force_remove_cgroups(id: &str) {
    for (pid, _) in processes_in(id) {
        // SAFETY: kill(2) with a pid we just found in our own container's cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for dir in cgroup_dirs(id) {
        remove_cgroup_tree(&dir);
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = wait_until(Duration::from_secs(2), || std::fs::remove_dir(dir).is_ok() || !dir.exists());
}

/// Panics listing everything the container `id` left behind.
#[track_caller]
pub fn assert_clean(state_root: &Path, id: &str, bundle: Option<&Path>) {
    let mut left = Vec::new();
    let state_dir = state_root.join(id);
    // Processes may need a moment to be reaped after a kill.
    let procs_gone = wait_until(Duration::from_secs(3), || processes_in(id).is_empty());
    if !procs_gone {
        left.push(format!("processes still in glassbox/{id}: {:?}", processes_in(id)));
    }
    if state_dir.exists() {
        left.push(format!("state dir {} still exists", state_dir.display()));
    }
    for dir in cgroup_dirs(id) {
        left.push(format!("cgroup {} still exists", dir.display()));
    }
    if let Some(b) = bundle {
        for line in mountinfo_lines_mentioning(b) {
            left.push(format!("host mount left: {line}"));
        }
    }
    assert!(left.is_empty(), "container {id} was not cleaned up:\n  {}", left.join("\n  "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_lines_match_whole_ids_only() {
        assert!(cgroup_line_names("4:pids:/glassbox/a-1-1", "a-1-1"));
        assert!(cgroup_line_names("0::/glassbox/a-1-1/sub", "a-1-1"));
        assert!(!cgroup_line_names("4:pids:/glassbox/a-1-10", "a-1-1"));
        assert!(!cgroup_line_names("4:pids:/", "a-1-1"));
    }
}
