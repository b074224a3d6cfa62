//! Where events go: events.jsonl (valid against the published schema, kept
//! after delete, recording the stage a failed create died in), the hub's
//! socket (never blocking `run`, drops counted), `--no-events`, and
//! `glassbox events --follow`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use glassbox_e2e::*;
use glassbox_events::{Event, Kind, Outcome, Stage};
use nix::sys::socket::{
    accept4, bind, listen as listen_on, recv, socket, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr,
};

fn schema() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/schema/events.v1.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the published schema is itself valid")
}

fn run_with(rt: &Runtime, id: &str, bundle: &Bundle, global: &[&str]) -> std::process::Output {
    let mut args: Vec<&std::ffi::OsStr> = global.iter().map(std::ffi::OsStr::new).collect();
    args.extend(["run", id, "--bundle"].map(std::ffi::OsStr::new));
    args.push(bundle.path().as_os_str());
    rt.cmd_os(args)
}

#[test]
fn the_record_validates_against_the_schema_and_survives_delete() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("schema");
    assert_ok(&rt.run(&id, &bundle));
    rt.assert_clean(&id, &bundle);

    let kept = kept_record_path(rt.root(), &id);
    let text = std::fs::read_to_string(&kept).unwrap_or_else(|e| panic!("{}: {e}", kept.display()));
    let validator = schema();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}\n  does not match the schema: {errors:?}");
    }
    let events = record_of(rt.root(), &id);
    assert!(events.iter().any(|e| matches!(&e.kind, Kind::Step { action, .. } if action == "execve")));
    assert!(events.iter().any(|e| matches!(&e.kind, Kind::Status { status } if status == "stopped")));
    // `list` does not mistake the kept records for a container.
    assert_eq!(stdout(&rt.cmd(&["list", "-q"])).trim(), "");
}

#[test]
fn a_new_container_with_the_same_id_takes_the_kept_records_place() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("again");
    assert_ok(&rt.run(&id, &bundle));
    let kept = kept_record_path(rt.root(), &id);
    assert!(kept.exists(), "the first container's record is kept at {}", kept.display());
    assert_ok(&rt.create(&id, &bundle));
    assert!(!kept.exists(), "a new container with the same id makes room for its own record");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
    let events = record_of(rt.root(), &id);
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>(), "the second container's record alone");
    let created = events.iter().filter(|e| matches!(&e.kind, Kind::Status { status } if status == "created")).count();
    assert_eq!(created, 1, "one container's story, not two");
}

#[test]
fn a_create_that_fails_midway_records_the_failing_stage() {
    let bundle = Bundle::busybox(&["/no/such/program"]);
    let rt = Runtime::new();
    let id = rt.id("fails");
    let err = assert_fails(&rt.create(&id, &bundle));
    assert!(err.contains("/no/such/program"), "{err}");
    rt.assert_clean(&id, &bundle);

    let events = record_of(rt.root(), &id);
    let error = events.iter().find_map(|e| match &e.kind {
        Kind::Error { stage, message } => Some((*stage, message.clone())),
        _ => None,
    });
    let (stage, message) = error.expect("an error event");
    assert_eq!(stage, Stage::Exec, "{events:#?}");
    assert!(message.contains("/no/such/program"), "{message}");
    assert!(
        events.iter().any(|e| matches!(e.kind, Kind::StageEnd { stage: Stage::Exec, outcome: Outcome::Failed, .. })),
        "the stage ends as failed"
    );
    // The stages before it went through.
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, Kind::StageEnd { stage: Stage::PivotRoot, outcome: Outcome::Ok, .. })));
}

#[test]
fn a_create_the_runtime_gives_up_on_keeps_the_inits_steps() {
    // The init writes its lines after telling the runtime MountsDone; the
    // runtime's prestart hook then fails and create undoes the container,
    // closing the channel and letting the init exit by itself. The init's
    // mounts and its devices stage must still be in the record, before the
    // runtime's error. Killing the init at once would lose them whenever its
    // write is slower than the hook (~1 ms here): with the write held back
    // 5 ms, this test fails that way.
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| spec::add_hook(v, "prestart", "/bin/false", &["false"]));
    let rt = Runtime::new();
    let id = rt.id("givesup");
    assert_fails(&rt.create(&id, &bundle));
    rt.assert_clean(&id, &bundle);
    let events = record_of(rt.root(), &id);
    let proc_mount = events.iter().position(|e| {
        matches!(&e.kind, Kind::Step { action, args, .. }
            if action == "mount" && args["equivalent"] == "mount -t proc proc /proc")
    });
    let error = events.iter().position(|e| matches!(e.kind, Kind::Error { stage: Stage::Hooks, .. }));
    let (Some(proc_mount), Some(error)) = (proc_mount, error) else {
        panic!("the init's mount and the runtime's error: {events:#?}");
    };
    assert!(proc_mount < error, "in order of seq: {events:#?}");
    // The hook's failure is the one error: the init, finding the channel
    // closed as it waits for HooksDone, has no one to tell and records nothing.
    let errors = events.iter().filter(|e| matches!(e.kind, Kind::Error { .. })).count();
    assert_eq!(errors, 1, "one error line, the hook's: {events:#?}");
    let init = events[proc_mount].pid;
    assert!(
        events
            .iter()
            .any(|e| e.pid == init
                && matches!(e.kind, Kind::StageEnd { stage: Stage::Devices, outcome: Outcome::Ok, .. })),
        "the init's last stage before MountsDone: {events:#?}"
    );
}

#[test]
fn a_failed_mount_names_the_mounts_stage() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| {
        spec::add_mount(
            v,
            serde_json::json!({"destination": "/data", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]}),
        )
    });
    let rt = Runtime::new();
    let id = rt.id("mountfail");
    assert_fails(&rt.create(&id, &bundle));
    rt.assert_clean(&id, &bundle);
    let events = record_of(rt.root(), &id);
    assert!(events.iter().any(|e| matches!(e.kind, Kind::Error { stage: Stage::Mounts, .. })), "{events:#?}");
}

/// `create` of `bundle` fails; the stage its error names ("stage X
/// failed") is the stage of the record's one error line, `expected`.
#[track_caller]
fn assert_the_error_names_the_records_stage(bundle: &Bundle, name: &str, expected: Stage) {
    let rt = Runtime::new();
    let id = rt.id(name);
    let err = assert_fails(&rt.create(&id, bundle));
    rt.assert_clean(&id, bundle);
    let recorded: Vec<Stage> = record_of(rt.root(), &id)
        .iter()
        .filter_map(|e| match e.kind {
            Kind::Error { stage, .. } => Some(stage),
            _ => None,
        })
        .collect();
    assert_eq!(recorded, [expected], "the record's error lines, for: {err}");
    assert!(err.contains(&format!("stage {} failed: ", expected.name())), "the error names the record's stage: {err}");
}

#[test]
fn a_failed_create_records_its_failing_stages_end() {
    // The runtime fails in its own stage (a createRuntime hook): the error
    // line, then the stage's end, failed — the last lines a failing command
    // writes, once lost because the recorder was never flushed at exit.
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| spec::add_hook(v, "createRuntime", "/bin/sh", &["sh", "-c", "exit 3"]));
    let rt = Runtime::new();
    let id = rt.id("failend");
    assert_fails(&rt.create(&id, &bundle));
    rt.assert_clean(&id, &bundle);
    let record = record_of(rt.root(), &id);
    let error = record.iter().position(|e| matches!(e.kind, Kind::Error { stage: Stage::Hooks, .. }));
    let end = record
        .iter()
        .position(|e| matches!(e.kind, Kind::StageEnd { stage: Stage::Hooks, outcome: Outcome::Failed, .. }));
    assert!(error.is_some() && end > error, "an error line, then the stage's end: {record:#?}");
}

#[test]
fn a_failure_inside_a_stage_is_named_by_that_stage() {
    // A cwd its user may not enter fails fchdir(2), in the capabilities
    // stage (once the process is that user); it used to say "exec".
    let bundle = Bundle::busybox(&["/bin/true"]);
    let root = bundle.rootfs().join("root");
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    bundle.config_mut(|v| {
        v["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        v["process"]["cwd"] = serde_json::json!("/root");
    });
    assert_the_error_names_the_records_stage(&bundle, "cwdstage", Stage::Capabilities);

    // A seccomp filter too long for the kernel is found while the exec is
    // got ready (it loads last, with noNewPrivileges); it used to say "seccomp".
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rules: Vec<_> = (0..10_000)
        .map(|i| {
            serde_json::json!({ "names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                    "args": [{ "index": 0, "value": i, "op": "SCMP_CMP_EQ" }] })
        })
        .collect();
    bundle.config_mut(|v| {
        v["process"]["noNewPrivileges"] = serde_json::json!(true);
        v["linux"]["seccomp"] = serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules });
    });
    assert_the_error_names_the_records_stage(&bundle, "seccompstage", Stage::Exec);
}

#[test]
fn a_failure_between_stages_is_recorded_in_the_stage_it_names() {
    // process.cwd is opened before the seccomp and capabilities stages (a
    // filter may refuse openat2), and entered in the capabilities stage:
    // a cwd through a file fails the opening, and the record says so.
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| v["process"]["cwd"] = serde_json::json!("/etc/passwd/x"));
    assert_the_error_names_the_records_stage(&bundle, "cwdfile", Stage::Capabilities);
}

#[test]
fn no_events_writes_no_record() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("noevents");
    assert_ok(&run_with(&rt, &id, &bundle, &["--no-events"]));
    rt.assert_clean(&id, &bundle);
    assert_eq!(record_path(rt.root(), &id), None);
}

/// A hub's listening socket, as the hub will make it (`glassbox hub` does not listen yet).
fn listen(path: &std::path::Path) -> OwnedFd {
    let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
    bind(fd.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    listen_on(&fd, Backlog::new(16).unwrap()).unwrap();
    fd
}

#[test]
fn a_listening_hub_receives_every_event_in_whole_lines_a_stage_at_a_time() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("hub");
    let sock = rt.scratch().join("hub.sock");
    let listener = listen(&sock);
    assert_ok(&run_with(&rt, &id, &bundle, &["--hub", sock.to_str().unwrap()]));
    rt.assert_clean(&id, &bundle);
    // The connection and its messages wait in the socket for the hub to
    // take them, even after the runtime is gone.
    let conn =
        accept4(&listener, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC).expect("glassbox connected to the hub");
    let mut messages = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while let Ok(n @ 1..) = recv(conn.as_raw_fd(), &mut buf, MsgFlags::empty()) {
        messages.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    let mut received = Vec::new();
    for message in &messages {
        assert!(message.ends_with('\n'), "whole lines only: {message:?}");
        for line in message.lines() {
            received.push(glassbox_events::from_line(line).unwrap());
        }
    }
    let recorded = record_of(rt.root(), &id);
    let seqs = |v: &[Event]| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    let mut got = seqs(&received);
    got.sort();
    assert_eq!(got, seqs(&recorded), "the hub saw what events.jsonl holds");
    // A stage's lines go together: far fewer messages than events.
    assert!(messages.len() * 3 < received.len(), "{} messages for {} events", messages.len(), received.len());
}

#[test]
fn a_full_hub_never_blocks_run_and_the_drops_are_counted() {
    // A hub that never reads, and a container with 1,500 mounts: more
    // events than the socket's buffer holds (~650 KB of lines; the runtime
    // sends many lines to a message, so the ~210 KB buffer takes about a
    // third of them).
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| {
        for i in 0..1500 {
            spec::add_mount(
                v,
                serde_json::json!({"destination": format!("/tmp/m{i}"), "type": "tmpfs", "source": "tmpfs"}),
            );
        }
    });
    let rt = Runtime::new();
    let id = rt.id("fullhub");
    let sock = rt.scratch().join("full.sock");
    let _listener = listen(&sock);

    let started = Instant::now();
    let out = run_with(&rt, &id, &bundle, &["--hub", sock.to_str().unwrap()]);
    assert_ok(&out);
    assert!(started.elapsed() < Duration::from_secs(10), "run must not wait for the hub");
    rt.assert_clean(&id, &bundle);
    assert!(stderr(&out).contains("hub could not keep up"), "{}", stderr(&out));
    let dropped: u64 = record_of(rt.root(), &id)
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Dropped { sink, count } if sink == "hub" => Some(*count),
            _ => None,
        })
        .sum();
    assert!(dropped > 0, "the drops are recorded");
}

#[test]
fn an_absent_hub_is_no_error() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("nohub");
    let out = run_with(&rt, &id, &bundle, &["--hub", "/nonexistent/hub.sock"]);
    assert_ok(&out);
    assert_eq!(stderr(&out), "");
    rt.assert_clean(&id, &bundle);
    assert!(!record_of(rt.root(), &id).iter().any(|e| matches!(e.kind, Kind::Dropped { .. })));
}

#[test]
fn events_follow_prints_the_stages_live_until_delete() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    let rt = Runtime::new();
    let id = rt.id("follow");
    assert_ok(&rt.create(&id, &bundle));
    let mut follow = Command::new(glassbox_bin())
        .arg("--root")
        .arg(rt.root())
        .args(["events", "--follow", "--json", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_ok(&rt.start(&id));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    let status = runtime::wait_bounded(&mut follow, Duration::from_secs(5)).expect("follow ends once deleted");
    let out = follow.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut printed: Vec<Event> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| glassbox_events::from_line(l).unwrap()).collect();
    // Lines of processes at work at the same time may come a little out of order.
    printed.sort_by_key(|e| e.seq);
    assert_eq!(printed, record_of(rt.root(), &id), "every event, from create to the cleanup");
    rt.assert_clean(&id, &bundle);

    // A deleted container's record can still be read.
    let again = rt.cmd(&["events", "--follow", &id]);
    assert_ok(&again);
    assert!(stdout(&again).contains("execve: "), "the kept record's execve step is narrated: {}", stdout(&again));
    let unknown = assert_fails(&rt.cmd(&["events", "--follow", "never-made"]));
    assert!(unknown.contains("never-made"), "{unknown}");
}

#[test]
fn every_process_of_a_container_numbers_its_events_from_one_counter() {
    // create, the init, start (running a poststart hook while the init goes
    // on to execve), exec and delete all write to one record.
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| {
        spec::add_hook(v, "poststart", "/bin/true", &["true"]);
        spec::add_hook(v, "startContainer", "/bin/true", &["true"]);
    });
    let rt = Runtime::new();
    let id = rt.id("oneseq");
    assert_ok(&rt.create(&id, &bundle));
    assert_ok(&rt.start(&id));
    assert_ok(&rt.exec(&id, &["true"]));
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
    let events = record_of(rt.root(), &id);
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>(), "no gap, no repeat");
    let hooks: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Step { action, args, .. } if action == "hook" => Some(args["hook"].as_str().unwrap().to_string()),
            _ => None,
        })
        .collect();
    assert!(hooks.contains(&"poststart".to_string()) && hooks.contains(&"startContainer".to_string()), "{hooks:?}");
}
