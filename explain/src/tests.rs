//! The narrator against a whole realistic run (fixture.rs): the snapshots
//! the book includes, the 80-column promise, colour, JSON, the --step
//! prompt, and graceful fallbacks for what the vocabulary does not know.

use std::collections::BTreeMap;
use std::path::PathBuf;

use glassbox_events::{Event, Kind, Outcome, Source, Stage, SCHEMA_VERSION};
use serde_json::{json, Map, Value};

use super::fixture::{run_blocks, systemd_blocks, INIT_PID, RUNTIME_PID};
use super::render::wrap;
use super::*;

fn style(colour: bool, width: usize) -> Style {
    Style { colour, width, runtime_pid: RUNTIME_PID }
}

fn event(pid: i32, kind: Kind) -> Event {
    Event {
        v: SCHEMA_VERSION,
        seq: 7,
        ts_ns: 1,
        wall: "2026-11-29T06:00:00Z".into(),
        container: "web".into(),
        pid,
        source: Source::Runtime,
        kind,
    }
}

fn step(stage: Stage, action: &str, args: Value) -> Event {
    let Value::Object(args) = args else { panic!("args are an object") };
    event(INIT_PID, Kind::Step { stage, action: action.into(), args })
}

fn text(event: &Event, style: &Style) -> String {
    let narration = narrate(event, style).expect("a runtime event is narrated");
    render_text(event, &narration, style)
}

/// Columns a line takes on screen: its characters, ANSI escapes left out.
fn columns(line: &str) -> usize {
    let mut n = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            n += 1;
        }
    }
    n
}

/// The run rendered at 80 columns without colour, one text per stage.
fn rendered_by_stage() -> BTreeMap<&'static str, String> {
    let style = style(false, 80);
    let mut files: BTreeMap<&'static str, String> = BTreeMap::new();
    for block in run_blocks() {
        let file = files.entry(block.stage.name()).or_default();
        for event in &block.events {
            file.push_str(&text(event, &style));
        }
    }
    // The same stages with --systemd-cgroup, in a file of their own.
    let systemd = files.entry("cgroup-systemd").or_default();
    for event in systemd_blocks().iter().flat_map(|b| &b.events) {
        systemd.push_str(&text(event, &style));
    }
    for text in files.values_mut() {
        *text = text.trim_start_matches('\n').to_string();
    }
    files
}

#[test]
fn snapshots_match_the_book() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let update = std::env::var("GLASSBOX_UPDATE_SNAPSHOTS").as_deref() == Ok("1");
    let rendered = rendered_by_stage();
    let mut differ = Vec::new();
    for name in Stage::ALL.iter().map(|s| s.name()).chain(["cgroup-systemd"]) {
        let text = rendered.get(name).unwrap_or_else(|| panic!("the fixture has no {name} stage"));
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).expect("make snapshots/");
            std::fs::write(&path, text).expect("write a snapshot");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            differ.push(format!("{}\n--- now renders as:\n{text}", path.display()));
        }
    }
    assert!(
        differ.is_empty(),
        "{} snapshot(s) differ from what the narrator now says; if the new text is right, rerun with \
         GLASSBOX_UPDATE_SNAPSHOTS=1 to rewrite them:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[test]
fn every_line_fits_80_columns_with_and_without_colour() {
    for colour in [false, true] {
        let style = style(colour, 80);
        for event in run_blocks().iter().flat_map(|b| &b.events) {
            let prompt = step_prompt(event, &style);
            for line in text(event, &style).lines().chain(prompt.lines()) {
                assert!(columns(line) <= 80, "{} columns: {line:?}", columns(line));
            }
        }
    }
}

#[test]
fn narrow_terminals_wrap_too() {
    let style = style(false, 40);
    for event in run_blocks().iter().flat_map(|b| &b.events) {
        for line in text(event, &style).lines() {
            assert!(columns(line) <= 40, "{line:?}");
        }
    }
}

#[test]
fn wrapping_indents_continuations_and_cuts_only_overlong_words() {
    let lines = wrap("  • ", "one two three four five six", 14, "    ");
    assert_eq!(lines, ["  • one two", "    three four", "    five six"]);
    assert_eq!(wrap("  why     ", "a  (b)", 40, "    "), ["  why     a  (b)"]);
    let long = "x".repeat(30);
    let lines = wrap("  ", &long, 12, "    ");
    assert!(lines.iter().all(|l| l.chars().count() <= 12), "{lines:?}");
    assert_eq!(lines.concat().matches('x').count(), 30);
}

#[test]
fn every_vocabulary_step_gets_its_own_words() {
    let style = style(false, 80);
    let alternatives = [
        step(Stage::PivotRoot, "chroot", json!({"path": "/srv/bundles/web/rootfs"})),
        step(
            Stage::Devices,
            "device_filter",
            json!({"cgroup": "/sys/fs/cgroup/glassbox/web", "rules": 7, "result": "ok"}),
        ),
        event(
            RUNTIME_PID,
            Kind::Step {
                stage: Stage::Cgroup,
                action: "no_cgroup".into(),
                args: json!({"device_rules_ignored": 2, "dir": "/sys/fs/cgroup/blkio",
                             "reason": "/sys/fs/cgroup/blkio is not writable by uid 1001"})
                .as_object()
                .cloned()
                .unwrap(),
            },
        ),
        step(
            Stage::Idmap,
            "uid_map",
            json!({"file": "/proc/4242/uid_map", "line": "1 100000 65536", "via": "/usr/bin/newuidmap"}),
        ),
        event(
            RUNTIME_PID,
            Kind::Step {
                stage: Stage::Cleanup,
                action: "kill".into(),
                args: json!({"pid": INIT_PID, "signal": "SIGKILL"}).as_object().cloned().unwrap(),
            },
        ),
    ];
    let events: Vec<Event> =
        run_blocks().into_iter().chain(systemd_blocks()).flat_map(|b| b.events).chain(alternatives).collect();
    for event in events.iter().filter(|e| matches!(e.kind, Kind::Step { .. })) {
        let n = narrate(event, &style).unwrap();
        assert!(!n.headline.contains(" step `"), "fell back to the generic line: {}", n.headline);
        assert!(n.chapter.is_some());
    }
}

#[test]
fn the_alternatives_say_what_they_did() {
    let style = style(false, 80);
    let chroot = narrate(&step(Stage::PivotRoot, "chroot", json!({"path": "/r"})), &style).unwrap();
    assert!(chroot.headline.contains("chroot") && chroot.syscall.unwrap().contains("MS_MOVE"));
    let filter = step(Stage::Devices, "device_filter", json!({"cgroup": "/sys/fs/cgroup/g/w", "rules": 7}));
    let filter = narrate(&filter, &style).unwrap();
    assert!(filter.headline.contains("7 rules"), "{}", filter.headline);
    assert_eq!(filter.check.as_deref(), Some("bpftool cgroup list /sys/fs/cgroup/g/w"));
    let kill = step(Stage::Cleanup, "kill", json!({"pid": 4242, "signal": "SIGKILL"}));
    assert_eq!(narrate(&kill, &style).unwrap().shell.as_deref(), Some("kill -KILL 4242"));
    let mut none = step(Stage::Cgroup, "no_cgroup", json!({"device_rules_ignored": 0, "dir": "/sys/fs/cgroup/pids"}));
    none.pid = RUNTIME_PID;
    let none = narrate(&none, &style).unwrap();
    assert!(none.headline.starts_with("no cgroup: glassbox runs without root"), "{}", none.headline);
    assert!(!none.headline.contains("devices"), "{}", none.headline);
    assert_eq!(none.check.as_deref(), Some("ls -ld /sys/fs/cgroup/pids"));
    let helper = step(
        Stage::Idmap,
        "gid_map",
        json!({"file": "/proc/77/gid_map", "line": "1 100000 65536",
                                                     "via": "/usr/bin/newgidmap"}),
    );
    let helper = narrate(&helper, &style).unwrap();
    assert_eq!(helper.shell.as_deref(), Some("newgidmap 77 1 100000 65536"));
    assert!(helper.syscall.unwrap().contains("/etc/subgid"));
}

#[test]
fn kernel_facts_are_stated_right() {
    let style = style(false, 80);
    let say = |e: Event| narrate(&e, &style).unwrap();
    let map = say(step(Stage::Idmap, "uid_map", json!({"file": "/proc/4242/uid_map", "line": "0 100000 65536"})));
    assert!(map.headline.contains("(inside outside count)"), "{}", map.headline);
    assert!(map.headline.contains("0-65535 inside are 100000-165535 on the host"), "{}", map.headline);
    // Found by fuzz/ (event_line): a size of 0 made `first + count - 1` underflow.
    let empty = say(step(Stage::Idmap, "gid_map", json!({"file": "/proc/4242/gid_map", "line": "0 10 0"})));
    assert!(empty.headline.contains("size 0 maps no gid"), "{}", empty.headline);
    let top =
        say(step(Stage::Idmap, "uid_map", json!({"file": "/proc/1/uid_map", "line": "1 18446744073709551615 2"})));
    assert!(top.headline.contains("are 18446744073709551615-18446744073709551615"), "{}", top.headline);
    let pivot = say(step(Stage::PivotRoot, "pivot_root", json!({"new_root": "/r", "put_old": "/r/.old"})));
    assert_eq!(pivot.syscall.as_deref(), Some("pivot_root(\"/r\", \"/r/.old\")"));
    let umount = say(step(Stage::PivotRoot, "umount", json!({"target": "/.old", "flags": "MNT_DETACH"})));
    assert_eq!(umount.syscall.as_deref(), Some("umount2(\"/.old\", MNT_DETACH)"));
    assert_eq!(umount.shell.as_deref(), Some("umount -l /.old"));
    let clone = say(step(Stage::Namespaces, "clone", json!({"flags": "CloneFlags(CLONE_NEWNS | CLONE_NEWPID)"})));
    assert_eq!(clone.syscall.as_deref(), Some("clone(CLONE_NEWNS | CLONE_NEWPID)"));
    assert_eq!(clone.why.as_deref(), Some("linux.namespaces[] types mount, pid"));
    let write = say(step(
        Stage::Cgroup,
        "write",
        json!({"file": "/sys/fs/cgroup/memory/g/memory.limit_in_bytes",
        "value": "104857600", "field": "linux.resources.memory.limit"}),
    ));
    assert_eq!(write.headline, "write 104857600 (100 MiB) to memory.limit_in_bytes");
    assert_eq!(write.shell.as_deref(), Some("echo 104857600 > /sys/fs/cgroup/memory/g/memory.limit_in_bytes"));
}

/// A container without a mount namespace of its own: the narrator says
/// what sharing glassbox's means, and why there is no pivot_root.
#[test]
fn an_inherited_mount_namespace_is_explained() {
    let style = style(false, 80);
    let say = |e: Event| narrate(&e, &style).unwrap();
    let inherit = say(step(Stage::Namespaces, "inherit", json!({"type": "mnt"})));
    assert!(inherit.headline.starts_with("share glassbox's own mount namespace: one mount table with the host"));
    assert!(inherit.headline.contains("chroot(2), not pivot_root(2)"), "{}", inherit.headline);
    assert_eq!(inherit.syscall.as_deref().map(|s| s.contains("without CLONE_NEWNS")), Some(true));
    assert!(inherit.why.unwrap().contains("no \"mount\" entry"));
    let user = say(step(Stage::Namespaces, "inherit", json!({"type": "user"})));
    assert!(user.headline.contains("uid 0 inside is uid 0 on the host"), "{}", user.headline);
    let chroot =
        say(step(Stage::PivotRoot, "chroot", json!({"path": "/b/rootfs", "mount_namespace": "the runtime's"})));
    assert!(chroot.headline.contains("shares glassbox's mount namespace"), "{}", chroot.headline);
    assert_eq!(chroot.shell.as_deref(), Some("cd /b/rootfs && chroot ."));
    let no_pivot = say(step(Stage::PivotRoot, "chroot", json!({"path": "/b/rootfs"})));
    assert!(no_pivot.headline.starts_with("--no-pivot"), "{}", no_pivot.headline);
}

#[test]
fn checks_never_look_into_the_runtimes_own_proc() {
    let style = style(false, 80);
    for event in run_blocks().iter().flat_map(|b| &b.events) {
        if let Some(check) = narrate(event, &style).and_then(|n| n.check) {
            assert!(!check.contains(&format!("/proc/{RUNTIME_PID}")), "{check}");
            assert!(!check.contains(&format!("--target {RUNTIME_PID}")), "{check}");
        }
    }
    // The same clone step about glassbox itself has nothing to look at.
    let mut clone = step(Stage::Namespaces, "clone", json!({"flags": "CLONE_NEWPID"}));
    clone.pid = RUNTIME_PID;
    assert_eq!(narrate(&clone, &style).unwrap().check, None);
}

#[test]
fn colour_only_when_asked() {
    let begin = event(INIT_PID, Kind::StageBegin { stage: Stage::Mounts });
    let error = event(INIT_PID, Kind::Error { stage: Stage::Mounts, message: "mount /proc: EPERM".into() });
    for e in [&begin, &error] {
        assert!(text(e, &style(true, 80)).contains("\x1b["));
        assert!(!text(e, &style(false, 80)).contains('\x1b'));
        assert!(!step_prompt(e, &style(false, 80)).contains('\x1b'));
    }
    assert!(text(&error, &style(true, 80)).contains("\x1b[1;31m"), "errors are red");
    for event in run_blocks().iter().flat_map(|b| &b.events) {
        assert!(!text(event, &style(false, 80)).contains('\x1b'));
    }
}

#[test]
fn errors_name_the_stage_and_the_message() {
    let error = event(INIT_PID, Kind::Error { stage: Stage::PivotRoot, message: "pivot_root: EINVAL".into() });
    let n = narrate(&error, &style(false, 80)).unwrap();
    assert_eq!(n.headline, "error in pivot_root: pivot_root: EINVAL");
    assert_eq!(n.chapter.as_deref(), Some("book/src/making-a-container/pivot_root.md"));
    let end =
        event(INIT_PID, Kind::StageEnd { stage: Stage::PivotRoot, duration_ns: 2_100_000, outcome: Outcome::Failed });
    assert_eq!(text(&end, &style(false, 80)), "  ✗ pivot_root failed after 2.1 ms\n");
    let ok = event(INIT_PID, Kind::StageEnd { stage: Stage::PivotRoot, duration_ns: 400_000, outcome: Outcome::Ok });
    assert_eq!(text(&ok, &style(false, 80)), "  ✓ done in 0.4 ms\n");
}

#[test]
fn json_carries_the_event_and_its_explanation() {
    let event = step(Stage::Hostname, "sethostname", json!({"name": "web"}));
    let narration = narrate(&event, &style(false, 80));
    let line = render_json(&event, narration.as_ref());
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["type"], "step");
    assert_eq!(value["stage"], "hostname");
    assert_eq!(value["action"], "sethostname");
    assert_eq!(value["args"]["name"], "web");
    assert_eq!(value["pid"], INIT_PID);
    assert_eq!(value["seq"], 7);
    assert_eq!(value["explain"]["syscall"], "sethostname(\"web\")");
    assert_eq!(value["explain"]["chapter"], "book/src/making-a-container/hostname.md");
    // Without the explain object it is the event itself.
    let mut plain = value.as_object().unwrap().clone();
    plain.remove("explain");
    assert_eq!(serde_json::from_value::<Event>(Value::Object(plain)).unwrap(), event);
    let quiet = render_json(&event, None);
    assert_eq!(serde_json::from_str::<Value>(&quiet).unwrap()["explain"], Value::Null);
}

#[test]
fn step_prompt_shows_how_to_look_inside() {
    let style = style(false, 80);
    let before = step_prompt(&event(INIT_PID, Kind::StageBegin { stage: Stage::PivotRoot }), &style);
    assert!(before.contains("pivot_root"), "{before}");
    assert!(before.contains("nsenter --target 4242 --all sh"), "{before}");
    assert!(before.ends_with("Enter: run this stage · c + Enter: continue without pausing\n"), "{before}");
    let early = step_prompt(&event(RUNTIME_PID, Kind::StageBegin { stage: Stage::Cgroup }), &style);
    assert!(early.contains("no container process yet"), "{early}");
    assert!(!early.contains("nsenter"), "{early}");
}

#[test]
fn unknown_actions_and_missing_args_fall_back_to_a_plain_line() {
    let style = style(false, 80);
    let odd = step(Stage::Mounts, "remount_everything", json!({"target": "/x", "why": 3}));
    let n = narrate(&odd, &style).unwrap();
    assert_eq!(n.headline, "mounts step `remount_everything`: target=/x, why=3");
    assert_eq!(n.chapter.as_deref(), Some("book/src/making-a-container/mounts.md"));
    let bare = step(Stage::PivotRoot, "pivot_root", json!({}));
    assert_eq!(narrate(&bare, &style).unwrap().headline, "pivot_root step `pivot_root`: no arguments");
    let wrong_type = step(Stage::Idmap, "uid_map", json!({"file": "/proc/1/uid_map", "line": 7}));
    assert!(narrate(&wrong_type, &style).unwrap().headline.contains("step `uid_map`"));
    let status = event(INIT_PID, Kind::Status { status: "hibernating".into() });
    assert_eq!(narrate(&status, &style).unwrap().headline, "the container is now hibernating");
}

#[test]
fn kernel_events_are_left_to_the_dashboard() {
    let syscall = event(
        INIT_PID,
        Kind::Syscall { nr: 0, name: "read".into(), args: vec![], ret: 0, latency_ns: 1, decoded: None, ns: None },
    );
    assert_eq!(narrate(&syscall, &style(false, 80)), None);
}

#[test]
fn flags_are_read_in_both_recorded_forms() {
    use super::args::{c_flags, flag_list};
    assert_eq!(flag_list("CloneFlags(CLONE_NEWNS | CLONE_NEWPID)"), ["CLONE_NEWNS", "CLONE_NEWPID"]);
    assert_eq!(flag_list("CLONE_NEWNS | CLONE_NEWPID"), ["CLONE_NEWNS", "CLONE_NEWPID"]);
    assert_eq!(c_flags("MsFlags(0x0)"), "0");
    let _ = Map::<String, Value>::new();
}

#[test]
fn step_prompt_outside_the_container_after_clone_points_at_state() {
    let style = style(false, 80);
    let hooks = step_prompt(&event(RUNTIME_PID, Kind::StageBegin { stage: Stage::Hooks }), &style);
    assert!(hooks.contains("glassbox state web") && !hooks.contains("no container process yet"), "{hooks}");
    let cleanup = step_prompt(&event(RUNTIME_PID, Kind::StageBegin { stage: Stage::Cleanup }), &style);
    assert!(cleanup.contains("gone"), "{cleanup}");
}
