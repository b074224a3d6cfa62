//! The event types. Field names are the wire names; `schema/events.v1.json`
//! describes the same shape for tools in other languages.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Bumped whenever a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// One thing that happened, with where and when. Read back through the
/// flat wire shape (codec.rs), whose `type` picks the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "crate::codec::Wire")]
pub struct Event {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// Order of emission within one container's stream, from 0.
    pub seq: u64,
    /// CLOCK_MONOTONIC in nanoseconds: the clock eBPF probes use too, so
    /// runtime and kernel events merge into one timeline.
    pub ts_ns: u64,
    /// The same instant as RFC 3339 wall-clock time, for people.
    pub wall: String,
    /// The container id.
    pub container: String,
    /// The process the event is about (host pid namespace).
    pub pid: i32,
    pub source: Source,
    #[serde(flatten)]
    pub kind: Kind,
}

/// Who saw it: the runtime itself, or the kernel (eBPF probes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Runtime,
    Kernel,
}

impl Source {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Runtime => "runtime",
            Source::Kernel => "kernel",
        }
    }
}

/// The stages of making, running and removing a container, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Bundle,
    Cgroup,
    Namespaces,
    Idmap,
    Mounts,
    PivotRoot,
    Devices,
    Masks,
    Hostname,
    Sysctl,
    Rlimits,
    Capabilities,
    Seccomp,
    Hooks,
    Exec,
    Exit,
    Cleanup,
}

impl Stage {
    /// Every stage, in the order a container goes through them.
    pub const ALL: [Stage; 17] = [
        Stage::Bundle,
        Stage::Cgroup,
        Stage::Namespaces,
        Stage::Idmap,
        Stage::Mounts,
        Stage::PivotRoot,
        Stage::Devices,
        Stage::Masks,
        Stage::Hostname,
        Stage::Sysctl,
        Stage::Rlimits,
        Stage::Capabilities,
        Stage::Seccomp,
        Stage::Hooks,
        Stage::Exec,
        Stage::Exit,
        Stage::Cleanup,
    ];

    /// The wire name, e.g. "pivot_root".
    pub fn name(self) -> &'static str {
        match self {
            Stage::Bundle => "bundle",
            Stage::Cgroup => "cgroup",
            Stage::Namespaces => "namespaces",
            Stage::Idmap => "idmap",
            Stage::Mounts => "mounts",
            Stage::PivotRoot => "pivot_root",
            Stage::Devices => "devices",
            Stage::Masks => "masks",
            Stage::Hostname => "hostname",
            Stage::Sysctl => "sysctl",
            Stage::Rlimits => "rlimits",
            Stage::Capabilities => "capabilities",
            Stage::Seccomp => "seccomp",
            Stage::Hooks => "hooks",
            Stage::Exec => "exec",
            Stage::Exit => "exit",
            Stage::Cleanup => "cleanup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
}

impl Outcome {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
        }
    }
}

/// Process lifecycle changes the kernel reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessChange {
    Fork,
    Exec,
    Exit,
    /// The namespaces a process is in (at its fork, exec, unshare, setns).
    Namespaces,
}

impl ProcessChange {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            ProcessChange::Fork => "fork",
            ProcessChange::Exec => "exec",
            ProcessChange::Exit => "exit",
            ProcessChange::Namespaces => "namespaces",
        }
    }
}

/// What happened. The `type` field on the wire names the variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    StageBegin {
        stage: Stage,
    },
    StageEnd {
        stage: Stage,
        duration_ns: u64,
        outcome: Outcome,
    },
    /// One concrete action with its real arguments: a mount's source,
    /// target, fstype and flags; a cgroup file and the value written; …
    Step {
        stage: Stage,
        action: String,
        args: Map<String, Value>,
    },
    /// created → running → stopped (runtime-spec statuses).
    Status {
        status: String,
    },
    /// From the eBPF probes.
    Syscall {
        nr: u32,
        name: String,
        args: Vec<u64>,
        ret: i64,
        latency_ns: u64,
        /// The arguments decoded, for the syscalls that make a container:
        /// strings the probes read ("source", "target", "argv", …) and flag
        /// names ("flags": "MS_BIND|MS_REC").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decoded: Option<Map<String, Value>>,
        /// With `decoded`: the namespace inode numbers of the process ("mnt",
        /// "pid", "net", "uts", "ipc", "user", "cgroup", "pid_for_children").
        /// For other calls, the process's last `namespaces` event says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ns: Option<Map<String, Value>>,
    },
    Process {
        change: ProcessChange,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ppid: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// `change: namespaces`: the namespace inode numbers, as on Syscall.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ns: Option<Map<String, Value>>,
    },
    /// A failure, naming the stage it happened in.
    Error {
        stage: Stage,
        message: String,
    },
    /// Events a sink could not take (the hub's socket was full or gone),
    /// counted instead of waited for; written to events.jsonl.
    Dropped {
        sink: String,
        count: u64,
    },
}
