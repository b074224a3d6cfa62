//! The containers the hub knows of, each as the record tells it: its
//! status, its init's pid, and its stages in order with their durations —
//! the failing one with its error. Built only from events, so a container
//! read back from a file and one followed live look the same.

use std::collections::BTreeMap;

use glassbox_events::{Event, Kind, Outcome, Stage};
use serde::Serialize;

use crate::state_file::{Kubernetes, StateFile};

#[derive(Default)]
pub struct Store {
    containers: BTreeMap<String, ContainerView>,
}

/// One container, for the API.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ContainerView {
    pub id: String,
    /// The last `status` event: creating, created, running, stopped … or
    /// `deleted` once its record was kept.
    pub status: String,
    /// The container's init, once known (the first event from another pid
    /// than the runtime's, or the `created` status).
    pub pid: i32,
    /// Wall-clock time of its first event.
    pub first_seen: String,
    pub stages: Vec<StageView>,
    pub events: u64,
    /// Events its runtime could not hand to the hub (`dropped` events).
    pub dropped: u64,
    /// From its state.json (state_file.rs), while it has one: when it was
    /// created (RFC 3339), its bundle, who made it, its annotations, and
    /// its Kubernetes names when containerd's CRI made it.
    pub created: String,
    pub bundle: String,
    pub owner: String,
    pub annotations: BTreeMap<String, String>,
    pub kubernetes: Option<Kubernetes>,
}

/// One stage of the waterfall.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageView {
    pub stage: &'static str,
    pub pid: i32,
    /// CLOCK_MONOTONIC of its begin, to place it on a time axis.
    pub begin_ns: u64,
    /// None while it runs (or if its end was never recorded).
    pub duration_ns: Option<u64>,
    /// `ok`, `failed`, or `running`.
    pub outcome: &'static str,
    pub steps: u64,
    /// The error line's message, for a failed stage.
    pub error: Option<String>,
}

impl StageView {
    fn begun(stage: Stage, pid: i32, begin_ns: u64) -> StageView {
        StageView { stage: stage.name(), pid, begin_ns, duration_ns: None, outcome: "running", steps: 0, error: None }
    }
}

impl Store {
    pub fn apply(&mut self, event: &Event) {
        if event.container.is_empty() {
            return;
        }
        // get_mut first: entry() wants an owned key, a copy of the id per event.
        if !self.containers.contains_key(&event.container) {
            let view = ContainerView {
                id: event.container.clone(),
                status: "creating".into(),
                first_seen: event.wall.clone(),
                ..ContainerView::default()
            };
            self.containers.insert(event.container.clone(), view);
        }
        let c = self.containers.get_mut(&event.container).expect("inserted above");
        c.events += 1;
        match &event.kind {
            Kind::StageBegin { stage } => c.stages.push(StageView::begun(*stage, event.pid, event.ts_ns)),
            Kind::StageEnd { stage, duration_ns, outcome } => {
                let view = open_stage(c, *stage, event.pid);
                view.duration_ns = Some(*duration_ns);
                view.outcome = match outcome {
                    Outcome::Ok => "ok",
                    Outcome::Failed => "failed",
                };
                // `delete` (and the end of `run`) cleans up last: the container
                // is gone and its record kept, as a scan at start would say.
                if (*stage, *outcome) == (Stage::Cleanup, Outcome::Ok) {
                    c.status = "deleted".into();
                }
            }
            Kind::Step { stage, .. } => open_stage(c, *stage, event.pid).steps += 1,
            Kind::Error { stage, message } => {
                let view = open_stage(c, *stage, event.pid);
                view.error = Some(message.clone());
                view.outcome = "failed";
            }
            Kind::Status { status } => {
                c.status = status.clone();
                if status == "created" && event.pid > 0 {
                    c.pid = event.pid;
                }
            }
            Kind::Dropped { count, .. } => c.dropped += count,
            Kind::Syscall { .. } | Kind::Process { .. } => {}
        }
    }

    /// A container whose record was kept at delete: gone, but still shown.
    pub fn mark_deleted(&mut self, id: &str) {
        if let Some(c) = self.containers.get_mut(id) {
            c.status = "deleted".into();
        }
    }

    /// What `state.json` adds to the events' view (the container is made
    /// known if no event named it yet).
    pub fn set_state(&mut self, state: &StateFile) {
        let c = self.containers.entry(state.id.clone()).or_insert_with(|| ContainerView {
            id: state.id.clone(),
            status: "created".into(),
            ..ContainerView::default()
        });
        c.created = state.created.clone();
        c.bundle = state.bundle.clone();
        c.owner = state.owner.clone();
        c.annotations = state.annotations.clone();
        c.kubernetes = Kubernetes::from_annotations(&state.annotations);
        if c.pid <= 0 && state.pid > 0 {
            c.pid = state.pid;
        }
    }

    /// True when `id` is still being created and has just one failed stage:
    /// its create failed, counted once (a failed exec, later, is not).
    pub fn create_failed_first(&self, id: &str) -> bool {
        self.containers
            .get(id)
            .is_some_and(|c| c.status == "creating" && c.stages.iter().filter(|s| s.outcome == "failed").count() == 1)
    }

    /// (id, pid, status) of every container whose init is known: the cgroup sampler's list.
    pub fn with_init(&self) -> Vec<(String, i32, String)> {
        self.containers.values().filter(|c| c.pid > 0).map(|c| (c.id.clone(), c.pid, c.status.clone())).collect()
    }

    pub fn list(&self) -> Vec<ContainerView> {
        self.containers.values().cloned().collect()
    }

    pub fn get_ref(&self, id: &str) -> Option<&ContainerView> {
        self.containers.get(id)
    }

    pub fn get(&self, id: &str) -> Option<ContainerView> {
        self.containers.get(id).cloned()
    }
}

/// The latest stage of that name and process; else the latest of that
/// name (the runtime records the init's `clone` step, with the init's pid,
/// inside its own namespaces stage); else one begun now (a record read
/// from the middle, or a begin that was dropped).
fn open_stage(c: &mut ContainerView, stage: Stage, pid: i32) -> &mut StageView {
    let same_name = |s: &StageView| s.stage == stage.name();
    let found =
        c.stages.iter().rposition(|s| same_name(s) && s.pid == pid).or_else(|| c.stages.iter().rposition(same_name));
    let index = match found {
        Some(i) => i,
        None => {
            c.stages.push(StageView::begun(stage, pid, 0));
            c.stages.len() - 1
        }
    };
    &mut c.stages[index]
}

#[cfg(test)]
mod tests {
    use super::*;
    use glassbox_events::from_line;

    fn line(seq: u64, pid: i32, kind: &str) -> Event {
        from_line(&format!(
            r#"{{"v":1,"seq":{seq},"ts_ns":{},"wall":"2026-12-07T00:00:00.000000000Z","container":"c1","pid":{pid},"source":"runtime",{kind}}}"#,
            seq * 1000
        ))
        .unwrap()
    }

    #[test]
    fn stages_statuses_and_errors_make_the_waterfall() {
        let mut store = Store::default();
        store.apply(&line(1, 10, r#""type":"stage_begin","stage":"bundle""#));
        store.apply(&line(2, 10, r#""type":"step","stage":"bundle","action":"load","args":{}"#));
        store.apply(&line(3, 10, r#""type":"stage_end","stage":"bundle","duration_ns":500,"outcome":"ok""#));
        // A step another process records in this stage: no stage of its own.
        store.apply(&line(30, 11, r#""type":"step","stage":"bundle","action":"clone","args":{}"#));
        store.apply(&line(4, 11, r#""type":"stage_begin","stage":"mounts""#));
        store.apply(&line(5, 11, r#""type":"error","stage":"mounts","message":"mount /proc: EPERM""#));
        store.apply(&line(6, 11, r#""type":"stage_end","stage":"mounts","duration_ns":900,"outcome":"failed""#));
        let c = store.get("c1").unwrap();
        assert_eq!(c.events, 7);
        assert_eq!(c.stages.len(), 2);
        assert_eq!((c.stages[0].stage, c.stages[0].duration_ns, c.stages[0].steps), ("bundle", Some(500), 2));
        assert_eq!(c.stages[1].outcome, "failed");
        assert_eq!(c.stages[1].error.as_deref(), Some("mount /proc: EPERM"));
        store.apply(&line(7, 11, r#""type":"status","status":"created""#));
        assert_eq!((store.get("c1").unwrap().status.as_str(), store.get("c1").unwrap().pid), ("created", 11));
        store.apply(&line(8, 10, r#""type":"stage_begin","stage":"cleanup""#));
        store.apply(&line(9, 10, r#""type":"stage_end","stage":"cleanup","duration_ns":900,"outcome":"ok""#));
        assert_eq!(store.list()[0].status, "deleted", "a cleanup that ended well is a delete");
    }
}
