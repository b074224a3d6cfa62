//! config.json mistakes found before anything is made: each is refused by
//! `create` and `run` with one line naming the field and the reason, and
//! nothing is left behind. Without these checks each one failed far from
//! its cause ("sh: not found", a bare EINVAL, "init exited early"), failed
//! only after `start` with nothing said, or — uid 4294967295 — ran as root.

use glassbox_e2e::*;
use serde_json::json;

#[test]
fn uid_4294967295_is_refused_not_run_as_root() {
    // setresuid(-1) means "leave the uid unchanged": the container would keep root.
    let bundle = Bundle::busybox(&["id", "-u"]);
    bundle.config_mut(|v| v["process"]["user"] = json!({ "uid": 4294967295u32, "gid": 0 }));
    refused(&bundle, "uid-1", &["process.user.uid", "4294967295", "out of range"]);
    bundle.config_mut(|v| v["process"]["user"] = json!({ "uid": 0, "gid": 4294967295u32 }));
    refused(&bundle, "gid-1", &["process.user.gid", "4294967295"]);
    bundle.config_mut(|v| v["process"]["user"] = json!({ "uid": 0, "gid": 0, "additionalGids": [2147483648u32] }));
    refused(&bundle, "group-big", &["process.user.additionalGids[0]", "2147483648"]);
}

#[test]
fn exec_as_uid_4294967295_is_refused() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("exec-uid-1");
    rt.start_container(&id, &bundle);
    let err = assert_fails(&rt.exec(&id, &["-u", "4294967295", "id", "-u"]));
    refused::assert_names(&err, &["--user", "4294967295", "out of range"], "exec -u");
    let err = assert_fails(&rt.exec(&id, &["--user", "0:4294967295", "id", "-u"]));
    refused::assert_names(&err, &["--user", "4294967295"], "exec -u 0:GID");
    let process = rt.scratch().join("process.json");
    let p = json!({ "args": ["id", "-u"], "cwd": "/", "user": { "uid": 4294967295u32, "gid": 0 } });
    std::fs::write(&process, p.to_string()).unwrap();
    let err = assert_fails(&rt.cmd(&["exec", "--process", process.to_str().unwrap(), &id]));
    refused::assert_names(&err, &["process.user.uid", "4294967295"], "exec --process");
    assert_eq!(rt.pids(&id), vec![rt.pid(&id)], "a refused exec must not leave a process");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn too_many_additional_gids() {
    // setgroups(2) takes at most NGROUPS_MAX (65536).
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["process"]["user"]["additionalGids"] = json!((0..70_000).collect::<Vec<u32>>()));
    refused(&bundle, "ngroups", &["process.user.additionalGids", "70000", "NGROUPS_MAX"]);
}

#[test]
fn seccomp_argument_index_9() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                           "args": [{ "index": 9, "value": 1, "op": "SCMP_CMP_EQ" }] }]
        })
    });
    refused(&bundle, "seccomp-index", &["linux.seccomp.syscalls[0].args[0].index", "9", "0..=5"]);
}

#[test]
fn seccomp_relative_listener_path() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| {
        v["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "run/seccomp.sock" })
    });
    refused(&bundle, "seccomp-listener", &["linux.seccomp.listenerPath", "run/seccomp.sock", "absolute"]);
}

#[test]
fn seccomp_program_longer_than_the_kernel_takes() {
    // 10,000 conditions on getpid's first argument compile to 10,053 BPF
    // instructions; seccomp(2) takes at most 4096 (BPF_MAXINSNS). Found
    // when the init compiles the filter, before it reports Ready.
    let bundle = Bundle::busybox(&["true"]);
    let rules: Vec<_> = (0..10_000)
        .map(|i| {
            json!({ "names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                    "args": [{ "index": 0, "value": i, "op": "SCMP_CMP_EQ" }] })
        })
        .collect();
    bundle.config_mut(|v| v["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules }));
    refused(&bundle, "seccomp-long", &["linux.seccomp.syscalls", "10053 instructions", "BPF_MAXINSNS"]);
}

#[test]
fn arguments_and_environment_too_big_for_execve() {
    // 30 variables of 100 KB: 3 MB, over the 2 MiB an 8 MiB stack leaves to
    // execve(2) for them; it would fail with E2BIG after `start`.
    let bundle = Bundle::busybox(&["true"]);
    let env: Vec<String> = (0..30).map(|i| format!("V{i}={}", "x".repeat(100_000))).collect();
    bundle.config_mut(|v| {
        v["process"]["env"] = json!(env);
        v["process"]["rlimits"] = json!([{ "type": "RLIMIT_STACK", "soft": 8388608, "hard": 8388608 }]);
    });
    refused(&bundle, "e2big", &["process.args and process.env", "E2BIG", "RLIMIT_STACK"]);
    bundle.config_mut(|v| v["process"]["args"] = json!(["echo", "y".repeat(200_000)]));
    refused(&bundle, "e2big-one", &["process.args[1]", "MAX_ARG_STRLEN"]);
}

#[test]
fn no_proc_mount() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/proc"));
    refused(&bundle, "noproc", &["mounts", "/proc"]);
}

#[test]
fn root_path_missing_empty_or_the_host_root() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["root"]["path"] = json!(""));
    refused(&bundle, "root-empty", &["root.path", "missing or empty"]);
    bundle.config_mut(|v| v["root"].as_object_mut().unwrap().retain(|k, _| k != "path"));
    refused(&bundle, "root-missing", &["root.path", "missing or empty"]);
    bundle.config_mut(|v| v["root"]["path"] = json!("/"));
    refused(&bundle, "root-slash", &["root.path", "host's root directory"]);
    // The bundle is a temp dir two levels below /: `../../..` is / as well.
    bundle.config_mut(|v| v["root"]["path"] = json!("../../.."));
    refused(&bundle, "root-dotdot", &["root.path", "host's root directory"]);
    bundle.config_mut(|v| v["root"]["path"] = json!("."));
    refused(&bundle, "root-bundle", &["root.path", "the bundle directory"]);
}

#[test]
fn mount_destination_empty_or_the_root() {
    let bundle = Bundle::busybox(&["true"]);
    let n = bundle.config()["mounts"].as_array().unwrap().len();
    let field = format!("mounts[{n}].destination");
    bundle.config_mut(|v| spec::add_mount(v, json!({ "destination": "", "type": "tmpfs", "source": "tmpfs" })));
    refused(&bundle, "dest-empty", &[&field, "is empty"]);
    bundle.config_mut(|v| v["mounts"][n]["destination"] = json!("/"));
    refused(&bundle, "dest-root", &[&field, "the container's root"]);
}

#[test]
fn namespace_type_given_as_a_number() {
    let bundle = Bundle::busybox(&["true"]);
    let n = bundle.config()["linux"]["namespaces"].as_array().unwrap().len();
    bundle.config_mut(|v| v["linux"]["namespaces"].as_array_mut().unwrap().push(json!({ "type": 5 })));
    let err = refused(&bundle, "ns-number", &[&format!("linux.namespaces[{n}].type"), "as a string"]);
    assert!(!err.contains("not valid JSON"), "the file is valid JSON: {err}");
}

#[test]
fn user_namespace_without_mappings() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| spec::set_namespace(v, "user", None));
    refused(&bundle, "userns-nomap", &["linux.uidMappings", "new user namespace", "EINVAL"]);
}

/// runtime-spec 1.2's id-mapped mounts are parsed but not carried out:
/// mounted without the mapping, the files would show the wrong owners.
#[test]
fn an_id_mapped_mount_is_refused_by_name() {
    let bundle = Bundle::busybox(&["true"]);
    let data = bundle.path().join("data");
    std::fs::create_dir(&data).unwrap();
    bundle.config_mut(|v| {
        spec::add_mount(
            v,
            json!({ "destination": "/data", "type": "bind", "source": data, "options": ["bind"],
                    "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }],
                    "gidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }] }),
        )
    });
    refused(&bundle, "idmap-mount", &["mounts[7].uidMappings", "id-mapped mounts are not supported"]);
}
