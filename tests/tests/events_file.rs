//! `<root>/<id>/events.jsonl`: the runtime and the container's init record
//! each stage as they make the container, in one stream with one sequence.

use glassbox_e2e::*;
use glassbox_events::{Kind, Outcome, Stage};

#[test]
fn create_and_start_record_every_stage_in_order() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| v["linux"]["resources"] = serde_json::json!({ "pids": { "limit": 20 } }));
    let rt = Runtime::new();
    let id = rt.id("events");
    assert_ok(&rt.create(&id, &bundle));
    assert_ok(&rt.start(&id));
    let init = rt.pid(&id);
    assert!(wait_until(std::time::Duration::from_secs(3), || record_of(rt.root(), &id)
        .last()
        .is_some_and(|e| matches!(&e.kind, Kind::Step { action, .. } if action == "execve"))));
    let events = record_of(rt.root(), &id);

    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>(), "one sequence, no gaps, no repeats");
    assert!(events.iter().all(|e| e.container == id));

    // The init's stages, each begun and ended ok, in the order a container is made.
    let init_stages: Vec<Stage> = events
        .iter()
        .filter(|e| e.pid == init)
        .filter_map(|e| match e.kind {
            Kind::StageEnd { stage, outcome: Outcome::Ok, .. } => Some(stage),
            _ => None,
        })
        .collect();
    // Two cgroup stages about the init: the runtime's (clone3 started it in
    // its v2 directory), then its own (it writes itself into the v1 ones).
    let expected = [
        Stage::Cgroup,
        Stage::Cgroup,
        Stage::Namespaces,
        Stage::Mounts,
        Stage::Devices,
        Stage::Hooks,
        Stage::PivotRoot,
        Stage::Hostname,
        Stage::Sysctl,
        Stage::Masks,
        Stage::Rlimits,
        Stage::Capabilities,
        Stage::Exec,
        Stage::Hooks,
    ];
    assert_eq!(init_stages, expected, "{events:#?}");

    // No cgroup.procs write moved the init (the first one after a quiet
    // moment waits for an RCU grace period): clone3 started it in its v2
    // directory, and it wrote itself ("0") into each v1 hierarchy's tasks.
    let joins: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Step { action, args, .. } if action == "join" => Some(args.clone()),
            _ => None,
        })
        .collect();
    assert!(!joins.is_empty(), "no join step");
    for join in &joins {
        let file = join["file"].as_str().unwrap();
        let clone3 = join.get("via").is_some_and(|v| v == "clone3") && !file.ends_with("cgroup.procs");
        let itself = join.get("value").is_some_and(|v| v == "0") && file.ends_with("/tasks");
        assert!(clone3 || itself, "a join by a cgroup.procs write: {join:?}");
        assert_eq!(join["pid"], init, "{join:?}");
    }

    let write = events.iter().find_map(|e| match &e.kind {
        Kind::Step { stage: Stage::Cgroup, action, args } if action == "write" => Some(args.clone()),
        _ => None,
    });
    let write = write.expect("the pids.max write is a step");
    assert_eq!(write["value"], "20");
    assert!(write["file"].as_str().unwrap().ends_with("pids.max"), "{write:?}");

    // Each mount(2) and device node is a step, with its shell equivalent.
    let equivalents: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Step { action, args, .. } if action == "mount" || action == "device" => {
                Some(args["equivalent"].as_str().unwrap_or_default().to_string())
            }
            _ => None,
        })
        .collect();
    assert!(equivalents.iter().any(|c| c == "mount -t proc proc /proc"), "{equivalents:#?}");
    assert!(equivalents.iter().any(|c| c.starts_with("mknod -m 0666 /dev/null c 1 3")), "{equivalents:#?}");

    // The capability sets before and after they were cut down: the bounding
    // set after is config.json's, as the kernel holds it for the container
    // (execve leaves the bounding set as it is); before, the runtime's own.
    let sets = events
        .iter()
        .find_map(|e| match &e.kind {
            Kind::Step { action, args, .. } if action == "capabilities" => Some(args.clone()),
            _ => None,
        })
        .expect("a capabilities step");
    let names = |set: &serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = set.as_array().unwrap().iter().map(|n| n.as_str().unwrap().into()).collect();
        names.sort();
        names
    };
    let mut configured = names(&bundle.config()["process"]["capabilities"]["bounding"]);
    configured.dedup();
    assert_eq!(names(&sets["after"]["bounding"]), configured);
    let bounding_of = |status: &str| {
        let line = status.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap();
        u64::from_str_radix(line.trim(), 16).unwrap().count_ones() as usize
    };
    let container = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert_eq!(bounding_of(&container), configured.len(), "{container}");
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(names(&sets["before"]["bounding"]).len(), bounding_of(&ours));
    for set in ["ambient", "effective", "inheritable", "permitted"] {
        assert!(sets["after"][set].is_array() && sets["before"][set].is_array(), "{set}: {sets:?}");
    }

    let statuses: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Status { status } => Some(status.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, ["created", "running"]);
    match &events.last().unwrap().kind {
        Kind::Step { action, args, .. } => {
            assert_eq!(action, "execve");
            assert_eq!(args["argv"], serde_json::json!(["sleep", "30"]));
        }
        other => panic!("the last event is the execve, not {other:?}"),
    }
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}
