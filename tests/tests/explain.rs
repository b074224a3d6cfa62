//! `--explain`, `--explain=json` and `--step` on real containers: the
//! narration arrives on stderr as the container is made, in order, before
//! the program's own output, and leaves nothing behind in the container.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use glassbox_e2e::*;
use glassbox_events::Kind;

/// Run glassbox with `args`; stdout and stderr go to one file (so their
/// order can be checked), stdin is `input`.
fn glassbox_merged(rt: &Runtime, args: &[&str], input: &str) -> (std::process::ExitStatus, String) {
    let log = rt.scratch().join(format!("merged-{}.log", unique_id("log")));
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(glassbox_bin())
        .arg("--root")
        .arg(rt.root())
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let status = runtime::wait_bounded(&mut child, Duration::from_secs(30)).expect("glassbox finished");
    (status, std::fs::read_to_string(&log).unwrap())
}

#[test]
fn run_explain_narrates_every_stage_before_the_program_speaks() {
    let bundle = Bundle::busybox(&["echo", "hello from the container"]);
    bundle.config_mut(|v| v["linux"]["resources"] = serde_json::json!({ "memory": { "limit": 104857600 } }));
    let rt = Runtime::new();
    let id = rt.id("explain");
    let (status, out) =
        glassbox_merged(&rt, &["run", "--explain", "--bundle", bundle.path().to_str().unwrap(), &id], "");
    assert!(status.success(), "{out}");
    rt.assert_clean(&id, &bundle);

    // Real values, shell equivalents and checks from outside.
    for needle in ["unshare", "mount -t proc", "104857600", "pivot_root", "/proc/", "execve"] {
        assert!(out.contains(needle), "the narration mentions {needle:?}:\n{out}");
    }
    // Every stage the container went through is narrated, in the record's order.
    let hello = out.find("hello from the container").expect("the program ran");
    let exec = out.find("execve").unwrap();
    assert!(exec < hello, "the execve is narrated before the program's output:\n{out}");
    // Piped: no colour, and lines fit an 80-column terminal.
    assert!(!out.contains('\u{1b}'), "no ANSI escapes when stderr is not a terminal");
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "longer than 80 columns: {line:?}");
    }
}

#[test]
fn explain_json_gives_one_object_per_event_with_its_explanation() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("explainjson");
    let out = rt.cmd(&["run", "--explain=json", "--bundle", bundle.path().to_str().unwrap(), &id]);
    assert_ok(&out);
    rt.assert_clean(&id, &bundle);
    let lines: Vec<serde_json::Value> =
        stderr(&out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let record = record_of(rt.root(), &id);
    assert_eq!(lines.len(), record.len(), "one line per event of the record");
    for (line, event) in lines.iter().zip(&record) {
        assert_eq!(line["seq"], event.seq, "in the record's order");
        assert!(line.get("explain").is_some(), "{line}");
    }
    assert!(lines.iter().any(|l| l["explain"]["shell"].is_string()), "shell equivalents are given");
}

#[test]
fn step_pauses_before_each_stage_until_enter_and_c_stops_pausing() {
    let bundle = Bundle::busybox(&["echo", "made it"]);
    let rt = Runtime::new();
    let id = rt.id("step");
    // Enter twice, then `c`: three pauses, then none.
    let (status, out) =
        glassbox_merged(&rt, &["run", "--step", "--bundle", bundle.path().to_str().unwrap(), &id], "\n\nc\n");
    assert!(status.success(), "{out}");
    assert!(out.contains("made it"), "{out}");
    rt.assert_clean(&id, &bundle);
    assert_eq!(
        out.matches("next stage:").count(),
        3,
        "a prompt before each of the first three stages, then none:\n{out}"
    );
    let stages = record_of(rt.root(), &id).iter().filter(|e| matches!(e.kind, Kind::StageBegin { .. })).count();
    assert!(stages > 3, "more stages than pauses: after `c` it runs on");
    assert!(out.contains("nsenter --target"), "an nsenter command to look inside:\n{out}");
}

#[test]
fn step_without_any_input_runs_to_the_end() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("stepeof");
    let (status, out) = glassbox_merged(&rt, &["run", "--step", "--bundle", bundle.path().to_str().unwrap(), &id], "");
    assert!(status.success(), "{out}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn create_then_start_with_explain_narrate_both_halves() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("explaincs");
    let created = rt.create_with(&id, &bundle, &["--explain"]);
    assert_ok(&created);
    assert!(stderr(&created).contains("pivot_root"), "{}", stderr(&created));
    assert!(!stderr(&created).contains("execve: "), "the execve comes with start");
    let started = rt.cmd(&["start", "--explain", &id]);
    assert_ok(&started);
    assert!(stderr(&started).contains("execve: "), "{}", stderr(&started));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

/// A container left running `sleep 30`, for `exec` to join.
fn sleeping(rt: &Runtime, name: &str) -> (String, Bundle) {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let id = rt.id(name);
    assert_ok(&rt.run_detached(&id, &bundle));
    (id, bundle)
}

#[test]
fn exec_explain_narrates_joining_the_namespaces_and_leaks_no_descriptor() {
    let rt = Runtime::new();
    let (id, bundle) = sleeping(&rt, "explainexec");
    let out = rt.cmd(&["exec", "--explain", &id, "ls", "/proc/self/fd"]);
    assert_ok(&out);
    assert!(stderr(&out).contains("setns"), "{}", stderr(&out));
    // ls itself holds 0, 1, 2 and the directory it reads: nothing of the narrator's.
    let listing = stdout(&out);
    let fds: Vec<&str> = listing.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "descriptors inside the container");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

/// exec clones its process right after starting the narrator's thread;
/// a lock that young thread held at that instant (malloc's, while it set
/// itself up) stayed held in the child, which then hung for good — about
/// once in 60 execs. A hundred in a row finish.
#[test]
fn exec_explain_never_hangs_on_the_narrators_start() {
    let rt = Runtime::new();
    let (id, bundle) = sleeping(&rt, "explainrace");
    for _ in 0..100 {
        assert_ok(&rt.cmd(&["exec", "--explain", &id, "true"]));
    }
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn nothing_of_the_narrator_reaches_the_containers_program() {
    let bundle = Bundle::busybox(&["ls", "/proc/self/fd"]);
    let rt = Runtime::new();
    let id = rt.id("explainfds");
    let out = rt.cmd(&["run", "--explain", "--bundle", bundle.path().to_str().unwrap(), &id]);
    assert_ok(&out);
    let listing = stdout(&out);
    let fds: Vec<&str> = listing.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "descriptors inside the container");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn start_explain_json_explains_the_inits_last_stages_too() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("startjson");
    assert_ok(&rt.create(&id, &bundle));
    let started = rt.cmd(&["start", "--explain=json", &id]);
    assert_ok(&started);
    let lines: Vec<serde_json::Value> =
        stderr(&started).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().all(|l| l.get("explain").is_some()), "{lines:#?}");
    assert!(lines.iter().any(|l| l["action"] == "execve"), "{lines:#?}");
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}
