//! POSIX-platform hooks (config.md "POSIX-platform Hooks"): each one gets the
//! container's state on stdin; a failing early hook fails `create` and
//! leaves nothing behind.

use std::path::Path;

use glassbox_e2e::*;
use serde_json::Value;

/// A hook (run on the host) that saves its stdin into `dir/<phase>.json`.
fn save_state_hook(v: &mut Value, phase: &str, dir: &Path) {
    let file = dir.join(format!("{phase}.json"));
    spec::add_hook(v, phase, "/bin/sh", &["sh", "-c", &format!("cat > {}", file.display())]);
}

fn read_state(dir: &Path, phase: &str) -> Value {
    let path = dir.join(format!("{phase}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("the {phase} hook did not run ({e})"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{phase} hook stdin is not state JSON ({e}): {text:?}"))
}

#[test]
fn hooks_receive_the_state_on_stdin() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let out_dir = rt.scratch().join("hooks");
    std::fs::create_dir(&out_dir).unwrap();
    bundle.config_mut(|v| {
        for phase in ["createRuntime", "poststart", "poststop"] {
            save_state_hook(v, phase, &out_dir);
        }
    });
    let id = rt.id("hooks");
    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id);

    let created = read_state(&out_dir, "createRuntime");
    assert_eq!(created["id"], id.as_str(), "{created}");
    assert_eq!(created["pid"], pid, "{created}");
    assert!(created["bundle"].is_string(), "{created}");
    assert!(!out_dir.join("poststart.json").exists(), "poststart ran before start");

    assert_ok(&rt.start(&id));
    assert!(wait_until(std::time::Duration::from_secs(3), || out_dir.join("poststart.json").exists()));
    let started = read_state(&out_dir, "poststart");
    assert_eq!(started["id"], id.as_str(), "{started}");
    assert_eq!(started["pid"], pid, "{started}");

    assert!(!out_dir.join("poststop.json").exists(), "poststop ran before delete");
    assert_ok(&rt.kill(&id, "KILL"));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    let stopped = read_state(&out_dir, "poststop");
    assert_eq!(stopped["id"], id.as_str(), "{stopped}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn hooks_get_their_args_and_env() {
    let bundle = Bundle::busybox(&["true"]);
    let rt = Runtime::new();
    let file = rt.scratch().join("args");
    bundle.config_mut(|v| {
        let script = format!("echo \"$0 $1 $HOOK_VAR\" > {}", file.display());
        v["hooks"] = serde_json::json!({ "createRuntime": [{
            "path": "/bin/sh", "args": ["sh", "-c", script, "first", "second"], "env": ["HOOK_VAR=set"]
        }]});
    });
    let id = rt.id("hookargs");
    assert_ok(&rt.run(&id, &bundle));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "first second set\n");
    rt.assert_clean(&id, &bundle);
}

fn failing_hook_fails_create(phase: &str) {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| spec::add_hook(v, phase, "/bin/false", &["false"]));
    let rt = Runtime::new();
    let id = rt.id(&format!("badhook-{}", phase.to_lowercase()));
    let err = assert_fails(&rt.create(&id, &bundle));
    assert!(err.contains(phase) || err.contains("hook"), "the error should say which hook failed: {err}");
    assert!(rt.status(&id).is_none(), "the container should not exist after a failed create");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn failing_prestart_hook_fails_create_and_leaves_nothing() {
    failing_hook_fails_create("prestart");
}

#[test]
fn failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    failing_hook_fails_create("createRuntime");
}

#[test]
fn failing_create_container_hook_fails_create_and_leaves_nothing() {
    failing_hook_fails_create("createContainer");
}

#[test]
fn a_failing_poststop_hook_does_not_stop_the_others() {
    // runtime-spec: if a poststop hook fails, the runtime logs a warning and
    // the remaining hooks and lifecycle continue as if it had succeeded.
    let bundle = Bundle::busybox(&["true"]);
    let rt = Runtime::new();
    let after = rt.scratch().join("after-the-failure");
    bundle.config_mut(|v| {
        spec::add_hook(v, "poststop", "/bin/sh", &["sh", "-c", "echo cannot clean up >&2; exit 4"]);
        spec::add_hook(v, "poststop", "/bin/sh", &["sh", "-c", &format!("touch {}", after.display())]);
    });
    let id = rt.id("poststopfail");
    rt.start_container_or_stopped(&id, &bundle);
    rt.wait_status(&id, "stopped");
    let out = rt.delete(&id);
    assert_ok(&out);
    assert!(after.exists(), "the poststop hook after the failing one did not run");
    refused::assert_names(
        &stderr(&out),
        &["hooks.poststop[0]", "exited with code 4", "cannot clean up"],
        "delete's warning",
    );
    rt.assert_clean(&id, &bundle);
}

#[test]
fn a_failing_poststart_hook_fails_start_and_stops_the_container() {
    // runtime-spec 1.3: if a poststart hook fails, the runtime generates an
    // error and stops the container; the hooks after it do not run.
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let after = rt.scratch().join("after-the-failure");
    bundle.config_mut(|v| {
        spec::add_hook(v, "poststart", "/bin/sh", &["sh", "-c", "echo not ready >&2; exit 5"]);
        spec::add_hook(v, "poststart", "/bin/sh", &["sh", "-c", &format!("touch {}", after.display())]);
    });
    let needles = ["hooks.poststart[0]", "exited with code 5", "not ready", "stopped"];
    let id = rt.id("poststartfail");
    assert_ok(&rt.create(&id, &bundle));
    let err = assert_fails(&rt.start(&id));
    refused::assert_names(&err, &needles, "start");
    rt.wait_status(&id, "stopped");
    assert!(!after.exists(), "a poststart hook ran after the failing one");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);

    let id = rt.id("poststartfail-run");
    let err = assert_fails(&rt.run(&id, &bundle));
    refused::assert_names(&err, &needles, "run");
    rt.assert_clean(&id, &bundle);
}
