//! Kubernetes' way in: containerd's CRI with glassbox as the runtime of a
//! RuntimeClass handler, driven through the CRI's gRPC API by glassbox-cri
//! (cri/), as a kubelet would drive it. A pod sandbox on the host's network
//! and a container in it are run, exec'd into, stopped and removed, and then
//! nothing of glassbox's may be left: no state directory under the shim's
//! `--root`, no cgroup, no mount, no process, no shim.
//!
//! The runtime calls each CRI call causes (containerd 1.6's runc shim):
//! RunPodSandbox → `create`, `start` of the pause container; StartContainer
//! → `create`, `start`; ExecSync → `exec --process P --detach`; StopContainer
//! → `kill ID 15` (`kill ID 9` after the grace period), and once the init
//! has exited `kill --all ID 9` and `delete`; StopPodSandbox → the same for
//! the pause container. CreateContainer, RemoveContainer, RemovePodSandbox
//! and the status calls reach no runtime.

use std::process::Command;
use std::time::{Duration, Instant};

use glassbox_cri::api::{ContainerState, PodSandboxState};
use glassbox_cri::{ContainerSpec, CriError, PodSpec};
use glassbox_e2e::containerd::{ContainerdCri, HANDLER, IMAGE};
use glassbox_e2e::{glassbox_bin, glassbox_cri_bin, wait_until};
use serde_json::Value;

/// A CRI call that must succeed; on failure, containerd's view of why.
#[track_caller]
fn ok<T>(ctrd: &ContainerdCri, what: &str, result: Result<T, CriError>) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}\n{}", ctrd.log_tail(25)))
}

/// `glassbox --root <the shim's root> state ID`, as JSON.
fn glassbox_state(ctrd: &ContainerdCri, id: &str) -> Value {
    let out = Command::new(glassbox_bin()).arg("--root").arg(ctrd.runtime_root()).args(["state", id]).output().unwrap();
    assert!(out.status.success(), "glassbox state {id}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("state is JSON")
}

/// The pids in a container's cgroup (pids hierarchy, as the pods' cgroups
/// are `<parent>/<id>`).
fn pids_in_cgroup(ctrd: &ContainerdCri, id: &str) -> Vec<i32> {
    let path = format!("/sys/fs/cgroup/pids{}/{id}/cgroup.procs", ctrd.cgroup_parent());
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// The stages glassbox recorded for `id`, from the record it keeps at
/// `delete` (`<root>/.events/<id>.jsonl`), one `(pid, stage)` per begin.
fn recorded_stages(ctrd: &ContainerdCri, id: &str) -> Vec<(i64, String)> {
    let path = ctrd.runtime_root().join(".events").join(format!("{id}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("glassbox keeps the record of {id} at {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "stage_begin")
        .map(|e| (e["pid"].as_i64().unwrap_or(0), e["stage"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn a_pod_runs_execs_stops_and_is_removed_through_cri() {
    let ctrd = ContainerdCri::start(&glassbox_bin());
    ctrd.import_busybox();
    let mut cri = ctrd.connect();

    let version = ok(&ctrd, "Version", cri.version());
    assert_eq!(version.runtime_name, "containerd");
    let image = ok(&ctrd, "ImageStatus", cri.image_status(IMAGE));
    assert!(image.is_some_and(|i| i.repo_tags.contains(&IMAGE.to_string())), "the imported image is seen by the CRI");

    // The pod: its sandbox (pause) container is made by glassbox.
    let pod = PodSpec {
        cgroup_parent: ctrd.cgroup_parent().into(),
        log_directory: ctrd.log_dir().display().to_string(),
        ..PodSpec::new("web", HANDLER)
    };
    let pod_config = pod.config();
    let pod_id = ok(&ctrd, "RunPodSandbox", cri.run_pod_sandbox(&pod_config, HANDLER));
    let status = ok(&ctrd, "PodSandboxStatus", cri.pod_sandbox_status(&pod_id));
    assert_eq!(status.state, PodSandboxState::SandboxReady as i32);
    assert_eq!(status.runtime_handler, HANDLER);
    assert_eq!(glassbox_state(&ctrd, &pod_id)["status"], "running", "glassbox made the pod's sandbox container");

    // A container in it, whose output goes to the pod's log directory.
    let spec = ContainerSpec::new("app", IMAGE, &["sh", "-c", "echo started; trap 'exit 0' TERM; sleep 300 & wait"]);
    let id = ok(&ctrd, "CreateContainer", cri.create_container(&pod_id, &spec.config(), &pod_config));
    ok(&ctrd, "StartContainer", cri.start_container(&id));
    let status = ok(&ctrd, "ContainerStatus", cri.container_status(&id));
    assert_eq!(status.state, ContainerState::ContainerRunning as i32);
    let state = glassbox_state(&ctrd, &id);
    assert_eq!(state["status"], "running");
    let init = state["pid"].as_i64().expect("state has the init's pid") as i32;
    assert!(pids_in_cgroup(&ctrd, &id).contains(&init), "the init is in <cgroup_parent>/<id>");
    let log = ctrd.log_dir().join("app.log");
    assert!(
        wait_until(Duration::from_secs(5), || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("started"))),
        "the container's stdout reaches its log through the shim's fifos: {log:?}"
    );

    // ExecSync: glassbox exec, output and exit code handed back.
    let exec = ok(
        &ctrd,
        "ExecSync",
        cri.exec_sync(&id, &["sh", "-c", "echo answer $((6*7)); tr '\\0' ' ' < /proc/1/cmdline; echo oops >&2"], 10),
    );
    let stdout = String::from_utf8_lossy(&exec.stdout);
    assert_eq!(exec.exit_code, 0, "stdout: {stdout}, stderr: {}", String::from_utf8_lossy(&exec.stderr));
    assert!(stdout.contains("answer 42"), "{stdout}");
    assert!(stdout.contains("sh -c echo started"), "pid 1 of the container's own pid namespace is its init: {stdout}");
    assert_eq!(String::from_utf8_lossy(&exec.stderr).trim(), "oops");
    let failing = ok(&ctrd, "ExecSync", cri.exec_sync(&id, &["sh", "-c", "exit 3"], 10));
    assert_eq!(failing.exit_code, 3, "the exec'd process's exit code is passed through");

    // StopContainer: SIGTERM, which the container's trap answers at once.
    let started = Instant::now();
    ok(&ctrd, "StopContainer", cri.stop_container(&id, 20));
    assert!(started.elapsed() < Duration::from_secs(15), "SIGTERM reached the container (no 20 s grace wait)");
    let status = ok(&ctrd, "ContainerStatus", cri.container_status(&id));
    assert_eq!(status.state, ContainerState::ContainerExited as i32);
    assert_eq!(status.exit_code, 0, "the trap's exit 0: {}", status.reason);
    ok(&ctrd, "RemoveContainer", cri.remove_container(&id));
    assert!(ok(&ctrd, "ListContainers", cri.list_containers(Some(&pod_id))).is_empty());

    // The pod.
    ok(&ctrd, "StopPodSandbox", cri.stop_pod_sandbox(&pod_id));
    let status = ok(&ctrd, "PodSandboxStatus", cri.pod_sandbox_status(&pod_id));
    assert_eq!(status.state, PodSandboxState::SandboxNotready as i32);
    ok(&ctrd, "RemovePodSandbox", cri.remove_pod_sandbox(&pod_id));
    assert!(ok(&ctrd, "ListPodSandbox", cri.list_pod_sandbox()).is_empty());

    ctrd.assert_clean();
    // Both went through glassbox from create to delete, and the exec too:
    // an `exec` stage by a second process (the one exec'd) after the init's.
    for which in [&pod_id, &id] {
        let stages = recorded_stages(&ctrd, which);
        assert!(stages.iter().any(|(_, s)| s == "cleanup"), "{which} was deleted by glassbox: {stages:?}");
    }
    let execs: Vec<i64> =
        recorded_stages(&ctrd, &id).into_iter().filter(|(_, s)| s == "exec").map(|(p, _)| p).collect();
    assert!(execs.len() >= 3, "the init's exec and the two ExecSyncs' were recorded by glassbox: {execs:?}");
}

/// `glassbox-cri`, the command the README and the labs use: the same pod
/// life, one subcommand per CRI call.
#[test]
fn the_glassbox_cri_command_drives_a_pod() {
    let ctrd = ContainerdCri::start(&glassbox_bin());
    ctrd.import_busybox();
    let cli = |args: &[&str]| {
        let out = Command::new(glassbox_cri_bin())
            .arg("--socket")
            .arg(ctrd.socket())
            .arg(args[0])
            // Before the positional words: `create`'s command takes the rest.
            .args(if matches!(args[0], "run-pod" | "create") {
                vec!["--cgroup-parent", ctrd.cgroup_parent()]
            } else {
                vec![]
            })
            .args(&args[1..])
            .output()
            .expect("running glassbox-cri");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let must = |args: &[&str]| {
        let (code, stdout, stderr) = cli(args);
        assert_eq!(code, Some(0), "glassbox-cri {args:?}: {stderr}\n{}", ctrd.log_tail(25));
        stdout.trim().to_string()
    };

    assert!(must(&["version"]).starts_with("containerd "));
    assert!(must(&["images"]).contains(IMAGE));
    let pod = must(&["run-pod", "cli-pod"]);
    assert!(must(&["pods"]).contains(&format!("{pod}  SANDBOX_READY")));
    let id = must(&["create", &pod, "app", IMAGE, "sleep", "300"]);
    must(&["start", &id]);
    assert!(must(&["ps", "--pod", &pod]).contains("CONTAINER_RUNNING"));
    let (code, stdout, stderr) = cli(&["exec", &id, "sh", "-c", "echo from exec; exit 4"]);
    assert_eq!(
        (code, stdout.trim()),
        (Some(4), "from exec"),
        "exec prints the output and exits with the code: {stderr}"
    );
    // sleep, pid 1 of its namespace, ignores SIGTERM: SIGKILL after 1 s.
    must(&["stop", "--timeout", "1", &id]);
    assert!(must(&["status", &id]).contains("\"exit_code\": 137"), "killed by SIGKILL");
    must(&["rm", &id]);
    must(&["stop-pod", &pod]);
    must(&["rm-pod", &pod]);
    assert_eq!(must(&["pods"]), "");
    let (code, _, stderr) = cli(&["start", "no-such-container"]);
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with("glassbox-cri: StartContainer failed:"), "one line naming the call: {stderr}");
    ctrd.assert_clean();
}
