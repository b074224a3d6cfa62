//! A realistic `glassbox run` of a small web container, as the events the
//! narrator would receive: every stage, and every action of the step
//! vocabulary except those that stand in for others or belong to another
//! verb (`chroot` for `pivot_root` under --no-pivot, `device_filter` for
//! the v1 allowlist on cgroup v2, `kill` of `delete --force`), which
//! tests.rs narrates on their own. The snapshots in
//! snapshots/ are this run, rendered.

use glassbox_events::{Event, Kind, Outcome, Stage, SCHEMA_VERSION};
use serde_json::{json, Map, Value};

pub const RUNTIME_PID: i32 = 4100;
pub const INIT_PID: i32 = 4242;

/// One block of the run: a stage as the recorder wraps it, and the
/// events around it that belong with it (statuses, the hub's drops).
pub struct Block {
    pub stage: Stage,
    pub events: Vec<Event>,
}

struct Run {
    seq: u64,
    blocks: Vec<Block>,
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Run {
    fn event(&mut self, pid: i32, kind: Kind) -> Event {
        self.seq += 1;
        Event {
            v: SCHEMA_VERSION,
            seq: self.seq - 1,
            ts_ns: 1_000_000_000 + self.seq * 250_000,
            wall: format!("2026-11-29T06:00:00.{:09}Z", self.seq * 250_000),
            container: "web".into(),
            pid,
            source: glassbox_events::Source::Runtime,
            kind,
        }
    }

    /// A stage that took `duration_ns`, with its steps.
    fn stage(&mut self, pid: i32, stage: Stage, duration_ns: u64, steps: Vec<(&str, Value)>) {
        let mut events = vec![self.event(pid, Kind::StageBegin { stage })];
        for (action, value) in steps {
            let kind = Kind::Step { stage, action: action.into(), args: args(value) };
            events.push(self.event(pid, kind));
        }
        events.push(self.event(pid, Kind::StageEnd { stage, duration_ns, outcome: Outcome::Ok }));
        self.blocks.push(Block { stage, events });
    }

    /// An event that goes with the last block.
    fn then(&mut self, pid: i32, kind: Kind) {
        let event = self.event(pid, kind);
        self.blocks.last_mut().expect("a block before").events.push(event);
    }
}

const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The whole run, block by block, in the order the events happen.
pub fn run_blocks() -> Vec<Block> {
    let mut run = Run { seq: 0, blocks: Vec::new() };
    let (me, init) = (RUNTIME_PID, INIT_PID);
    let bundle = "/srv/bundles/web";
    let rootfs = "/srv/bundles/web/rootfs";
    let v1 = |controller: &str, file: &str| format!("/sys/fs/cgroup/{controller}/glassbox/web/{file}");

    run.stage(me, Stage::Bundle, 412_000, vec![(
        "load",
        json!({"config": format!("{bundle}/config.json"), "oci_version": "1.2.0", "rootfs": rootfs, "readonly": true}),
    )]);
    run.stage(
        me,
        Stage::Cgroup,
        1_830_000,
        vec![
            ("create", json!({"path": "glassbox/web", "version": "hybrid"})),
            (
                "write",
                json!({"file": v1("memory", "memory.limit_in_bytes"), "value": "104857600",
                         "field": "linux.resources.memory.limit", "result": "ok"}),
            ),
            (
                "write",
                json!({"file": v1("cpu,cpuacct", "cpu.cfs_quota_us"), "value": "50000",
                         "field": "linux.resources.cpu.quota", "result": "ok"}),
            ),
            (
                "write",
                json!({"file": v1("pids", "pids.max"), "value": "64", "field": "linux.resources.pids.limit",
                         "result": "ok"}),
            ),
        ],
    );
    run.stage(
        init,
        Stage::Namespaces,
        96_000,
        vec![
            (
                "clone",
                json!({"flags": "CloneFlags(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID)",
                         "equivalent": "unshare --user --pid --fork --mount --uts --ipc"}),
            ),
            ("inherit", json!({"type": "cgroup"})),
            ("inherit", json!({"type": "time"})),
            ("setns", json!({"type": "network", "path": "/var/run/netns/web"})),
        ],
    );
    run.stage(
        init,
        Stage::Idmap,
        88_000,
        vec![
            ("uid_map", json!({"file": format!("/proc/{init}/uid_map"), "line": "0 100000 65536"})),
            ("setgroups", json!({"file": format!("/proc/{init}/setgroups"), "value": "deny"})),
            ("gid_map", json!({"file": format!("/proc/{init}/gid_map"), "line": "0 100000 65536"})),
        ],
    );
    run.stage(
        init,
        Stage::Cgroup,
        140_000,
        vec![
            ("join", json!({"file": "/sys/fs/cgroup/unified/glassbox/web", "pid": init, "via": "clone3"})),
            ("join", json!({"file": v1("memory", "cgroup.procs"), "pid": init})),
        ],
    );
    run.stage(
        init,
        Stage::Cgroup,
        30_000,
        vec![("join", json!({"file": v1("pids", "tasks"), "pid": init, "value": "0"}))],
    );
    run.stage(
        init,
        Stage::Namespaces,
        61_000,
        vec![("unshare", json!({"flags": "CLONE_NEWCGROUP"})), ("setsid", json!({})), ("keyring", json!({}))],
    );
    let mount =
        |source: Option<&str>, target: &str, fstype: Option<&str>, flags: &str, data: Option<&str>, eq: &str| {
            json!({"source": source, "target": target, "fstype": fstype, "flags": flags, "data": data,
               "equivalent": eq, "result": "ok"})
        };
    run.stage(
        init,
        Stage::Mounts,
        2_400_000,
        vec![
            ("mount", mount(None, "/", None, "MsFlags(MS_REC | MS_PRIVATE)", None, "mount --make-rprivate /")),
            (
                "mount",
                mount(
                    Some(rootfs),
                    rootfs,
                    None,
                    "MsFlags(MS_BIND | MS_REC)",
                    None,
                    &format!("mount --rbind {rootfs} {rootfs}"),
                ),
            ),
            (
                "mount",
                mount(
                    Some("proc"),
                    "/proc",
                    Some("proc"),
                    "MsFlags(MS_NOSUID | MS_NODEV | MS_NOEXEC)",
                    None,
                    "mount -t proc -o nosuid,nodev,noexec proc /proc",
                ),
            ),
            (
                "mount",
                mount(
                    Some("tmpfs"),
                    "/dev",
                    Some("tmpfs"),
                    "MsFlags(MS_NOSUID | MS_STRICTATIME)",
                    Some("mode=755,size=65536k"),
                    "mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs /dev",
                ),
            ),
            (
                "mount",
                mount(
                    Some("devpts"),
                    "/dev/pts",
                    Some("devpts"),
                    "MsFlags(MS_NOSUID | MS_NOEXEC)",
                    Some("newinstance,ptmxmode=0666,mode=0620"),
                    "mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts",
                ),
            ),
            (
                "mount",
                mount(
                    Some("sysfs"),
                    "/sys",
                    Some("sysfs"),
                    "MsFlags(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)",
                    None,
                    "mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys",
                ),
            ),
            (
                "mount",
                mount(
                    Some("/srv/www"),
                    "/var/www",
                    None,
                    "MsFlags(MS_BIND | MS_REC)",
                    None,
                    "mount --rbind /srv/www /var/www",
                ),
            ),
            (
                "mount",
                mount(
                    None,
                    "/var/www",
                    None,
                    "MsFlags(MS_RDONLY | MS_REMOUNT | MS_BIND)",
                    None,
                    "mount -o remount,bind,ro /var/www",
                ),
            ),
        ],
    );
    run.stage(
        init,
        Stage::Devices,
        310_000,
        vec![
            ("device", json!({"equivalent": "touch /dev/null && mount --bind /dev/null /dev/null", "result": "ok"})),
            ("device", json!({"equivalent": "mknod -m 0666 /dev/fuse c 10 229", "result": "ok"})),
            ("device", json!({"equivalent": "ln -s /proc/self/fd /dev/fd", "result": "ok"})),
            ("device", json!({"equivalent": "ln -sf pts/ptmx /dev/ptmx", "result": "ok"})),
            (
                "write",
                json!({"file": v1("devices", "devices.deny"), "value": "a", "field": "linux.resources.devices[0]",
                         "result": "ok"}),
            ),
            (
                "write",
                json!({"file": v1("devices", "devices.allow"), "value": "c 10:229 rwm",
                         "field": "linux.resources.devices[1]", "result": "ok"}),
            ),
            (
                "write",
                json!({"file": v1("devices", "devices.allow"), "value": "c *:* m",
                         "field": "devices (always allowed)", "result": "ok"}),
            ),
        ],
    );
    run.stage(
        me,
        Stage::Hooks,
        3_100_000,
        vec![(
            "hook",
            json!({"hook": "createRuntime", "path": "/usr/local/bin/netns-up", "args": ["netns-up", "web"],
               "exit_code": 0, "result": "ok"}),
        )],
    );
    run.stage(
        init,
        Stage::Hooks,
        2_200_000,
        vec![(
            "hook",
            json!({"hook": "createContainer", "path": "/usr/local/bin/log-hook", "args": ["log-hook", "created"],
               "exit_code": 0, "result": "ok"}),
        )],
    );
    run.stage(
        init,
        Stage::PivotRoot,
        180_000,
        vec![
            ("pivot_root", json!({"new_root": rootfs, "put_old": format!("{rootfs}/.pivot_root")})),
            ("umount", json!({"target": "/.pivot_root", "flags": "MNT_DETACH"})),
        ],
    );
    run.stage(
        init,
        Stage::Hostname,
        9_000,
        vec![("sethostname", json!({"name": "web"})), ("setdomainname", json!({"name": "example.test"}))],
    );
    run.stage(
        init,
        Stage::Sysctl,
        40_000,
        vec![
            (
                "write",
                json!({"key": "net.ipv4.ip_unprivileged_port_start", "file":
                         "/proc/sys/net/ipv4/ip_unprivileged_port_start", "value": "80"}),
            ),
            ("write", json!({"key": "kernel.shmmax", "file": "/proc/sys/kernel/shmmax", "value": "268435456"})),
        ],
    );
    run.stage(
        init,
        Stage::Masks,
        350_000,
        vec![
            ("mask", json!({"path": "/proc/kcore", "how": "bind /dev/null"})),
            ("mask", json!({"path": "/proc/acpi", "how": "read-only tmpfs"})),
            ("readonly", json!({"path": "/proc/sys"})),
        ],
    );
    run.stage(
        init,
        Stage::Rlimits,
        22_000,
        vec![
            ("setrlimit", json!({"resource": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096})),
            ("setrlimit", json!({"resource": "RLIMIT_CORE", "soft": 0, "hard": u64::MAX})),
            ("oom_score_adj", json!({"value": 500})),
            ("personality", json!({"domain": "LINUX"})),
            ("ioprio", json!({"class": "IOPRIO_CLASS_BE", "priority": 4})),
            ("scheduler", json!({"policy": "SCHED_OTHER", "nice": 5})),
            ("memory_policy", json!({"mode": "MPOL_BIND", "nodes": "0-1"})),
            ("umask", json!({"value": "0022"})),
        ],
    );
    run.stage(init, Stage::Capabilities, 51_000, {
        let kept = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"][..];
        let all = &ALL_CAPS[..];
        vec![
            (
                "capabilities",
                json!({
                    "before": {"bounding": all, "effective": all, "permitted": all, "inheritable": [],
                               "ambient": []},
                    "after": {"bounding": kept, "effective": kept, "permitted": kept, "inheritable": [], "ambient": []},
                }),
            ),
            ("set_user", json!({"uid": 1000, "gid": 1000, "additional_gids": [33]})),
            ("chdir", json!({"cwd": "/var/www"})),
            ("no_new_privs", json!({"value": true})),
        ]
    });
    run.stage(
        init,
        Stage::Seccomp,
        730_000,
        vec![(
            "load",
            json!({"default_action": "SCMP_ACT_ERRNO", "rules": 364, "architectures": ["SCMP_ARCH_X86_64",
               "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "flags": [], "when": "last, just before execve"}),
        )],
    );
    run.then(init, Kind::Status { status: "created".into() });
    run.stage(
        init,
        Stage::Hooks,
        1_900_000,
        vec![(
            "hook",
            json!({"hook": "startContainer", "path": "/bin/true", "args": ["true"], "exit_code": 0, "result": "ok"}),
        )],
    );
    run.stage(
        init,
        Stage::Exec,
        35_000,
        vec![(
            "execve",
            json!({"path": "/usr/sbin/httpd", "argv": ["httpd", "-f", "-p", "80", "-h", "/var/www"], "env_count": 3,
                   "via": "/proc/self/fd/3 (glassbox-exec, a sealed memfd)"}),
        )],
    );
    run.then(init, Kind::Status { status: "running".into() });
    run.stage(
        me,
        Stage::Hooks,
        2_600_000,
        vec![(
            "hook",
            json!({"hook": "poststart", "path": "/usr/local/bin/log-hook", "args": ["log-hook", "started"],
               "exit_code": 0, "result": "ok"}),
        )],
    );
    run.stage(me, Stage::Exit, 4_000, vec![("exit", json!({"exit_code": 143, "signal": "SIGTERM"}))]);
    run.then(me, Kind::Status { status: "stopped".into() });
    run.stage(
        me,
        Stage::Cleanup,
        5_700_000,
        vec![
            ("remove_cgroup", json!({"path": "glassbox/web"})),
            ("remove_state_dir", json!({"path": "/run/glassbox/web"})),
            ("keep_events", json!({"path": "/var/log/glassbox/web.events.jsonl"})),
        ],
    );
    run.then(me, Kind::Dropped { sink: "hub".into(), count: 3 });
    run.stage(
        me,
        Stage::Hooks,
        8_300_000,
        vec![(
            "hook",
            json!({"hook": "poststop", "path": "/usr/local/bin/netns-down", "args": ["netns-down", "web"],
               "exit_code": 1, "result": "exited with status 1: netns web was already gone"}),
        )],
    );
    run.blocks
}

/// The same container made with `--systemd-cgroup` (cgroupsPath
/// `machine.slice:gbtest:web`): the cgroup stage asks systemd for the scope
/// over D-Bus, writes the one limit systemd has no property for, and the
/// cleanup stage finds the scope already gone. Rendered into
/// snapshots/cgroup-systemd.txt.
pub fn systemd_blocks() -> Vec<Block> {
    let mut run = Run { seq: 0, blocks: Vec::new() };
    let (me, init) = (RUNTIME_PID, INIT_PID);
    let scope = "/sys/fs/cgroup/machine.slice/gbtest-web.scope";
    run.stage(
        init,
        Stage::Cgroup,
        2_610_000,
        vec![
            (
                "systemd",
                json!({"fields": "MemoryMax=linux.resources.memory.limit CPUQuotaPerSecUSec=linux.resources.cpu.quota \
                                  CPUQuotaPeriodUSec=linux.resources.cpu.quota TasksMax=linux.resources.pids.limit",
                       "job": "/org/freedesktop/systemd1/job/1234", "method": "StartTransientUnit",
                       "properties": format!("Description=glassbox container web Slice=machine.slice PIDs={init} \
                                  Delegate=yes DefaultDependencies=no MemoryAccounting=yes CPUAccounting=yes \
                                  IOAccounting=yes TasksAccounting=yes MemoryMax=104857600 \
                                  CPUQuotaPerSecUSec=500000 CPUQuotaPeriodUSec=100000 TasksMax=64"),
                       "result": "done", "unit": "gbtest-web.scope", "waited_us": 2130}),
            ),
            (
                "write",
                json!({"file": format!("{scope}/cpu.max.burst"), "value": "10000", "field": "linux.resources.cpu.burst",
                       "result": "ok"}),
            ),
        ],
    );
    run.stage(
        me,
        Stage::Cleanup,
        1_900_000,
        vec![
            ("systemd", json!({"method": "StopUnit", "result": "gone", "unit": "gbtest-web.scope", "waited_us": 840})),
            ("remove_cgroup", json!({"path": "machine.slice/gbtest-web.scope"})),
        ],
    );
    run.blocks
}
