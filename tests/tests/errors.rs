//! Failures the runtime must explain and clean up after: malformed
//! config.json, unknown and invalid container ids, a --pid-file that
//! cannot be written. runc's convention: exit status 1, one line on
//! stderr, nothing left behind.

use glassbox_e2e::*;
use serde_json::json;

/// `create` with the bundle as it is must fail with one line naming `needle`
/// (any of them), and leave nothing behind.
#[track_caller]
fn create_fails_naming(bundle: &Bundle, name: &str, needles: &[&str]) {
    let rt = Runtime::new();
    let id = rt.id(name);
    let err = assert_fails(&rt.create(&id, bundle));
    assert!(needles.iter().any(|n| err.contains(n)), "the error should name one of {needles:?}: {err}");
    assert!(rt.status(&id).is_none(), "a failed create must not leave a container behind");
    rt.assert_clean(&id, bundle);
    // And `run` fails the same way.
    let id = rt.id(name);
    let out = rt.run(&id, bundle);
    let err = assert_fails(&out);
    assert!(needles.iter().any(|n| err.contains(n)), "run: the error should name one of {needles:?}: {err}");
    rt.assert_clean(&id, bundle);
}

#[test]
fn truncated_config_json() {
    let bundle = Bundle::busybox(&["true"]);
    let text = std::fs::read(bundle.config_path()).unwrap();
    bundle.write_raw_config(&text[..text.len() / 2]);
    create_fails_naming(&bundle, "truncated", &["config.json"]);
}

#[test]
fn process_args_of_the_wrong_type() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["process"]["args"] = json!("true"));
    create_fails_naming(&bundle, "argstype", &["process.args"]);
}

#[test]
fn empty_process_args() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["process"]["args"] = json!([]));
    create_fails_naming(&bundle, "argsempty", &["process.args", "args"]);
}

#[test]
fn unknown_oci_version() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["ociVersion"] = json!("9.0.0"));
    create_fails_naming(&bundle, "ociversion", &["ociVersion", "9.0.0"]);
}

#[test]
fn missing_rootfs() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| v["root"]["path"] = json!("no-such-rootfs"));
    create_fails_naming(&bundle, "norootfs", &["no-such-rootfs"]);
}

#[test]
fn missing_config_json() {
    let bundle = Bundle::busybox(&["true"]);
    std::fs::remove_file(bundle.config_path()).unwrap();
    create_fails_naming(&bundle, "noconfig", &["config.json"]);
}

#[test]
fn executable_not_found_in_the_rootfs() {
    // `create` fails with 1, as runc's does; `run` exits 127 as a shell
    // would (tests/tests/not_runnable.rs).
    let bundle = Bundle::busybox(&["/bin/no-such-program"]);
    let rt = Runtime::new();
    let id = rt.id("noexe");
    let err = assert_fails(&rt.create(&id, &bundle));
    assert!(err.contains("/bin/no-such-program"), "the error should name the program: {err}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn unknown_namespace_type() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| spec::set_namespace(v, "bogus", None));
    create_fails_naming(&bundle, "badns", &["bogus", "namespaces"]);
}

#[test]
fn unknown_ids_are_named_by_every_verb() {
    let rt = Runtime::new();
    let id = rt.id("ghost");
    for verb in [&["state", &id][..], &["start", &id], &["kill", &id, "KILL"], &["delete", &id], &["ps", &id]] {
        let err = assert_fails(&rt.cmd(verb));
        assert!(err.contains(&id), "`{}` should name the id: {err}", verb[0]);
    }
    rt.assert_clean_id(&id);
}

#[test]
fn invalid_ids_are_refused() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["true"]);
    for bad in ["../x", "a/b", "", "..", ".hidden", "with space"] {
        let err = assert_fails(&rt.create(bad, &bundle));
        assert!(!err.is_empty(), "{bad:?}");
        for verb in ["state", "delete", "start"] {
            assert_fails(&rt.cmd(&[verb, bad]));
        }
    }
    let parent = rt.root().parent().unwrap();
    assert!(!parent.join("x").exists(), "`../x` escaped the state root");
    assert_eq!(std::fs::read_dir(rt.root()).unwrap().count(), 0, "nothing may be created under --root");
    assert!(clean::mountinfo_lines_mentioning(bundle.path()).is_empty());
}

#[test]
fn start_of_a_running_container_fails() {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id("startrunning");
    rt.start_container(&id, &bundle);
    let err = assert_fails(&rt.start(&id));
    assert!(err.contains(&id) || err.contains("running"), "{err}");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn errors_go_to_the_log_file_as_json_too() {
    let rt = Runtime::new();
    let log = rt.scratch().join("log.json");
    let id = rt.id("logged");
    let out = rt.cmd(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", &id]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).expect("the error should be written to --log");
    let last = text.lines().last().expect("a log line");
    let v: serde_json::Value = serde_json::from_str(last).expect("--log-format json writes JSON lines");
    assert_eq!(v["level"], "error", "{v}");
    assert!(v["msg"].as_str().is_some_and(|m| m.contains(&id)), "{v}");
    rt.assert_clean_id(&id);
}

/// `create`, `run` and `exec` with this --pid-file fail naming `needle`;
/// no container, and no exec'd process, is left.
#[track_caller]
fn pid_file_fails(pid_file: &std::path::Path, needle: &str) {
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let pid_file = pid_file.to_str().unwrap();
    for verb in ["create", "run"] {
        let id = rt.id("pidfile");
        let out = rt.cmd(&[verb, "--bundle", bundle.path().to_str().unwrap(), "--pid-file", pid_file, &id]);
        let err = assert_fails(&out);
        assert!(err.contains(needle), "{verb}: the error should name {needle}: {err}");
        assert!(rt.status(&id).is_none(), "{verb}: a failed create must not leave a container behind");
        rt.assert_clean(&id, &bundle);
    }
    let id = rt.id("pidfile-exec");
    rt.start_container(&id, &bundle);
    let err = assert_fails(&rt.cmd(&["exec", "--detach", "--pid-file", pid_file, &id, "sleep", "20"]));
    assert!(err.contains(needle), "exec: the error should name {needle}: {err}");
    assert_eq!(rt.pids(&id), vec![rt.pid(&id)], "a failed exec must not leave its process running");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn pid_file_in_a_missing_directory() {
    // Found out before anything is made.
    let scratch = tempfile::tempdir().unwrap();
    let missing = scratch.path().join("no-such-dir");
    let needle = format!("{} does not exist; make the directory first", missing.display());
    pid_file_fails(&missing.join("init.pid"), &needle);
}

#[test]
fn pid_file_that_cannot_be_written() {
    // The path is a directory: found out only when the pid is written, once
    // the process exists, which must then be stopped; the temporary file
    // the pid went to first goes too.
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("pid");
    std::fs::create_dir(&dir).unwrap();
    pid_file_fails(&dir, "writing --pid-file");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["pid"], "nothing but the directory is left beside it");
}

#[test]
fn ids_longer_than_a_file_name_allows_are_refused() {
    // An id names files, the longest `.events/<id>.jsonl`: at most 255 - 6 bytes.
    let rt = Runtime::new();
    let bundle = Bundle::busybox(&["true"]);
    for len in [250, 256, 1024] {
        let base = rt.id("long");
        let id = format!("{base}{}", "x".repeat(len - base.len()));
        let out = rt.create(&id, &bundle);
        if out.status.success() {
            // Not ours to leave behind (this id is not one Runtime's drop knows).
            assert_ok(&rt.delete_force(&id));
        }
        let err = assert_fails(&out);
        assert!(err.contains("not valid") && err.contains("at most 249 characters"), "{len}: {err}");
        rt.assert_clean(&id, &bundle);
    }
    let base = rt.id("long-ok");
    let id = format!("{base}{}", "y".repeat(249 - base.len()));
    assert_ok(&rt.run(&id, &bundle));
    rt.assert_clean(&id, &bundle);
    assert!(kept_record_path(rt.root(), &id).exists(), "a 249-byte id still has its record kept");
    assert_eq!(std::fs::read_dir(rt.root()).unwrap().count(), 1, "only .events is left under --root");
}

#[test]
fn log_to_a_directory_is_an_error() {
    let rt = Runtime::new();
    let dir = rt.scratch().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let log = dir.to_str().unwrap();
    for verb in [&["list"][..], &["state", "no-such-container"]] {
        let mut args = vec!["--log", log];
        args.extend_from_slice(verb);
        let err = assert_fails(&rt.cmd(&args));
        assert!(err.contains(&format!("--log {log}")) && err.contains("Is a directory"), "{verb:?}: {err}");
    }
}
