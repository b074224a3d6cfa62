//! Rootless containers: glassbox run by a real unprivileged user (the
//! tests are root, and drop to the user `glassbox-e2e` for every glassbox
//! command: tests/src/rootless.rs). `glassbox spec --rootless` as that user,
//! then the lifecycle — run, create, start, state, ps, exec, kill, list,
//! delete — checked from inside (root there, the uid map, the hostname) and
//! from outside (the processes are the user's on the host, nothing is left:
//! processes, state directory, mounts). And what cannot work without root
//! fails with one line naming the field and what to do.

use std::time::Duration;

use glassbox_e2e::rootless::{host_uid_of, pid_namespace_of, processes_in_pid_namespace};
use glassbox_e2e::*;
use serde_json::json;

/// The busybox bundle `spec --rootless` makes for the test user.
fn bundle(rt: &Runtime, args: &[&str]) -> Bundle {
    Bundle::busybox_rootless(rt, args)
}

/// Nothing left of `id`: no process in its pid namespace `ns`, no state
/// directory under the user's root, no mount, no cgroup.
#[track_caller]
fn assert_gone(rt: &Runtime, id: &str, bundle: &Bundle, ns: &str) {
    let gone = wait_until(Duration::from_secs(3), || processes_in_pid_namespace(ns).is_empty());
    assert!(gone, "processes left in the container's pid namespace: {:?}", processes_in_pid_namespace(ns));
    rt.assert_clean(id, bundle);
}

#[test]
fn a_user_runs_a_container_it_is_root_in() {
    let rt = Runtime::rootless();
    let user = rt.user().unwrap().clone();
    let bundle = bundle(&rt, &["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; hostname"]);
    let id = rt.id("rootless-run");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    let text = stdout(&out);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    // The user has subordinate ids and newuidmap: `spec --rootless` maps them too, after root.
    let (own_uid, own_gid) = (user.uid.to_string(), user.gid.to_string());
    let (subuid, subuids) = (user.subuids.0.to_string(), user.subuids.1.to_string());
    let (subgid, subgids) = (user.subgids.0.to_string(), user.subgids.1.to_string());
    let expected: Vec<Vec<&str>> = vec![
        vec!["0"],
        vec!["0"],
        vec!["0", &own_uid, "1"],
        vec!["1", &subuid, &subuids],
        vec!["0", &own_gid, "1"],
        vec!["1", &subgid, &subgids],
        vec!["glassbox"],
    ];
    assert_eq!(lines, expected, "inside the container:\n{text}");
    rt.assert_clean(&id, &bundle);
    // The record says why there is no cgroup, and how the maps were written.
    let record = record_of(rt.root(), &id);
    let step = |action: &str| {
        record.iter().find_map(|e| match &e.kind {
            glassbox_events::Kind::Step { action: a, args, .. } if a == action => Some(args.clone()),
            _ => None,
        })
    };
    let none = step("no_cgroup").expect("a no_cgroup step");
    assert!(none["reason"].as_str().unwrap().contains("is not writable by uid"), "{none:?}");
    let uid_map = step("uid_map").expect("a uid_map step");
    assert_eq!(uid_map["via"], "/usr/bin/newuidmap", "{uid_map:?}");
}

#[test]
fn its_own_id_alone_is_mapped_without_a_helper() {
    let rt = Runtime::rootless();
    let user = rt.user().unwrap().clone();
    let bundle = bundle(&rt, &["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/setgroups"]);
    bundle.config_mut(|v| {
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": user.uid, "size": 1}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": user.gid, "size": 1}]);
    });
    let id = rt.id("rootless-own-id");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    let text = stdout(&out);
    let words: Vec<&str> = text.split_whitespace().collect();
    // setgroups "deny": the kernel's condition for a gid map written without privilege.
    assert_eq!(words, ["0", "0", &user.uid.to_string(), "1", "deny"], "inside the container:\n{text}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn every_verb_works_and_the_processes_are_the_users() {
    let rt = Runtime::rootless();
    let user = rt.user().unwrap().clone();
    let bundle = bundle(&rt, &["sleep", "60"]);
    bundle.config_mut(|v| v["hostname"] = json!("rootless-box"));
    let id = rt.id("rootless-verbs");
    assert_ok(&rt.create(&id, &bundle));
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    let init = rt.pid(&id);
    let ns = pid_namespace_of(init);
    assert_ok(&rt.start(&id));
    rt.wait_status(&id, "running");

    // From outside: the init is the user's process, in a user namespace of its own.
    assert_eq!(host_uid_of(init), user.uid, "the container's init runs as the user on the host");
    assert_ne!(host_ns(&init.to_string(), "user"), host_ns("self", "user"));

    // From inside, through exec: root, the hostname, the same pid namespace.
    let out = rt.exec(&id, &["sh", "-c", "id -u; hostname; readlink /proc/self/ns/pid"]);
    assert_ok(&out);
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), ["0", "rootless-box", ns.as_str()]);

    // A detached exec: its pid file, its process the user's, ps lists both.
    let pid_file = rt.scratch().join("exec.pid");
    assert_ok(&rt.cmd(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "50"]));
    let exec_pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_eq!(host_uid_of(exec_pid), user.uid);
    let mut pids = rt.pids(&id);
    pids.sort_unstable();
    let mut expected = vec![init, exec_pid];
    expected.sort_unstable();
    assert_eq!(pids, expected, "ps finds the container's processes through its pid namespace");

    let list = rt.cmd(&["list", "--format", "json"]);
    assert_ok(&list);
    let entries: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(entries[0]["id"], json!(id));
    assert_eq!(entries[0]["owner"], json!(user.name));

    // kill --all reaches the exec'd process too; SIGKILL to the init ends the rest.
    assert_ok(&rt.cmd(&["kill", "--all", &id, "KILL"]));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    assert_gone(&rt, &id, &bundle, &ns);
}

#[test]
fn delete_force_of_a_running_container_leaves_nothing() {
    let rt = Runtime::rootless();
    let bundle = bundle(&rt, &["sleep", "60"]);
    let id = rt.id("rootless-force");
    assert_ok(&rt.run_detached(&id, &bundle));
    rt.wait_status(&id, "running");
    let ns = pid_namespace_of(rt.pid(&id));
    assert_ok(&rt.cmd(&["exec", "--detach", &id, "sleep", "50"]));
    assert_eq!(processes_in_pid_namespace(&ns).len(), 2);
    assert_ok(&rt.delete_force(&id));
    assert_gone(&rt, &id, &bundle, &ns);
}

#[test]
fn the_state_root_defaults_to_xdg_runtime_dir() {
    let rt = Runtime::rootless();
    let user = rt.user().unwrap().clone();
    let xdg = user.temp_dir("glassbox-e2e-xdg-");
    let bundle = bundle(&rt, &["sleep", "60"]);
    let id = rt.id("rootless-xdg");
    let glassbox = |args: &[&str], xdg_set: bool| {
        let mut c = rt.command();
        if xdg_set {
            c.env("XDG_RUNTIME_DIR", xdg.path());
        }
        c.args(args);
        rt.output_of(c, std::process::Stdio::null())
    };
    let out = glassbox(&["run", "-d", "--bundle", bundle.path().to_str().unwrap(), &id], true);
    assert_ok(&out);
    let state_dir = xdg.path().join("glassbox").join(&id);
    assert!(state_dir.join("state.json").exists(), "{} holds the container's state", state_dir.display());
    let state = glassbox(&["state", &id], true);
    assert_ok(&state);
    let ns = pid_namespace_of(
        serde_json::from_slice::<serde_json::Value>(&state.stdout).unwrap()["pid"].as_i64().unwrap() as i32,
    );

    // Without XDG_RUNTIME_DIR and --root, there is no place that is the user's.
    let line = assert_fails(&glassbox(&["list"], false));
    assert!(line.contains("XDG_RUNTIME_DIR") && line.contains("--root"), "{line}");
    assert!(!line.contains("Os {"), "{line}");

    // A --root the user may not write: the file, and what to pass instead.
    let mut c = rt.command();
    c.args(["--root", "/run/glassbox-e2e-not-yours", "create", "--bundle"]).arg(bundle.path()).arg("other");
    let line = assert_fails(&rt.output_of(c, std::process::Stdio::null()));
    assert!(line.contains("/run/glassbox-e2e-not-yours") && line.contains("Permission denied"), "{line}");
    assert!(line.contains("pass --root DIR or set XDG_RUNTIME_DIR"), "{line}");

    assert_ok(&glassbox(&["delete", "--force", &id], true));
    assert!(!state_dir.exists());
    assert!(xdg.path().join("glassbox/.events").join(format!("{id}.jsonl")).exists(), "the record is kept there");
    assert_gone(&rt, &id, &bundle, &ns);
}

/// `create` that must fail: one line, exit 1, nothing left behind.
#[track_caller]
fn refused(rt: &Runtime, bundle: &Bundle, name: &str) -> String {
    let id = rt.id(name);
    let line = assert_fails(&rt.create(&id, bundle));
    assert!(!line.contains("Os {"), "a raw io::Error: {line}");
    rt.assert_clean(&id, bundle);
    assert!(!rt.root().join(&id).exists());
    line
}

#[test]
fn a_config_without_a_user_namespace_is_refused_naming_the_field() {
    let rt = Runtime::rootless();
    let bundle = bundle(&rt, &["true"]);
    bundle.config_mut(|v| {
        spec::remove_namespace(v, "user");
        let linux = v["linux"].as_object_mut().unwrap();
        linux.remove("uidMappings");
        linux.remove("gidMappings");
    });
    let line = refused(&rt, &bundle, "rootless-no-userns");
    assert!(line.contains("linux.namespaces") && line.contains("user namespace"), "{line}");
    assert!(line.contains("spec --rootless"), "{line}");
}

#[test]
fn limits_without_a_cgroup_are_refused_naming_the_field() {
    let rt = Runtime::rootless();
    let bundle = bundle(&rt, &["true"]);
    bundle.config_mut(|v| v["linux"]["resources"] = json!({"memory": {"limit": 67108864}}));
    let line = refused(&rt, &bundle, "rootless-limit");
    assert!(line.contains("linux.resources.memory") && line.contains("no cgroup"), "{line}");
}

#[test]
fn a_map_outside_the_users_subordinate_ids_is_refused_by_newuidmap() {
    let rt = Runtime::rootless();
    let user = rt.user().unwrap().clone();
    let bundle = bundle(&rt, &["true"]);
    // Root's uid 0 on the host, which is not the user's to map.
    bundle.config_mut(|v| {
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": user.uid, "size": 1},
                                          {"containerID": 1, "hostID": 0, "size": 1}]);
    });
    let line = refused(&rt, &bundle, "rootless-bad-map");
    assert!(line.contains("linux.uidMappings") && line.contains("newuidmap"), "{line}");
    assert!(line.contains("/etc/subuid"), "{line}");
}

#[test]
fn a_cgroup_that_may_not_be_made_is_an_error_naming_it_when_asked_for() {
    // --rootless false: the cgroup is not skipped; the error is the
    // system's own words and what to do, never a raw `Os { code: 13 … }`.
    let rt = Runtime::rootless();
    let bundle = bundle(&rt, &["true"]);
    let id = rt.id("rootless-cgroup-asked");
    let mut c = rt.command();
    c.args(["--rootless", "false", "--root"]).arg(rt.root()).args(["create", "--bundle"]).arg(bundle.path()).arg(&id);
    let line = assert_fails(&rt.output_of(c, std::process::Stdio::null()));
    assert!(line.contains(&format!("cannot create cgroup glassbox/{id}")), "{line}");
    assert!(line.contains("Permission denied") && line.contains("delegated"), "{line}");
    assert!(!line.contains("Os {"), "{line}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn verbs_that_need_a_cgroup_say_so() {
    let rt = Runtime::rootless();
    let bundle = bundle(&rt, &["sleep", "60"]);
    let id = rt.id("rootless-pause");
    assert_ok(&rt.run_detached(&id, &bundle));
    rt.wait_status(&id, "running");
    let ns = pid_namespace_of(rt.pid(&id));
    for verb in [
        &["pause", id.as_str()][..],
        &["events", "--stats", id.as_str()],
        &["update", "--pids-limit", "10", id.as_str()],
    ] {
        let line = assert_fails(&rt.cmd(verb));
        assert!(line.contains("has no cgroup") && line.contains("without root"), "{verb:?}: {line}");
    }
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_ok(&rt.delete_force(&id));
    assert_gone(&rt, &id, &bundle, &ns);
}

/// Rootless podman, as the test user, with glassbox as its OCI runtime:
/// podman makes the user namespace (newuidmap, the user's subordinate ids)
/// and calls glassbox as root of it, without --root — so the state goes to
/// $XDG_RUNTIME_DIR/glassbox. Its storage, run and temp directories are
/// this test's; the pause process podman leaves to hold its user namespace
/// is killed at the end.
struct RootlessPodman {
    dir: tempfile::TempDir,
    user: glassbox_e2e::rootless::TestUser,
    runtime: std::path::PathBuf,
}

impl RootlessPodman {
    fn new(rt: &Runtime) -> RootlessPodman {
        let found =
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join("podman").exists());
        assert!(found, "podman is not installed: run scripts/setup.sh");
        let user = rt.user().unwrap().clone();
        let dir = user.temp_dir("glassbox-e2e-podman-");
        for sub in ["xdg", "home"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        user.chown_tree(dir.path());
        let runtime = glassbox_e2e::rootless::binary_for_user(&glassbox_bin());
        RootlessPodman { dir, user, runtime }
    }

    fn xdg(&self) -> std::path::PathBuf {
        self.dir.path().join("xdg")
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new("podman");
        self.user.apply(&mut c);
        let d = self.dir.path();
        c.env("XDG_RUNTIME_DIR", self.xdg()).env("HOME", d.join("home"));
        c.arg("--root").arg(d.join("storage")).arg("--runroot").arg(d.join("run"));
        c.arg("--tmpdir").arg(d.join("tmp")).args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"]);
        c.args(["--events-backend", "none", "--runtime"]).arg(&self.runtime).args(args);
        c
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("running podman");
        assert!(
            out.status.success(),
            "podman {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RootlessPodman {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "--all", "--force", "--time", "0"]).output();
        // $XDG_RUNTIME_DIR/libpod/tmp/pause.pid by default, <--tmpdir>/pause.pid here.
        for file in [self.dir.path().join("tmp/pause.pid"), self.xdg().join("libpod/tmp/pause.pid")] {
            let pid = std::fs::read_to_string(file).ok();
            if let Some(pid) = pid.and_then(|p| p.trim().parse::<i32>().ok()) {
                // SAFETY: kill(2) of the pause process this test's podman started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

#[test]
fn rootless_podman_runs_execs_and_removes_a_container_with_glassbox() {
    let rt = Runtime::rootless();
    let podman = RootlessPodman::new(&rt);
    let user = podman.user.clone();
    let image = {
        let bundle = Bundle::busybox_rootless(&rt, &["true"]);
        let tar = podman.dir.path().join("busybox.tar");
        let out =
            std::process::Command::new("tar").arg("-C").arg(bundle.rootfs()).arg("-cf").arg(&tar).arg(".").output();
        assert!(out.is_ok_and(|o| o.status.success()), "tar of the busybox rootfs");
        user.chown_tree(&tar);
        podman.ok(&["import", tar.to_str().unwrap(), "localhost/glassbox-rootless:test"]);
        "localhost/glassbox-rootless:test"
    };

    let out = podman.ok(&["run", "--rm", "--network", "none", image, "sh", "-c", "id -u; head -1 /proc/self/uid_map"]);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", &user.uid.to_string(), "1"], "root inside, the user outside:\n{out}");

    podman.ok(&["run", "-d", "--name", "rl", "--network", "none", image, "sleep", "60"]);
    assert_eq!(podman.ok(&["exec", "rl", "id", "-u"]).trim(), "0");
    let state_root = podman.xdg().join("glassbox");
    let containers = || -> Vec<String> {
        std::fs::read_dir(&state_root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(containers().len(), 1, "glassbox keeps the container under $XDG_RUNTIME_DIR/glassbox");
    let id = containers().remove(0);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_root.join(&id).join("state.json")).unwrap()).unwrap();
    let init = state["pid"].as_i64().unwrap() as i32;
    assert_eq!(host_uid_of(init), user.uid, "the container's process is the user's on the host");
    let ns = pid_namespace_of(init);

    podman.ok(&["rm", "--force", "--time", "0", "rl"]);
    assert!(containers().is_empty(), "no state left: {:?}", containers());
    let gone = wait_until(Duration::from_secs(3), || processes_in_pid_namespace(&ns).is_empty());
    assert!(gone, "processes left: {:?}", processes_in_pid_namespace(&ns));
}
