use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, HookBuilder};

use super::*;

fn sh(script: &str, env: &[&str], timeout: Option<i64>) -> Hook {
    let mut b = HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
        .env(env.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().unwrap()
}

#[test]
fn plan_uses_args0_as_argv0_or_falls_back_to_the_path() {
    let plan = plan_hook("prestart", 0, &sh("true", &["A=1", "B=x=y"], Some(3))).unwrap();
    assert_eq!(plan.name, "hooks.prestart[0]");
    assert_eq!(plan.argv0, "sh");
    assert_eq!(plan.args, ["-c", "true"]);
    assert_eq!(plan.env, [("A".into(), "1".into()), ("B".into(), "x=y".into())]);
    assert_eq!(plan.timeout, Some(Duration::from_secs(3)));

    let bare = HookBuilder::default().path("/usr/bin/true").build().unwrap();
    let plan = plan_hook("poststop", 2, &bare).unwrap();
    assert_eq!(plan.argv0, "/usr/bin/true");
    assert!(plan.args.is_empty() && plan.env.is_empty() && plan.timeout.is_none());
}

#[test]
fn plan_refuses_what_the_spec_forbids() {
    let rel = HookBuilder::default().path("bin/true").build().unwrap();
    let err = plan_hook("createRuntime", 1, &rel).unwrap_err().to_string();
    assert!(err.starts_with("hooks.createRuntime[1].path \"bin/true\" is not absolute"), "{err}");

    let err = plan_hook("poststart", 0, &sh("true", &["NOEQUALS"], None)).unwrap_err();
    assert!(err.to_string().contains("env entry \"NOEQUALS\" is not KEY=VALUE"), "{err}");

    let err = plan_hook("poststart", 0, &sh("true", &[], Some(0))).unwrap_err();
    assert!(err.to_string().starts_with("hooks.poststart[0].timeout is 0"), "{err}");
}

#[test]
fn hook_reads_the_state_json_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state");
    let script = format!("cat > {}", file.display());
    let state = br#"{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42}"#;
    run_hooks("createRuntime", &[sh(&script, &[], None)], state).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), state);
}

#[test]
fn a_large_state_that_the_hook_ignores_does_not_hang() {
    let big = vec![b'x'; 1024 * 1024];
    run_hooks("poststop", &[sh("exit 0", &[], Some(5))], &big).unwrap();
}

#[test]
fn env_is_exactly_what_was_given() {
    let hook = sh("env", &["ONLY=this", "AND=that"], None);
    let outcome = run_hook("poststart", 0, &hook, b"{}").unwrap();
    let mut lines: Vec<&str> = outcome.stdout.lines().collect();
    lines.sort();
    // A shell adds PWD (and some add SHLVL) itself: nothing of the test's own env may appear.
    lines.retain(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("OLDPWD="));
    assert_eq!(lines, ["AND=that", "ONLY=this"]);
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.index, 0);
}

#[test]
fn a_failing_hook_names_kind_index_code_and_what_it_said() {
    let hooks = [sh("true", &[], None), sh("echo 'no network for you' >&2; exit 3", &[], None)];
    let mut seen = Vec::new();
    let err = run_hooks_reporting("createRuntime", &hooks, b"{}", |o| seen.push(o.index)).unwrap_err().to_string();
    assert_eq!(seen, [0]);
    assert_eq!(err, "hooks.createRuntime[1] (/bin/sh) exited with code 3; it printed: no network for you");
}

#[test]
fn the_first_failure_stops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let hooks = [sh("exit 1", &[], None), sh(&format!("touch {}", marker.display()), &[], None)];
    assert!(run_hooks("prestart", &hooks, b"{}").is_err());
    assert!(!marker.exists());
}

#[test]
fn a_hook_killed_by_a_signal_says_which() {
    let err = run_hooks("poststop", &[sh("kill -TERM $$", &[], None)], b"{}").unwrap_err();
    assert_eq!(err.to_string(), "hooks.poststop[0] (/bin/sh) was killed by SIGTERM");
}

#[test]
fn timeout_kills_the_hook_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let err = run_hooks("poststart", &[sh(&script, &[], Some(1))], b"{}").unwrap_err();
    assert!(matches!(err, HookError::TimedOut { secs: 1, .. }), "{err}");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    // The orphaned sleep was killed with its group; its new parent reaps it soon.
    let gone = (0..100).any(|_| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let dead = stat.is_empty() || stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z');
        if !dead {
            std::thread::sleep(Duration::from_millis(10));
        }
        dead
    });
    assert!(gone, "the hook's child {pid} outlived the timeout");
}

#[test]
fn timeout_fails_in_about_the_timeout() {
    let started = Instant::now();
    let err = run_hooks("createRuntime", &[sh("true", &[], None), sh("sleep 5; true", &[], Some(1))], b"{}")
        .unwrap_err()
        .to_string();
    let took = started.elapsed();
    assert!(err.starts_with("hooks.createRuntime[1] (/bin/sh) timed out after 1s"), "{err}");
    assert!(took >= Duration::from_millis(990) && took < Duration::from_millis(2500), "{took:?}");
}

#[test]
fn a_missing_program_is_named() {
    let hook = HookBuilder::default().path("/no/such/hook").build().unwrap();
    let err = run_hooks("poststart", &[hook], b"{}").unwrap_err().to_string();
    assert!(err.starts_with("hooks.poststart[0] (/no/such/hook) does not exist"), "{err}");
}
