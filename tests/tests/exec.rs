//! `glassbox exec`: a second process joining a running container's
//! namespaces (setns(2)) with its own args, env, cwd, user.

use glassbox_e2e::*;
use serde_json::json;

fn running(rt: &Runtime, name: &str) -> (String, Bundle) {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| {
        v["hostname"] = json!("exec-box");
        for ns in ["pid", "network", "ipc", "uts", "mount"] {
            spec::set_namespace(v, ns, None);
        }
    });
    let id = rt.id(name);
    rt.start_container(&id, &bundle);
    (id, bundle)
}

/// `exec --detach --pid-file … sleep 20`: the pid of the process it left running.
fn exec_detached_sleep(rt: &Runtime, id: &str) -> i32 {
    let pid_file = rt.scratch().join("exec.pid");
    let out = rt.cmd(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), id, "sleep", "20"]);
    assert_ok(&out);
    std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap()
}

fn finish(rt: &Runtime, id: &str, bundle: &Bundle) {
    assert_ok(&rt.delete_force(id));
    rt.assert_clean(id, bundle);
}

#[test]
fn exec_sees_the_container_hostname() {
    let rt = Runtime::new();
    let (id, bundle) = running(&rt, "exec-host");
    let out = rt.exec(&id, &["hostname"]);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "exec-box");
    finish(&rt, &id, &bundle);
}

#[test]
fn exec_shares_the_pid_namespace() {
    let rt = Runtime::new();
    let (id, bundle) = running(&rt, "exec-ps");
    let out = rt.exec(&id, &["ps", "-o", "pid,args"]);
    assert_ok(&out);
    let text = stdout(&out);
    let init = text.lines().find(|l| l.split_whitespace().next() == Some("1"));
    assert!(init.is_some_and(|l| l.contains("sleep 30")), "pid 1 should be sleep 30:\n{text}");
    let pid = rt.pid(&id);
    assert_eq!(host_ns(&pid.to_string(), "pid"), {
        let out = rt.exec(&id, &["readlink", "/proc/self/ns/pid"]);
        assert_ok(&out);
        stdout(&out).trim().to_string()
    });
    finish(&rt, &id, &bundle);
}

#[test]
fn exec_env_cwd_and_user() {
    let rt = Runtime::new();
    let (id, bundle) = running(&rt, "exec-env");
    let out = rt.cmd(&[
        "exec",
        "--env",
        "FOO=bar",
        "--cwd",
        "/etc",
        "--user",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "echo $FOO; pwd; id -u; id -g",
    ]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "bar\n/etc\n1000\n1000\n");
    finish(&rt, &id, &bundle);
}

#[test]
fn exec_with_a_process_json() {
    let rt = Runtime::new();
    let (id, bundle) = running(&rt, "exec-p");
    let process = rt.scratch().join("process.json");
    let p = json!({
        "terminal": false,
        "user": { "uid": 0, "gid": 0 },
        "args": ["sh", "-c", "echo from-process-json $GREETING; pwd"],
        "env": ["PATH=/bin", "GREETING=hello"],
        "cwd": "/tmp"
    });
    std::fs::write(&process, serde_json::to_vec(&p).unwrap()).unwrap();
    let out = rt.cmd(&["exec", "-p", process.to_str().unwrap(), &id]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "from-process-json hello\n/tmp\n");
    finish(&rt, &id, &bundle);
}

#[test]
fn exec_exit_code_propagates() {
    let rt = Runtime::new();
    let (id, bundle) = running(&rt, "exec-rc");
    let out = rt.exec(&id, &["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "stderr: {}", stderr(&out));
    assert_eq!(rt.status(&id).as_deref(), Some("running"), "exec's exit must not stop the container");
    finish(&rt, &id, &bundle);
}

#[test]
fn exec_detached_writes_its_pid_file() {
    let rt = Runtime::new();
    let (id, bundle) = running(&rt, "exec-d");
    let pid = exec_detached_sleep(&rt, &id);
    let init = rt.pid(&id);
    assert_eq!(host_ns(&pid.to_string(), "pid"), host_ns(&init.to_string(), "pid"));
    assert_eq!(host_ns(&pid.to_string(), "mnt"), host_ns(&init.to_string(), "mnt"));
    finish(&rt, &id, &bundle);
}

/// The exec'd process is in every cgroup of the container, and got there
/// without a cgroup.procs write (the first one after a quiet moment waits
/// for an RCU grace period): clone3 started it in the cgroup2 directory,
/// and it wrote itself ("0") into each v1 hierarchy's tasks.
#[test]
fn exec_joins_the_container_cgroups_without_a_cgroup_procs_write() {
    let rt = Runtime::new();
    let (id, bundle) = running(&rt, "exec-cg");
    let pid = exec_detached_sleep(&rt, &id);
    let init = rt.pid(&id);
    let cgroups = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(cgroups(pid), cgroups(init), "the exec'd process and the init share every cgroup");

    let joins: Vec<_> = record_of(rt.root(), &id)
        .into_iter()
        .filter(|e| e.pid == pid)
        .filter_map(|e| match e.kind {
            glassbox_events::Kind::Step { action, args, .. } if action == "join" => Some(args),
            _ => None,
        })
        .collect();
    assert!(!joins.is_empty(), "the exec'd process's joins are recorded");
    for join in &joins {
        let file = join["file"].as_str().unwrap();
        let clone3 = join.get("via").is_some_and(|v| v == "clone3");
        let itself = join.get("value").is_some_and(|v| v == "0") && file.ends_with("/tasks");
        assert!(clone3 || itself, "a join by a cgroup.procs write: {join:?}");
    }
    finish(&rt, &id, &bundle);
}

#[test]
fn exec_into_an_unknown_container_fails() {
    let rt = Runtime::new();
    let id = rt.id("no-such");
    let err = assert_fails(&rt.exec(&id, &["true"]));
    assert!(err.contains(&id), "the error should name the id: {err}");
    rt.assert_clean_id(&id);
}

#[test]
fn exec_into_a_stopped_container_fails() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["true"]);
    let id = rt.id("exec-stopped");
    rt.start_container_or_stopped(&id, &bundle);
    rt.wait_status(&id, "stopped");
    assert_fails(&rt.exec(&id, &["true"]));
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}
