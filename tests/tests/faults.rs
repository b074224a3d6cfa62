//! A runtime killed half-way, a state.json gone or broken, and what
//! `delete --force ID` makes of what is left (issue 16, items 6 and 9).
//!
//! A debug build of glassbox sends itself SIGKILL at the fault point
//! `GLASSBOX_FAULT` names (runtime/src/fault.rs). The tests visit every
//! point of `create`, `run` and `exec` — the list is the runtime's own,
//! included below — and check the two promises at each:
//! - until the runtime has recorded its child (state.json for an init, the
//!   pid file for exec), the child dies with it; once recorded, it lives on;
//! - `delete --force ID` then leaves nothing: no process, no cgroup in any
//!   hierarchy, no state directory, no mount.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use glassbox_e2e::clean::processes_in;
use glassbox_e2e::*;

/// Every fault point, in the order `run` passes them.
const POINTS: &[&str] = include!("../../runtime/src/fault_points.in");

fn points(verb: &'static str) -> impl Iterator<Item = &'static str> {
    POINTS.iter().copied().filter(move |p| p.starts_with(verb))
}

/// What must have become of the runtime's child once it died at a point.
#[derive(Debug, PartialEq)]
enum Child {
    /// Not recorded yet: it died with the runtime (or never existed).
    Dead,
    /// Recorded, and the runtime died while the child was letting go: either.
    Either,
    /// Recorded and let go: it lives on.
    Alive,
}

fn fate(point: &str) -> Child {
    match point {
        "create:recorded" | "run:created" | "exec:recorded" => Child::Either,
        "create:released" | "run:started" | "exec:released" => Child::Alive,
        // Past these the container's own process had exited.
        _ => Child::Dead,
    }
}

/// The points at which `create` had not written state.json yet.
fn before_state_json(point: &str) -> bool {
    let at = |p: &str| POINTS.iter().position(|q| *q == p).unwrap();
    point.starts_with("create:") && at(point) < at("create:state-json")
}

/// `glassbox <args>` told to die at `point`; it must have died there.
#[track_caller]
fn killed_at(rt: &Runtime, point: &str, args: &[&str]) -> Output {
    let out = rt.cmd_env(&[("GLASSBOX_FAULT", point)], args);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "glassbox {args:?} with GLASSBOX_FAULT={point} should have killed itself there (fault points are in debug \
         builds only): {:?}, stderr: {}",
        out.status,
        stderr(&out)
    );
    out
}

/// The container's processes that still run. A killed runtime's children
/// go to the host's init to be reaped, which here takes a second or two:
/// a zombie has died, and holds nothing but its pid.
fn live_in(id: &str) -> Vec<(i32, String)> {
    processes_in(id).into_iter().filter(|(_, status)| !status.contains("State:\tZ")).collect()
}

/// The container's processes after the runtime died at `point`, checked
/// against what that point promises.
#[track_caller]
fn check_fate(id: &str, point: &str) {
    match fate(point.split(' ').next().unwrap_or(point)) {
        Child::Dead => {
            let gone = wait_until(Duration::from_secs(3), || live_in(id).is_empty());
            assert!(gone, "killed at {point}, the runtime left live processes: {:?}", live_in(id));
        }
        Child::Alive => {
            // Long enough for a death signal to have been delivered.
            std::thread::sleep(Duration::from_millis(100));
            assert!(!live_in(id).is_empty(), "killed at {point}, the runtime took its recorded child with it");
        }
        Child::Either => {}
    }
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

/// Every point of `create`, as root, as another user, and as root of a new
/// user namespace: a change of user ids clears the death signal, which the
/// init must set again.
#[test]
fn a_create_killed_at_every_point_leaves_nothing_after_delete_force() {
    let as_root = Bundle::busybox(&["sleep", "30"]);
    let as_user = Bundle::busybox(&["sleep", "30"]);
    as_user.config_mut(|v| v["process"]["user"] = serde_json::json!({ "uid": 1000, "gid": 1000 }));
    let in_userns = Bundle::busybox(&["sleep", "30"]);
    in_userns.config_mut(|v| spec::map_root_to(v, 100000));
    let rt = Runtime::new();
    for (who, bundle) in [("root", &as_root), ("uid 1000", &as_user), ("user namespace", &in_userns)] {
        for point in points("create:") {
            let id = rt.id("killed-create");
            killed_at(&rt, point, &["create", "--bundle", bundle.path().to_str().unwrap(), &id]);
            let at = format!("{point} ({who})");
            check_fate(&id, &at);
            if before_state_json(point) {
                let err = assert_fails(&rt.cmd(&["state", &id]));
                assert!(err.contains("has no state.json") && err.contains("delete --force"), "at {at}: {err}");
            }
            if point == "create:released" {
                assert_eq!(rt.status(&id).as_deref(), Some("created"), "a create killed after it returned ({who})");
            }
            delete_force_leaves_nothing(&rt, &id, bundle, &at);
        }
    }
}

/// The channel alone would end a half-made init only at its next message,
/// which a createContainer hook can put off for as long as it runs. The
/// death signal does not wait: the init (and its hook, in its pid
/// namespace) dies with the runtime — in a new user namespace too, whose
/// setresuid(0) cleared the signal once.
#[test]
fn the_init_dies_with_its_runtime_while_a_hook_runs() {
    let in_userns = Bundle::busybox(&["sleep", "30"]);
    in_userns.config_mut(|v| spec::map_root_to(v, 100000));
    let as_root = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    for (who, bundle) in [("root", &as_root), ("user namespace", &in_userns)] {
        bundle.config_mut(|v| spec::add_hook(v, "createContainer", "/bin/sleep", &["sleep", "20"]));
        let id = rt.id("killed-in-hook");
        let started = Instant::now();
        killed_at(&rt, "create:hooks-done", &["create", "--bundle", bundle.path().to_str().unwrap(), &id]);
        let gone = wait_until(Duration::from_secs(5), || live_in(&id).is_empty());
        assert!(gone, "{who}: the init outlived its runtime while its hook ran: {:?}", live_in(&id));
        assert!(started.elapsed() < Duration::from_secs(10), "{who}: the init waited for its hook");
        delete_force_leaves_nothing(&rt, &id, bundle, &format!("create:hooks-done ({who})"));
    }
}

#[test]
fn a_run_killed_at_every_point_leaves_nothing_after_delete_force() {
    let sleeper = Bundle::busybox(&["sleep", "30"]);
    let quick = Bundle::busybox(&["true"]);
    let rt = Runtime::new();
    // `run` does not wait for `Released`: its `start` hears from the init after that.
    let run_points =
        points("create:").filter(|p| *p != "create:released").chain(points("run:")).chain(points("delete:"));
    for point in run_points {
        // The last points come after the container's process exited.
        let bundle = if matches!(point, "run:exited" | "delete:cgroup-removed") { &quick } else { &sleeper };
        let id = rt.id("killed-run");
        killed_at(&rt, point, &["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
        check_fate(&id, point);
        if point == "run:started" {
            assert_eq!(rt.status(&id).as_deref(), Some("running"), "killed after start, the container runs on");
        }
        delete_force_leaves_nothing(&rt, &id, bundle, point);
    }
}

/// The process `exec` adds dies with its runtime until the runtime has
/// written its pid file and said so (`Recorded`); once it has let go it
/// runs on, and `delete --force` of the container takes it too.
#[test]
fn an_exec_killed_at_every_point_leaves_no_half_made_process() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("killed-exec");
    rt.start_container(&id, &bundle);
    let init = rt.pid(&id);
    // The container's processes besides its init that have not died.
    let others = || {
        let mut pids: Vec<i32> = live_in(&id).into_iter().map(|(pid, _)| pid).filter(|p| *p != init).collect();
        pids.sort_unstable();
        pids
    };
    for point in points("exec:") {
        let before = others();
        let pid_file = rt.scratch().join(format!("{}.pid", point.replace(':', "-")));
        let args = ["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "77"];
        killed_at(&rt, point, &args);
        match fate(point) {
            Child::Dead => {
                let gone = wait_until(Duration::from_secs(3), || others() == before);
                assert!(gone, "killed at {point}, exec left a process in the container: {:?}", others());
            }
            Child::Alive => {
                std::thread::sleep(Duration::from_millis(100));
                let pid = std::fs::read_to_string(&pid_file).expect("the pid file, written before Recorded");
                let mut want = [before, vec![pid.trim().parse::<i32>().unwrap()]].concat();
                want.sort_unstable();
                assert_eq!(others(), want, "killed at {point}, the recorded process should run on");
            }
            Child::Either => {}
        }
    }
    delete_force_leaves_nothing(&rt, &id, &bundle, "the exec points");
}

/// The shape of the issue's own report: SIGKILL at a random moment of
/// `create`, many times. Whenever the kill lands, the init must not
/// outlive its runtime unrecorded, and `delete --force` must leave nothing.
#[test]
fn create_killed_at_random_moments_leaves_nothing_after_delete_force() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    // How long a whole create takes here, to spread the kills over it.
    let id = rt.id("timed");
    let t = Instant::now();
    assert_ok(&rt.create(&id, &bundle));
    let span = t.elapsed();
    assert_ok(&rt.delete_force(&id));
    let mut seed = std::process::id() as u64 ^ t.elapsed().as_nanos() as u64;
    for _ in 0..40 {
        // xorshift: enough spread for kill times, no crate for it.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = span.mul_f64((seed % 1000) as f64 / 1000.0);
        let id = rt.id("random-kill");
        let mut child = std::process::Command::new(glassbox_bin())
            .args(["--root", rt.root().to_str().unwrap(), "create", "--bundle", bundle.path().to_str().unwrap(), &id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        // Unless the kill came after create finished, no process of it may be left.
        let finished = status.success() || rt.status(&id).is_some();
        if !finished {
            let gone = wait_until(Duration::from_secs(3), || live_in(&id).is_empty());
            assert!(gone, "create killed after {delay:?} left live processes: {:?}", live_in(&id));
        }
        delete_force_leaves_nothing(&rt, &id, &bundle, &format!("{delay:?}"));
    }
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

/// Removes the cgroup `0` (and whatever runs in it) if a test failed and
/// left it, then its parent if that is empty (other tests may share it).
struct CgroupGuard(String);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for pid in in_cgroup(&self.0) {
            // SAFETY: kill(2) of a process in this test's own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for dir in dirs_of(&self.0) {
            let _ = wait_until(Duration::from_secs(2), || std::fs::remove_dir(&dir).is_ok() || !dir.exists());
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}
