//! The whole record of one container, event by event: a reference bundle
//! that goes through nearly every stage (a user namespace with maps, a
//! hostname, a sysctl, an rlimit, masked and read-only paths, a memory limit
//! and a device rule, a seccomp profile, a prestart hook) is run with
//! `glassbox run` (create, start, wait, delete), and its record (kept at
//! `<root>/.events/<id>.jsonl`), made independent of pids, temp dirs and
//! times, must equal `tests/snapshots/reference-bundle.events` line by line.
//!
//! When a change to the record is intended, regenerate the snapshot with
//! `GLASSBOX_UPDATE_SNAPSHOTS=1 cargo test -p glassbox-e2e --test events_sequence`
//! and review its diff like code: it is what the narrator and the book read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use glassbox_e2e::*;
use glassbox_events::{Event, Kind};
use serde_json::{json, Value};

const SNAPSHOT: &str = "reference-bundle.events";

/// A busybox bundle running /bin/true with (almost) every stage in use.
fn reference_bundle() -> Bundle {
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| {
        for kind in ["pid", "network", "ipc", "uts", "mount", "cgroup"] {
            spec::set_namespace(v, kind, None);
        }
        spec::map_root_to(v, 100000);
        v["hostname"] = json!("reference");
        v["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
        v["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024 }]);
        v["linux"]["maskedPaths"] = json!(["/proc/acpi", "/proc/keys"]);
        v["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
        v["linux"]["resources"] = json!({
            "memory": { "limit": 67108864 },
            "devices": [{ "allow": false, "access": "rwm" }]
        });
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
        });
        spec::add_hook(v, "prestart", "/bin/true", &["true"]);
    });
    bundle
}

/// What changes from run to run, and the placeholder each becomes.
struct Normalizer {
    replacements: Vec<(String, String)>,
    init: i32,
}

impl Normalizer {
    fn new(rt: &Runtime, bundle: &Bundle, id: &str, init: i32) -> Normalizer {
        // Longest first: the rootfs is inside the bundle, the id inside paths.
        let mut replacements = vec![
            (canonical(bundle.path()), "<bundle>".to_string()),
            (canonical(rt.root()), "<root>".to_string()),
            (id.to_string(), "<id>".to_string()),
            (format!("/proc/{init}/"), "/proc/<init>/".to_string()),
        ];
        replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        Normalizer { replacements, init }
    }

    fn text(&self, s: &str) -> String {
        self.replacements.iter().fold(s.to_string(), |acc, (from, to)| acc.replace(from.as_str(), to))
    }

    fn value(&self, key: &str, v: &Value) -> String {
        match v {
            Value::Number(n) if key == "pid" && n.as_i64() == Some(self.init as i64) => "<init>".into(),
            Value::String(s) => serde_json::to_string(&self.text(s)).unwrap(),
            other => self.text(&other.to_string()),
        }
    }

    /// One event as one line: who, what, and its arguments by name.
    fn line(&self, e: &Event) -> String {
        let who = if e.pid == self.init { "<init>" } else { "<runtime>" };
        let what = match &e.kind {
            Kind::StageBegin { stage } => format!("begin {}", stage.name()),
            Kind::StageEnd { stage, outcome, .. } => format!("end {} {outcome:?}", stage.name()),
            Kind::Step { stage, action, args } => {
                let args: Vec<String> = args.iter().map(|(k, v)| format!("{k}={}", self.value(k, v))).collect();
                format!("step {} {action} {}", stage.name(), args.join(" "))
            }
            Kind::Status { status } => format!("status {status}"),
            Kind::Error { stage, message } => format!("error {} {}", stage.name(), self.text(message)),
            Kind::Dropped { sink, count } => format!("dropped {sink} {count}"),
            other => format!("{other:?}"),
        };
        format!("{who} {}", what.trim_end())
    }
}

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}

fn snapshot_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots").join(SNAPSHOT)
}

/// Compare with the snapshot, or rewrite it with GLASSBOX_UPDATE_SNAPSHOTS=1.
fn assert_snapshot(actual: &str) {
    let path = snapshot_path();
    if std::env::var_os("GLASSBOX_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        return;
    }
    let (want, got): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
    panic!(
        "the event record differs from {} at line {}:\n  expected: {}\n  actual:   {}\n\
         ({} lines expected, {} actual). If the change is intended, regenerate it with \
         GLASSBOX_UPDATE_SNAPSHOTS=1 cargo test -p glassbox-e2e --test events_sequence, and review the diff.\n\
         The whole record:\n{actual}",
        path.display(),
        first + 1,
        want.get(first).unwrap_or(&"<none>"),
        got.get(first).unwrap_or(&"<none>"),
        want.len(),
        got.len(),
    );
}

/// One sequence without gaps, and every stage that began also ended (stages nest).
fn assert_well_formed(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>(), "one sequence, no gaps, no repeats");
    let mut open: Vec<(i32, glassbox_events::Stage)> = Vec::new();
    for e in events {
        match e.kind {
            Kind::StageBegin { stage } => open.push((e.pid, stage)),
            Kind::StageEnd { stage, .. } => {
                let top = open.pop();
                assert_eq!(
                    top,
                    Some((e.pid, stage)),
                    "stage_end {} (seq {}) closes no open stage",
                    stage.name(),
                    e.seq
                );
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "stages begun and never ended: {open:?}");
}

#[test]
fn the_reference_bundle_records_exactly_the_snapshot() {
    let bundle = reference_bundle();
    let rt = Runtime::new();
    let id = rt.id("reference");
    assert_ok(&rt.run(&id, &bundle));
    rt.assert_clean(&id, &bundle);
    // `run` deleted the container; its record was kept at <root>/.events/<id>.jsonl.
    let events = record_of(rt.root(), &id);

    assert_well_formed(&events);
    assert!(events.iter().all(|e| e.container == id));
    let init = events
        .iter()
        .find(|e| matches!(&e.kind, Kind::Step { action, .. } if action == "clone"))
        .map(|e| e.pid)
        .expect("the clone step names the init");
    let normalizer = Normalizer::new(&rt, &bundle, &id, init);
    let lines: Vec<String> = events.iter().map(|e| normalizer.line(e)).collect();
    assert_snapshot(&(lines.join("\n") + "\n"));
}

/// `glassbox exec` records the steps the same code records for the init:
/// setns per namespace, the cgroup join, rlimits, capabilities, seccomp, execve.
#[test]
fn exec_records_its_own_steps_in_the_same_record() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
        });
    });
    let rt = Runtime::new();
    let id = rt.id("exec-steps");
    rt.start_container(&id, &bundle);
    assert_ok(&rt.exec(&id, &["/bin/true"]));
    let events = record_of(rt.root(), &id);
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);

    assert_well_formed(&events);
    let exec_pid = events
        .iter()
        .rev()
        .find(|e| matches!(&e.kind, Kind::Step { action, args, .. } if action == "execve" && args["argv"] == json!(["/bin/true"])))
        .map(|e| e.pid)
        .expect("the exec'd process's execve is recorded");
    let steps: Vec<String> = events
        .iter()
        .filter(|e| e.pid == exec_pid)
        .filter_map(|e| match &e.kind {
            Kind::Step { stage, action, .. } => Some(format!("{} {action}", stage.name())),
            _ => None,
        })
        .collect();
    for want in [
        "namespaces setns",
        "namespaces setsid",
        "cgroup join",
        "rlimits setrlimit",
        "capabilities capabilities",
        "capabilities set_user",
        "capabilities chdir",
        "capabilities no_new_privs",
        "seccomp load",
        "exec execve",
    ] {
        assert!(steps.iter().any(|s| s == want), "no {want:?} step for the exec'd process: {steps:#?}");
    }
    let setns: BTreeSet<String> = events
        .iter()
        .filter(|e| e.pid == exec_pid)
        .filter_map(|e| match &e.kind {
            Kind::Step { action, args, .. } if action == "setns" => args["type"].as_str().map(String::from),
            _ => None,
        })
        .collect();
    for ns in ["mnt", "uts", "ipc", "net"] {
        assert!(setns.contains(ns), "no setns into the {ns} namespace: {setns:?}");
    }
}
