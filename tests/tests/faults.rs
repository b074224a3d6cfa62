//! A state.json gone or broken, and what `delete --force ID` makes of the
//! container it belonged to (issue 16, items 6 and 9): it must find the
//! container by its id alone and leave nothing — no process, no cgroup in
//! any hierarchy, no state directory, no mount.

use std::path::PathBuf;
use std::time::Duration;

use glassbox_e2e::clean::processes_in;
use glassbox_e2e::*;

/// The container's processes that still run. A killed runtime's children
/// go to the host's init to be reaped, which here takes a second or two:
/// a zombie has died, and holds nothing but its pid.
fn live_in(id: &str) -> Vec<(i32, String)> {
    processes_in(id).into_iter().filter(|(_, status)| !status.contains("State:\tZ")).collect()
}

/// `delete --force` succeeds, and nothing of `id` is left.
#[track_caller]
fn delete_force_leaves_nothing(rt: &Runtime, id: &str, bundle: &Bundle, point: &str) {
    let out = rt.delete_force(id);
    assert!(out.status.success(), "delete --force after a kill at {point}: {}", stderr(&out));
    assert!(stderr(&out).lines().count() <= 1, "delete --force says more than one line: {}", stderr(&out));
    // Zombies of the killed runtime's children, waiting for the host's init.
    wait_until(Duration::from_secs(10), || processes_in(id).is_empty());
    rt.assert_clean(id, bundle);
}

/// A created container whose state.json is gone: what a create killed
/// between the init's `Ready` and the write of state.json used to leave, an
/// init waiting on exec.fifo that no state.json names. `state` says what
/// is wrong; `delete --force` finds the init by the container's cgroup.
#[test]
fn delete_force_finds_a_container_without_state_json_by_its_id() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("no-state");
    assert_ok(&rt.create(&id, &bundle));
    std::fs::remove_file(rt.root().join(&id).join("state.json")).unwrap();
    let err = assert_fails(&rt.cmd(&["state", &id]));
    assert!(err.contains("has no state.json") && err.contains("delete --force"), "{err}");
    assert!(!live_in(&id).is_empty(), "the init should still wait on exec.fifo");
    delete_force_leaves_nothing(&rt, &id, &bundle, "state.json removed");
}

/// The same with `linux.cgroupsPath`: the id alone does not say where the
/// cgroup is, so create wrote it down before making it.
#[test]
fn delete_force_finds_a_custom_cgroups_path_without_state_json() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("no-state-custom");
    let custom = format!("faults/{id}");
    bundle.config_mut(|v| v["linux"]["cgroupsPath"] = custom.clone().into());
    let cgroup = format!("glassbox/{custom}");
    let _cleanup = CgroupGuard(cgroup.clone());
    assert_ok(&rt.create(&id, &bundle));
    assert!(!in_cgroup(&cgroup).is_empty(), "the init should be in {cgroup}");
    std::fs::remove_file(rt.root().join(&id).join("state.json")).unwrap();
    let out = rt.delete_force(&id);
    assert_ok(&out);
    assert!(wait_until(Duration::from_secs(3), || in_cgroup(&cgroup).is_empty()), "left: {:?}", in_cgroup(&cgroup));
    assert_eq!(dirs_of(&cgroup), Vec::<PathBuf>::new(), "cgroup directories left");
    rt.assert_clean(&id, &bundle);
}

/// Item 9: a state.json cut short, overwritten with garbage, emptied, or
/// naming no process. Every verb says which file is broken, in one line;
/// `delete --force` removes the live container by its id and says, in one
/// line, that the file was unreadable.
#[test]
fn a_corrupt_state_json_is_named_and_delete_force_recovers_by_id() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    type Spoil = fn(Vec<u8>) -> Vec<u8>;
    let damage: [(&str, Spoil); 4] = [
        ("truncated", |text| text[..text.len() / 2].to_vec()),
        ("garbage", |_| b"\x00\xff not json at all".to_vec()),
        ("empty", |_| Vec::new()),
        ("pid -1", |text| {
            let mut v: serde_json::Value = serde_json::from_slice(&text).unwrap();
            v["pid"] = (-1).into();
            serde_json::to_vec(&v).unwrap()
        }),
    ];
    for (what, spoil) in damage {
        let id = rt.id("corrupt");
        rt.start_container(&id, &bundle);
        let file = rt.root().join(&id).join("state.json");
        std::fs::write(&file, spoil(std::fs::read(&file).unwrap())).unwrap();
        for verb in
            [&["state", &id][..], &["kill", &id, "KILL"], &["delete", &id], &["ps", &id], &["exec", &id, "true"]]
        {
            let err = assert_fails(&rt.cmd(verb));
            assert_eq!(err.trim().lines().count(), 1, "{what}: {verb:?} says more than one line: {err}");
            assert!(err.contains(file.to_str().unwrap()), "{what}: {verb:?} does not name {}: {err}", file.display());
        }
        // `list` goes on with the others, saying in one line what it skipped.
        let out = rt.cmd(&["list"]);
        assert_ok(&out);
        assert!(!stdout(&out).contains(&id), "{what}: list shows the unreadable container");
        assert!(stderr(&out).contains(file.to_str().unwrap()), "{what}: list says nothing of {id}");
        assert!(!live_in(&id).is_empty(), "{what}: the container should still run");
        let out = rt.delete_force(&id);
        assert_ok(&out);
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{what}: delete --force: {err}");
        assert!(err.contains("unreadable state.json"), "{what}: delete --force: {err}");
        rt.assert_clean(&id, &bundle);
    }
}

/// Directories of cgroup `path` (relative to each hierarchy's root) that exist.
fn dirs_of(path: &str) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten().map(|e| e.path()).collect();
    roots.push("/sys/fs/cgroup".into());
    roots.into_iter().map(|r| r.join(path)).filter(|d| d.is_dir()).collect()
}

/// Live processes whose /proc/<pid>/cgroup names cgroup `path` in any hierarchy.
fn in_cgroup(path: &str) -> Vec<i32> {
    let tail = format!("/{path}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            cg.lines().any(|l| l.splitn(3, ':').nth(2).is_some_and(|p| p == tail))
        })
        .collect()
}

/// Removes the cgroup `0` (and whatever runs in it) if a test failed and left it.
struct CgroupGuard(String);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for pid in in_cgroup(&self.0) {
            // SAFETY: kill(2) of a process in this test's own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for dir in dirs_of(&self.0) {
            let _ = wait_until(Duration::from_secs(2), || std::fs::remove_dir(&dir).is_ok() || !dir.exists());
        }
    }
}
