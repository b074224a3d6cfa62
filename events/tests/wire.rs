//! The wire format: every kind of event round-trips through one line, and
//! the published JSON Schema names exactly the types, stages and required
//! fields the code writes.

use std::collections::BTreeSet;

use glassbox_events::*;
use serde_json::{json, Value};

fn event(kind: Kind) -> Event {
    Event {
        v: SCHEMA_VERSION,
        seq: 3,
        ts_ns: 1_234_567,
        wall: "2026-11-29T04:00:00Z".into(),
        container: "web".into(),
        pid: 4242,
        source: Source::Runtime,
        kind,
    }
}

fn one_of_each() -> Vec<Event> {
    let mut args = serde_json::Map::new();
    args.insert("target".into(), json!("/proc"));
    vec![
        event(Kind::StageBegin { stage: Stage::Mounts }),
        event(Kind::StageEnd { stage: Stage::PivotRoot, duration_ns: 900, outcome: Outcome::Ok }),
        event(Kind::Step { stage: Stage::Mounts, action: "mount".into(), args }),
        event(Kind::Status { status: "created".into() }),
        event(Kind::Syscall {
            nr: 165,
            name: "mount".into(),
            args: vec![1, 2],
            ret: 0,
            latency_ns: 5000,
            decoded: None,
            ns: None,
        }),
        event(Kind::Syscall {
            nr: 165,
            name: "mount".into(),
            args: vec![1, 2],
            ret: 0,
            latency_ns: 5000,
            decoded: Some(
                json!({"source": "proc", "target": "/proc", "flags": "MS_NOSUID"}).as_object().unwrap().clone(),
            ),
            ns: Some(json!({"mnt": 4026531841u32, "pid": 4026531836u32}).as_object().unwrap().clone()),
        }),
        event(Kind::Process {
            change: ProcessChange::Exec,
            ppid: Some(1),
            filename: Some("/bin/sh".into()),
            exit_code: None,
            ns: None,
        }),
        event(Kind::Process {
            change: ProcessChange::Namespaces,
            ppid: None,
            filename: None,
            exit_code: None,
            ns: Some(json!({"uts": 4026531838u32}).as_object().unwrap().clone()),
        }),
        event(Kind::Error { stage: Stage::Exec, message: "no such file".into() }),
        event(Kind::Dropped { sink: "hub".into(), count: 2 }),
    ]
}

fn schema() -> Value {
    serde_json::from_str(include_str!("../schema/events.v1.json")).unwrap()
}

#[test]
fn every_kind_round_trips_through_one_line() {
    for e in one_of_each() {
        let line = to_line(&e);
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'), "{line}");
        assert_eq!(from_line(&line).unwrap(), e);
    }
}

#[test]
fn the_line_writer_writes_what_serde_would() {
    let mut tricky = one_of_each();
    tricky.push(event(Kind::Error { stage: Stage::Bundle, message: "a \"quoted\" path\nand a tab\t, é".into() }));
    tricky.push(event(Kind::Process {
        change: ProcessChange::Exit,
        ppid: None,
        filename: None,
        exit_code: Some(3),
        ns: None,
    }));
    for e in tricky {
        let mut expected = serde_json::to_string(&e).unwrap();
        expected.push('\n');
        assert_eq!(to_line(&e), expected);
        let mut appended = b"earlier line\n".to_vec();
        write_line(&mut appended, &e);
        assert_eq!(&appended[13..], expected.as_bytes());
    }
}

/// Step arguments of every JSON shape, and strings that need escaping at
/// every position of the writer's 8-byte words (and in the tail after the
/// last whole word), written exactly as serde_json writes them.
#[test]
fn step_arguments_of_every_shape_are_written_as_serde_would() {
    let mut args = serde_json::Map::new();
    args.insert("null".into(), Value::Null);
    args.insert("yes".into(), json!(true));
    args.insert("no".into(), json!(false));
    args.insert("big".into(), json!(u64::MAX));
    args.insert("negative".into(), json!(i64::MIN));
    args.insert("float".into(), json!(0.1));
    args.insert("whole float".into(), json!(2.0));
    args.insert("nested".into(), json!({"list": [1, "two", [], {}, null], "empty": ""}));
    args.insert("unicode ✓".into(), json!("naïve — \u{7f} \u{1F600}"));
    for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', '\t', '\u{8}', '\u{c}', '\r'] {
        for at in 0..20 {
            let text: String = (0..20).map(|i| if i == at { special } else { 'x' }).collect();
            args.insert(format!("{special:?} at {at}"), json!(text.clone()));
            args.insert(
                format!("{special:?} ends {at}"),
                json!(text[..=text.char_indices().nth(at).unwrap().0].to_string()),
            );
        }
    }
    args.insert("key \"with\" quotes".into(), json!("/a/b"));
    let e = event(Kind::Step { stage: Stage::Mounts, action: "mount \"x\"".into(), args });
    let mut expected = serde_json::to_string(&e).unwrap();
    expected.push('\n');
    assert_eq!(to_line(&e), expected);
    assert_eq!(from_line(&expected).unwrap(), e);
}

/// A step written argument by argument (the runtime's way) is the same
/// line as the step with those arguments in a map.
#[test]
fn step_arguments_written_in_place_are_the_map_s_bytes() {
    let path = std::path::Path::new("/run/a \"quoted\"\tpath");
    let shell = format_args!("mount -t {} {} {}", "proc", "proc", "/proc");
    let nested = json!({"list": [1, "two"], "empty": ""});
    let mut line = Vec::new();
    let mut writer = LineWriter::new();
    writer.step_line(&mut line, &event(Kind::Status { status: "ignored".into() }), Stage::Mounts, "mount", |a| {
        a.uint("big", u64::MAX)
            .display("command", shell)
            .path("escaped", path)
            .opt_str("fstype", Some("proc"))
            .bool("is", true)
            .strs("list", ["a", "b\"c"])
            .int("negative", -3)
            .value("nested", &nested)
            .opt_str("none", None)
            .null("nothing")
            .result("ok", &Ok::<(), &str>(()))
            .result("refused", &Err::<(), _>("EPERM: not \"allowed\""))
            .str("source", "proc");
    });
    let expected = event(Kind::Step {
        stage: Stage::Mounts,
        action: "mount".into(),
        args: json!({
            "big": u64::MAX, "command": "mount -t proc proc /proc", "escaped": path.display().to_string(),
            "fstype": "proc", "is": true, "list": ["a", "b\"c"], "negative": -3, "nested": nested,
            "none": null, "nothing": null, "ok": "ok", "refused": "EPERM: not \"allowed\"", "source": "proc",
        })
        .as_object()
        .unwrap()
        .clone(),
    });
    assert_eq!(String::from_utf8(line).unwrap(), to_line(&expected));

    let mut spread = Vec::new();
    let fields = json!({"policy": "SCHED_OTHER", "nice": 0}).as_object().unwrap().clone();
    writer.step_line(&mut spread, &expected, Stage::Rlimits, "scheduler", |a| {
        a.fields(&fields);
    });
    let step = Kind::Step { stage: Stage::Rlimits, action: "scheduler".into(), args: fields };
    assert_eq!(String::from_utf8(spread).unwrap(), to_line(&Event { kind: step, ..expected.clone() }));

    // Runs of one action and changes of stage or action, through one writer.
    for (stage, action) in
        [(Stage::Mounts, "mount"), (Stage::Mounts, "mount"), (Stage::Masks, "mount"), (Stage::Masks, "mask")]
    {
        let mut got = Vec::new();
        writer.step_line(&mut got, &expected, stage, action, |a| {
            a.str("path", "/proc/kcore");
        });
        let args = json!({"path": "/proc/kcore"}).as_object().unwrap().clone();
        let step = Kind::Step { stage, action: action.into(), args };
        assert_eq!(String::from_utf8(got).unwrap(), to_line(&Event { kind: step, ..expected.clone() }));
    }
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "out of order")]
fn step_arguments_out_of_order_are_a_bug() {
    let event = event(Kind::Status { status: String::new() });
    LineWriter::new().step_line(&mut Vec::new(), &event, Stage::Mounts, "m", |a| {
        a.str("target", "/").str("source", "x");
    });
}

/// One writer for a stream whose process, container or source changes:
/// every line is still write_line's.
#[test]
fn a_line_writer_writes_what_write_line_writes() {
    let mut writer = LineWriter::new();
    let mut events = one_of_each();
    let mut other = event(Kind::StageBegin { stage: Stage::Mounts });
    for change in 0..4 {
        match change {
            0 => other.pid = 1,
            1 => other.container = "db \"quoted\"".into(),
            2 => other.source = Source::Kernel,
            _ => other.pid = -7,
        }
        events.push(other.clone());
        events.push(other.clone());
    }
    for e in events {
        let mut got = b"earlier\n".to_vec();
        writer.line(&mut got, &e);
        assert_eq!(String::from_utf8(got[8..].to_vec()).unwrap(), to_line(&e));
    }
}

/// The kernel's syscalls are written from their parts, without an Event:
/// still write_line's bytes, whichever lines the writer made before (its
/// shared text is another process's, another container's or a runtime's).
#[test]
fn a_syscall_written_from_its_parts_is_write_line_s() {
    let mut writer = LineWriter::new();
    let calls = [
        (165u32, "mount", 0i64, 5_000_000_999u64, 40, "web-1"),
        (0, "read", -2, 5_000_000_999, 40, "web-1"),
        (0, "read", 7, 6, 41, "web-1"),
        (9999, "syscall_9999", 1 << 40, u64::MAX, -7, "db \"quoted\"\n"),
    ];
    for (i, (nr, name, ret, ts_ns, pid, container)) in calls.into_iter().enumerate() {
        let args = [1, u64::MAX, 3, 0, 5, 6];
        let mut expected = event(Kind::Syscall {
            nr,
            name: name.into(),
            args: args.to_vec(),
            ret,
            latency_ns: 1_234,
            decoded: None,
            ns: None,
        });
        (expected.seq, expected.ts_ns, expected.pid, expected.source) = (i as u64, ts_ns, pid, Source::Kernel);
        expected.container = container.into();
        // A runtime line of the same container and pid first: the shared text differs by its source.
        writer.line(&mut Vec::new(), &Event { source: Source::Runtime, ..expected.clone() });
        let mut got = Vec::new();
        let call = PlainSyscall {
            seq: expected.seq,
            ts_ns,
            wall: &expected.wall,
            container,
            pid,
            nr,
            name,
            args: &args,
            ret,
            latency_ns: 1_234,
        };
        writer.syscall_line(&mut got, &call);
        writer.syscall_line(&mut got, &call);
        let line = to_line(&expected);
        assert_eq!(String::from_utf8(got).unwrap(), format!("{line}{line}"));
    }
}

#[test]
fn the_wire_shape_is_flat() {
    let line = to_line(&one_of_each()[2]);
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["type"], "step");
    assert_eq!(v["stage"], "mounts");
    assert_eq!(v["args"]["target"], "/proc");
    assert_eq!(v["source"], "runtime");
}

#[test]
fn other_schema_versions_are_refused() {
    let mut e = one_of_each().remove(0);
    e.v = 2;
    assert!(matches!(from_line(&to_line(&e)), Err(CodecError::Version(2))));
    assert!(matches!(from_line("{truncated"), Err(CodecError::Json(_))));
}

#[test]
fn a_line_missing_its_kinds_field_or_of_an_unknown_type_is_refused_by_name() {
    let head = r#"{"v":1,"seq":3,"ts_ns":5,"wall":"w","container":"c","pid":7,"source":"runtime""#;
    let missing = from_line(&format!(r#"{head},"type":"stage_end","stage":"mounts","outcome":"ok"}}"#)).unwrap_err();
    assert!(missing.to_string().contains("duration_ns"), "{missing}");
    let unknown = from_line(&format!(r#"{head},"type":"teleport"}}"#)).unwrap_err();
    assert!(unknown.to_string().contains("teleport"), "{unknown}");
    let args =
        from_line(&format!(r#"{head},"type":"step","stage":"mounts","action":"mount","args":[1]}}"#)).unwrap_err();
    assert!(args.to_string().contains("object"), "{args}");
}

#[test]
fn the_schema_matches_the_code() {
    let schema = schema();
    let names =
        |v: &Value| v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect::<BTreeSet<_>>();
    let stages = names(&schema["$defs"]["stage"]["enum"]);
    assert_eq!(stages, Stage::ALL.iter().map(|s| s.name().to_string()).collect());
    for s in Stage::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.name());
    }
    let types = names(&schema["properties"]["type"]["enum"]);
    let mut seen = BTreeSet::new();
    for e in one_of_each() {
        let v = serde_json::to_value(&e).unwrap();
        let t = v["type"].as_str().unwrap().to_string();
        for required in schema["required"].as_array().unwrap() {
            assert!(v.get(required.as_str().unwrap()).is_some(), "{t}: missing {required}");
        }
        let rule = schema["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["if"]["properties"]["type"]["const"] == t.as_str())
            .unwrap_or_else(|| panic!("no schema rule for type {t}"));
        for required in rule["then"]["required"].as_array().unwrap() {
            assert!(v.get(required.as_str().unwrap()).is_some(), "{t}: missing {required}");
        }
        if let Some(props) = rule["then"]["properties"].as_object() {
            for key in v.as_object().unwrap().keys() {
                let common = schema["properties"].get(key).is_some();
                assert!(common || props.contains_key(key), "{t}: field {key} is not in the schema");
            }
            if let Some(change) = v.get("change") {
                assert!(props["change"]["enum"].as_array().unwrap().contains(change), "{t}: change {change}");
            }
        }
        seen.insert(t);
    }
    assert_eq!(seen, types, "one example per type, and the schema lists exactly those");
}

/// Found by fuzz/ (event_line): a number too big for 64 bits is read as a
/// float, written in its shortest form, and must read back as the same
/// float; without serde_json's `float_roundtrip` the reader was off by an
/// ulp on some, so the line read back was another event.
#[test]
fn a_float_argument_reads_back_as_itself() {
    let line = r#"{"v":1,"seq":1,"ts_ns":1,"wall":"w","container":"c","pid":1,"source":"runtime","type":"step","stage":"mounts","action":"mount","args":{"n":444444444444444444444444444444444417893,"f":0.30000000000000004,"g":1.7976931348623157e308,"h":5e-324}}"#;
    let event = from_line(line).unwrap();
    let again = from_line(&to_line(&event)).unwrap();
    assert_eq!(again, event, "{}", to_line(&event));
}

/// `from_line_head` reads every field but the arguments: the same event
/// with `args` empty and no `decoded` or `ns`; arguments that are not JSON
/// still make the line invalid.
#[test]
fn a_head_is_the_event_without_its_arguments() {
    for whole in one_of_each() {
        let line = to_line(&whole);
        let head = from_line_head(&line).unwrap();
        let mut expected = whole.clone();
        match &mut expected.kind {
            Kind::Step { args, .. } => args.clear(),
            Kind::Syscall { args, decoded, ns, .. } => {
                args.clear();
                *decoded = None;
                *ns = None;
            }
            Kind::Process { ns, .. } => *ns = None,
            _ => {}
        }
        assert_eq!(head, expected, "{line}");
    }
    let broken = r#"{"v":1,"seq":1,"ts_ns":1,"wall":"w","container":"c","pid":1,"source":"runtime","type":"step","stage":"mounts","action":"mount","args":{"a":}}"#;
    assert!(from_line_head(broken).is_err());
}
