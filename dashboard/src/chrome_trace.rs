//! A record as Chrome's trace-event JSON (the "Trace Event Format" that
//! Perfetto's UI and chrome://tracing open): one track per process, each
//! stage a complete event (`"ph":"X"`, begin and duration), each step a
//! complete event lasting until the next thing its process recorded, each
//! traced syscall a complete event of its latency, and the kernel's
//! fork/exec/exit an instant (`"ph":"i"`). Times are microseconds of
//! CLOCK_MONOTONIC, the clock both the runtime and the probes stamp.
//!
//! A step has no duration of its own in the event model (it is one
//! action, recorded when done); "until the next event of the same
//! process" is what a reader of the waterfall sees, and what this draws.

use std::collections::HashMap;

use glassbox_events::{Event, Kind, Source};
use serde_json::{json, Value};

fn micros(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The whole trace file: `{"traceEvents":[…],"displayTimeUnit":"ms"}`.
pub fn trace(events: &[Event]) -> Value {
    let mut out = Vec::new();
    let mut names: HashMap<i32, &'static str> = HashMap::new();
    let runtime_pid = crate::narrated::runtime_pid(events);
    // Where each runtime event of a process is followed by its next one.
    let mut next_of: HashMap<usize, u64> = HashMap::new();
    let mut last_by_pid: HashMap<i32, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate().filter(|(_, e)| e.source == Source::Runtime) {
        if let Some(prev) = last_by_pid.insert(e.pid, i) {
            next_of.insert(prev, e.ts_ns);
        }
    }
    for (i, e) in events.iter().enumerate() {
        let common = |name: &str, cat: &str, ph: &str| json!({ "name": name, "cat": cat, "ph": ph, "ts": micros(e.ts_ns), "pid": e.pid, "tid": e.pid });
        names.entry(e.pid).or_insert(match (e.source, e.pid == runtime_pid) {
            (Source::Runtime, true) => "glassbox (runtime)",
            (Source::Runtime, false) => "container init",
            (Source::Kernel, _) => "traced process",
        });
        let mut x = match &e.kind {
            Kind::StageEnd { stage, duration_ns, outcome } => {
                let mut x = common(stage.name(), "stage", "X");
                x["ts"] = json!(micros(e.ts_ns.saturating_sub(*duration_ns)));
                x["dur"] = json!(micros(*duration_ns));
                x["args"] = json!({ "outcome": outcome.name() });
                x
            }
            Kind::Step { stage, action, args } => {
                let mut x = common(&format!("{}: {action}", stage.name()), "step", "X");
                x["dur"] = json!(micros(next_of.get(&i).map_or(0, |next| next.saturating_sub(e.ts_ns))));
                x["args"] = Value::Object(args.clone());
                x
            }
            Kind::Syscall { name, ret, latency_ns, decoded, .. } => {
                let mut x = common(name, "syscall", "X");
                x["dur"] = json!(micros(*latency_ns));
                x["args"] = json!({ "ret": ret, "decoded": decoded });
                x
            }
            Kind::Process { change, filename, exit_code, .. } => {
                let mut x = common(change.name(), "process", "i");
                x["s"] = json!("t");
                x["args"] = json!({ "filename": filename, "exit_code": exit_code });
                x
            }
            Kind::Error { stage, message } => {
                let mut x = common(&format!("error in {}", stage.name()), "error", "i");
                x["s"] = json!("t");
                x["args"] = json!({ "message": message });
                x
            }
            Kind::Status { status } => {
                let mut x = common(status, "status", "i");
                x["s"] = json!("p");
                x
            }
            Kind::StageBegin { .. } | Kind::Dropped { .. } => continue,
        };
        x["args"]["seq"] = json!(e.seq);
        out.push(x);
    }
    for (pid, name) in names {
        out.push(json!({ "name": "process_name", "ph": "M", "pid": pid, "tid": pid, "args": { "name": name } }));
    }
    json!({ "traceEvents": out, "displayTimeUnit": "ms" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_steps_and_syscalls_become_complete_events() {
        let lines = [
            r#""pid":10,"source":"runtime","ts_ns":1000000,"type":"stage_begin","stage":"mounts""#,
            r#""pid":10,"source":"runtime","ts_ns":1200000,"type":"step","stage":"mounts","action":"mount","args":{"target":"/proc"}"#,
            r#""pid":10,"source":"kernel","ts_ns":1250000,"type":"syscall","nr":165,"name":"mount","args":[0,0,0,0,0,0],"ret":0,"latency_ns":4000"#,
            r#""pid":10,"source":"runtime","ts_ns":1500000,"type":"stage_end","stage":"mounts","duration_ns":500000,"outcome":"ok""#,
        ];
        let events: Vec<Event> = lines
            .iter()
            .enumerate()
            .map(|(seq, l)| {
                glassbox_events::from_line(&format!(
                    r#"{{"v":1,"seq":{seq},"wall":"2026-12-07T00:00:00.000000000Z","container":"c",{l}}}"#
                ))
                .unwrap()
            })
            .collect();
        let t = trace(&events);
        let all = t["traceEvents"].as_array().unwrap();
        let find = |cat: &str| all.iter().find(|e| e["cat"] == cat).unwrap();
        let stage = find("stage");
        assert_eq!(
            (stage["ph"].as_str(), stage["ts"].as_f64(), stage["dur"].as_f64()),
            (Some("X"), Some(1000.0), Some(500.0))
        );
        let step = find("step");
        assert_eq!((step["name"].as_str(), step["dur"].as_f64()), (Some("mounts: mount"), Some(300.0)));
        assert_eq!(step["args"]["target"], "/proc");
        let syscall = find("syscall");
        assert_eq!((syscall["ts"].as_f64(), syscall["dur"].as_f64()), (Some(1250.0), Some(4.0)));
        assert!(all.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "glassbox (runtime)"));
    }
}
