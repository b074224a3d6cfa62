//! What the recorder promises, each checked on a real events.jsonl in a
//! temporary directory: one counter numbers every event; lines wait in
//! memory and go out, whole, at the moments the module's note names; a
//! stage is a begin, its steps, an error if it failed and an end; with no
//! sink nothing is even described; the hub never holds a container up, and
//! what it missed is said once; the narrator sees each line before the
//! recorder goes on.
//!
//! The recorder is process-wide — its sinks are chosen once
//! ([`configure`]), [`step`] finds the recorder and the stage running in
//! globals, and a test of hooks or mounts on another thread would record
//! into it — so every scenario runs in a process of its own: this test
//! binary again, asked for that one test ([`in_own_process`]).

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use glassbox_events::{from_line, Event, Kind, Outcome, Stage};
use nix::sys::socket::{
    accept, bind, listen, recv, socket, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr,
};

use super::*;

const SCENARIO: &str = "GLASSBOX_RECORDER_SCENARIO";

/// Runs `scenario` when this process is the one started for it; otherwise
/// starts that process (the test binary, `<this module>::<name> --exact`,
/// with [`SCENARIO`] naming it) and fails with its output if it failed.
fn in_own_process(name: &str, scenario: impl FnOnce()) {
    if std::env::var(SCENARIO).as_deref() == Ok(name) {
        return scenario();
    }
    let module = module_path!().split_once("::").expect("crate::module").1;
    let test = format!("{module}::{name}");
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([&test, "--exact", "--test-threads=1", "--nocapture"])
        .env(SCENARIO, name)
        .output()
        .expect("run the test binary again");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "{test}, in a process of its own:\n{text}");
}

/// The events `<dir>/events.jsonl` holds now; every line must be whole and one event.
fn record(dir: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(dir.join(EVENTS_FILE)).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "a line cut short: {text:?}");
    text.lines().map(|l| from_line(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}

fn kinds(events: &[Event]) -> Vec<Kind> {
    events.iter().map(|e| e.kind.clone()).collect()
}

fn status(s: &str) -> Kind {
    Kind::Status { status: s.into() }
}

fn cloexec(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags >= 0 && flags & libc::FD_CLOEXEC != 0
}

#[test]
fn every_event_is_numbered_from_the_containers_counter() {
    in_own_process("every_event_is_numbered_from_the_containers_counter", || {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::open(dir.path(), "c");
        rec.status(10, "creating");
        rec.stage(10, Stage::Mounts, || {
            step("mount", |a| {
                a.str("target", "/proc");
            });
            Ok::<_, String>(())
        })
        .unwrap();
        rec.status(10, "created");
        rec.flush();
        let events = record(dir.path());
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (0..5).collect::<Vec<_>>());
        assert!(events.iter().all(|e| e.container == "c" && e.pid == 10), "{events:?}");
        assert!(events.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns), "{events:?}");
        assert_eq!(events_written(dir.path()), 5);

        // `run` is create, start and delete in one process: one recorder serves them all.
        assert!(Arc::ptr_eq(&Recorder::open(dir.path(), "c").inner, &rec.inner));
        // Another container's record has its own counter (in its own `lock`).
        let other = tempfile::tempdir().unwrap();
        let rec2 = Recorder::open(other.path(), "d");
        rec2.status(11, "creating");
        rec2.flush();
        assert_eq!(record(other.path())[0].seq, 0);
        // A later command on the first container (`start`: a process of its own) counts on.
        let start = glassbox_events::Sequence::open(dir.path(), || 0);
        assert_eq!(start.next(), 5);
    });
}

#[test]
fn lines_wait_until_the_process_waits_fails_or_execs() {
    in_own_process("lines_wait_until_the_process_waits_fails_or_execs", || {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::open(dir.path(), "c");
        assert!(dir.path().join(EVENTS_FILE).exists(), "the file is made when the recorder opens");
        rec.status(10, "creating");
        assert_eq!(record(dir.path()), [], "one line is not worth a write(2)");
        flush_before_waiting();
        assert_eq!(kinds(&record(dir.path())), [status("creating")]);

        // An error is written at once, with every line before it.
        rec.status(10, "created");
        let failed = rec.stage(10, Stage::Hooks, || Err::<(), _>("the hook said no"));
        let failed = failed.unwrap_err();
        assert_eq!((failed.stage, failed.error, failed.recorded), (Stage::Hooks, "the hook said no", true));
        assert_eq!(
            kinds(&record(dir.path()))[1..4],
            [
                status("created"),
                Kind::StageBegin { stage: Stage::Hooks },
                Kind::Error { stage: Stage::Hooks, message: "the hook said no".into() }
            ]
        );
        // The stage's end follows its error, and waits like any line.
        assert_eq!(record(dir.path()).len(), 4);
        rec.flush();
        let events = record(dir.path());
        assert!(
            matches!(events[4].kind, Kind::StageEnd { stage: Stage::Hooks, outcome: Outcome::Failed, .. }),
            "{events:?}"
        );

        // The execve step goes out at once: after it, the process is the user's program.
        rec.status(10, "running");
        rec.before_execve(10, |a| {
            a.str("path", "/bin/true");
        });
        assert_eq!(kinds(&record(dir.path())[5..]), [status("running"), execve_step("/bin/true")]);
    });
}

fn execve_step(path: &str) -> Kind {
    let mut args = serde_json::Map::new();
    args.insert("path".into(), path.into());
    Kind::Step { stage: Stage::Exec, action: "execve".into(), args }
}

#[test]
fn lines_go_out_before_too_many_wait_and_always_whole() {
    in_own_process("lines_go_out_before_too_many_wait_and_always_whole", || {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::open(dir.path(), "c");
        let long = "x".repeat(2000);
        let steps = |n| {
            for _ in 0..n {
                rec.step(10, Stage::Mounts, "mount", |a| {
                    a.str("target", &long);
                });
            }
        };
        steps(10);
        assert_eq!(record(dir.path()), [], "under {FLUSH_AT} bytes, lines wait");
        steps(10);
        // Written by the line that took the waiting text past FLUSH_AT bytes.
        let text = std::fs::read_to_string(dir.path().join(EVENTS_FILE)).unwrap();
        let last = text.trim_end().rsplit('\n').next().unwrap().len() + 1;
        assert!(text.len() > FLUSH_AT && text.len() - last <= FLUSH_AT, "{} bytes written", text.len());
        assert!(record(dir.path()).len() < 20);
        rec.flush();
        assert_eq!(record(dir.path()).iter().map(|e| e.seq).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    });
}

#[test]
fn a_stage_holds_its_steps_and_its_begin_is_numbered_when_it_begins() {
    in_own_process("a_stage_holds_its_steps_and_its_begin_is_numbered_when_it_begins", || {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::open(dir.path(), "c");
        step("mount", |_| panic!("no stage runs: a step is not even described"));
        let result = rec.stage(42, Stage::Mounts, || {
            std::thread::sleep(Duration::from_millis(2));
            step("mount", |a| {
                a.str("target", "/proc");
            });
            rec.stage(43, Stage::Devices, || {
                step("device", |a| {
                    a.str("path", "/dev/null");
                });
                Ok::<_, String>(())
            })
            .map_err(|staged| staged.error)?;
            step("mount", |a| {
                a.str("target", "/sys");
            });
            Ok::<_, String>(7)
        });
        assert_eq!(result.map_err(|staged| staged.error), Ok(7));
        rec.flush();
        let events = record(dir.path());
        let shape: Vec<(u64, i32, &str, Option<&str>)> = events
            .iter()
            .map(|e| match &e.kind {
                Kind::StageBegin { stage } => (e.seq, e.pid, "begin", Some(stage.name())),
                Kind::StageEnd { stage, .. } => (e.seq, e.pid, "end", Some(stage.name())),
                Kind::Step { stage, .. } => (e.seq, e.pid, "step", Some(stage.name())),
                _ => (e.seq, e.pid, "other", None),
            })
            .collect();
        assert_eq!(
            shape,
            [
                (0, 42, "begin", Some("mounts")),
                (1, 42, "step", Some("mounts")),
                (2, 43, "begin", Some("devices")),
                (3, 43, "step", Some("devices")),
                (4, 43, "end", Some("devices")),
                (5, 42, "step", Some("mounts")),
                (6, 42, "end", Some("mounts")),
            ]
        );
        // Its line is made with the step's, but its time is the stage's start.
        assert!(events[1].ts_ns - events[0].ts_ns >= 2_000_000, "{events:?}");
        let Kind::StageEnd { duration_ns, outcome, .. } = events[6].kind else { unreachable!() };
        assert!(duration_ns >= 2_000_000 && outcome == Outcome::Ok, "{events:?}");
        step("mount", |_| panic!("the stage is over"));
    });
}

#[test]
fn a_child_writes_its_own_lines_not_those_it_was_cloned_with() {
    in_own_process("a_child_writes_its_own_lines_not_those_it_was_cloned_with", || {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::open(dir.path(), "c");
        rec.status(10, "creating");
        rec.stage(10, Stage::Namespaces, || {
            // SAFETY: the child records, writes and exits, as the init does after clone(2).
            match unsafe { nix::unistd::fork() }.unwrap() {
                nix::unistd::ForkResult::Child => {
                    start_in_child();
                    // The runtime's stage is not the child's.
                    step("setns", |_| {
                        // SAFETY: exits the child at once, telling the parent.
                        unsafe { libc::_exit(3) }
                    });
                    rec.status(11, "child");
                    rec.flush();
                    // SAFETY: _exit skips the parent's atexit handlers and buffers.
                    unsafe { libc::_exit(0) };
                }
                nix::unistd::ForkResult::Parent { child } => {
                    let status = nix::sys::wait::waitpid(child, None).unwrap();
                    assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
                }
            }
            Ok::<_, String>(())
        })
        .unwrap();
        rec.flush();
        let mut events = record(dir.path());
        assert_eq!(events[0].kind, status("child"), "the child wrote first, and only its own line");
        events.sort_by_key(|e| e.seq);
        let shape: Vec<(u64, i32)> = events.iter().map(|e| (e.seq, e.pid)).collect();
        assert_eq!(shape, [(0, 10), (1, 10), (2, 11), (3, 10)], "one counter, no line twice: {events:?}");
    });
}

#[test]
fn the_shared_page_is_shared_with_a_forked_child() {
    in_own_process("the_shared_page_is_shared_with_a_forked_child", || {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::open(dir.path(), "c");
        // SAFETY: the child only stores into the shared page and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                rec.set_init_pid(4242);
                // SAFETY: _exit skips the parent's atexit handlers and buffers.
                unsafe { libc::_exit(0) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(rec.init_pid(), 4242);
            }
        }
    });
}

#[test]
fn with_no_sink_nothing_is_described_nor_written() {
    in_own_process("with_no_sink_nothing_is_described_nor_written", || {
        let dir = tempfile::tempdir().unwrap();
        configure(SinkConfig { events: false, hub: dir.path().join("hub.sock"), narrator: None });
        let rec = Recorder::open(dir.path(), "c");
        assert!(!recording());
        let result = rec.stage(10, Stage::Mounts, || {
            step("mount", |_| panic!("--no-events describes nothing"));
            rec.step(10, Stage::Mounts, "mount", |_| panic!("--no-events describes nothing"));
            Ok::<_, String>(3)
        });
        assert_eq!(result.map_err(|staged| staged.error), Ok(3));
        rec.status(10, "created");
        rec.report_drops(10);
        assert!(sink_descriptors().is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no events.jsonl, no counter");
    });
}

#[test]
fn the_hub_is_never_waited_for_and_what_it_missed_is_said_once() {
    in_own_process("the_hub_is_never_waited_for_and_what_it_missed_is_said_once", || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sock");
        // A hub that listens and never reads: its connection's buffer fills up.
        let hub = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
        bind(hub.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
        listen(&hub, Backlog::new(4).unwrap()).unwrap();
        configure(SinkConfig { events: true, hub: path, narrator: None });
        let rec = Recorder::open(dir.path(), "c");
        assert!(recording());
        const SENT: usize = 3000;
        for _ in 0..SENT {
            rec.status(10, "creating");
        }
        let fds = sink_descriptors();
        assert_eq!(fds.len(), 2, "events.jsonl and the hub");
        assert!(fds.iter().all(|fd| cloexec(*fd)), "nothing of the recorder reaches the user's program");

        let conn = accept(&hub).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut received = 0;
        while let Ok(n) = recv(conn.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            let line = std::str::from_utf8(&buf[..n]).unwrap();
            assert!(line.ends_with('\n') && from_line(line).is_ok(), "one whole line a message: {line:?}");
            received += 1;
        }
        let dropped = (SENT - received) as u64;
        assert!(received > 0 && dropped > 0, "{received} received of {SENT}");

        rec.report_drops(10);
        rec.report_drops(10);
        let events = record(dir.path());
        assert_eq!(events.len(), SENT + 1, "events.jsonl has them all");
        assert_eq!(events[SENT].kind, Kind::Dropped { sink: "hub".into(), count: dropped });
        let n = recv(conn.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).unwrap();
        assert_eq!(from_line(std::str::from_utf8(&buf[..n]).unwrap()).unwrap(), events[SENT]);
    });
}

#[test]
fn the_narrator_has_each_line_before_the_recorder_goes_on() {
    in_own_process("the_narrator_has_each_line_before_the_recorder_goes_on", || {
        let dir = tempfile::tempdir().unwrap();
        let (link, theirs) = NarratorLink::pair().unwrap();
        configure(SinkConfig { events: true, hub: dir.path().join("hub.sock"), narrator: Some(link) });
        let (tx, told) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = narrator_link::line_buffer();
            while let Some(n) = narrator_link::next_line(&theirs, &mut buf) {
                tx.send(from_line(std::str::from_utf8(&buf[..n]).unwrap()).unwrap()).unwrap();
                narrator_link::answer(&theirs);
            }
        });
        let rec = Recorder::open(dir.path(), "c");
        rec.stage(10, Stage::Hostname, || {
            // The begin is not held back for the next line: a person reads it now.
            assert_eq!(told.try_recv().unwrap().kind, Kind::StageBegin { stage: Stage::Hostname });
            step("sethostname", |a| {
                a.str("hostname", "web");
            });
            assert!(matches!(told.try_recv().unwrap().kind, Kind::Step { .. }));
            Ok::<_, String>(())
        })
        .unwrap();
        assert!(matches!(told.try_recv().unwrap().kind, Kind::StageEnd { .. }));
        // With a narrator, --step may hold the next stage while someone reads
        // the record: it is whole at every stage's end.
        assert_eq!(record(dir.path()).len(), 3);
        let fds = sink_descriptors();
        assert_eq!(fds.len(), 2, "events.jsonl and the narrator's line");
        assert!(fds.iter().all(|fd| cloexec(*fd)));
    });
}
