//! One narration per action of the step vocabulary (events-vocabulary.md):
//! the dispatch, the generic fallback, and the actions of the stages that
//! run before the container has a root of its own — bundle, cgroup,
//! namespaces (clone(2), setns(2), unshare(2)), idmap (user_namespaces(7)).
//! The rootfs stages are in `steps_rootfs`, the process ones in
//! `steps_process`.

use glassbox_events::{Event, Stage};
use serde_json::{Map, Value};

use super::args::{bytes, c_flags, flag_list, shell_quote, Args};
use super::{steps_process, steps_rootfs, Narration, Style};

/// What the step is about: its arguments and the process it concerns.
pub struct Step<'a> {
    pub action: &'a str,
    pub args: Args<'a>,
    /// The container's id, for `glassbox state <id>`.
    pub container: &'a str,
    /// The container's process, `None` when the event is about glassbox itself.
    pub container_pid: Option<i32>,
}

pub fn narrate(stage: Stage, action: &str, args: &Map<String, Value>, event: &Event, style: &Style) -> Narration {
    let pid = event.pid;
    let container_pid = (pid > 0 && pid != style.runtime_pid).then_some(pid);
    let step = Step { action, args: Args(args), container: &event.container, container_pid };
    let told = match stage {
        // A D-Bus call to systemd: the cgroup stage, update, or cleanup.
        _ if action == "systemd" => super::steps_systemd::narrate(&step),
        Stage::Bundle | Stage::Cgroup | Stage::Namespaces | Stage::Idmap => early(stage, &step),
        Stage::Mounts | Stage::PivotRoot | Stage::Devices | Stage::Masks => steps_rootfs::narrate(stage, &step),
        _ => steps_process::narrate(stage, &step),
    };
    told.unwrap_or_else(|| generic(stage, &step))
}

/// Any action the narrator has no words for (or whose arguments are not
/// what the vocabulary says): say what it was, with every argument.
pub fn generic(stage: Stage, step: &Step) -> Narration {
    Narration::new(format!("{} step `{}`: {}", stage.name(), step.action, step.args.listing()))
}

fn early(stage: Stage, step: &Step) -> Option<Narration> {
    match (stage, step.action) {
        (Stage::Bundle, "load") => bundle_load(step),
        (Stage::Cgroup, "create") => cgroup_create(step),
        (Stage::Cgroup, "write") => cgroup_write(step),
        (Stage::Cgroup, "join") => cgroup_join(step),
        (Stage::Cgroup, "no_cgroup") => no_cgroup(step),
        (Stage::Namespaces, "clone") => clone(step),
        (Stage::Namespaces, "inherit") => inherit(step),
        (Stage::Namespaces, "setns") => setns(step),
        (Stage::Namespaces, "unshare") => unshare(step),
        (Stage::Namespaces, "setsid") => Some(setsid(step)),
        (Stage::Namespaces, "keyring") => Some(keyring()),
        (Stage::Idmap, "uid_map" | "gid_map") => id_map(step),
        (Stage::Idmap, "setgroups") => setgroups(step),
        _ => None,
    }
}

/// "failed: …" in front of a headline when the step's result was an error.
pub fn outcome(step: &Step, headline: String) -> String {
    match step.args.failure() {
        Some(error) => format!("FAILED: {headline} ({error})"),
        None => headline,
    }
}

fn bundle_load(step: &Step) -> Option<Narration> {
    let config = step.args.text("config")?;
    let rootfs = step.args.text("rootfs")?;
    let version = step.args.text("oci_version").map(|v| format!(" (OCI runtime-spec {v})")).unwrap_or_default();
    let readonly = if step.args.bool("readonly") == Some(true) { ", mounted read-only" } else { "" };
    Some(
        Narration::new(format!("read {config}{version}; the root filesystem is {rootfs}{readonly}"))
            .why("ociVersion, root.path, root.readonly")
            .syscall(format!("openat(\"{config}\") + read(2)"))
            .shell(format!("cat {}", shell_quote(&config)))
            .check(format!("ls {}", shell_quote(&rootfs))),
    )
}

fn cgroup_create(step: &Step) -> Option<Narration> {
    let path = step.args.text("path")?;
    let version = step.args.text("version").unwrap_or_else(|| "?".into());
    let relative = path.trim_start_matches('/');
    let (shell, check, layout) = if version == "v2" {
        (
            format!("mkdir /sys/fs/cgroup/{relative}"),
            format!("ls /sys/fs/cgroup/{relative}"),
            "one directory in the single v2 hierarchy",
        )
    } else {
        (
            format!("for h in /sys/fs/cgroup/*/; do mkdir -p \"$h\"{relative}; done"),
            format!("ls -d /sys/fs/cgroup/*/{relative}"),
            if version == "hybrid" {
                "one directory in each v1 hierarchy and in the v2 one"
            } else {
                "one directory in each v1 hierarchy"
            },
        )
    };
    Some(
        Narration::new(format!("make the cgroup {path}: {layout}"))
            .why("linux.cgroupsPath")
            .syscall("mkdir(2)")
            .shell(shell)
            .check(check),
    )
}

/// Without root, where no cgroup was delegated: none at all.
fn no_cgroup(step: &Step) -> Option<Narration> {
    let dir = step.args.text("dir")?;
    let ignored = step.args.uint("device_rules_ignored").unwrap_or(0);
    let mut headline = format!(
        "no cgroup: glassbox runs without root and may not write {dir} (not delegated to this user); the \
         container's processes are found through its pid namespace instead, and nothing limits them"
    );
    if ignored > 0 {
        headline.push_str(&format!("; {ignored} linux.resources.devices rules are not enforced"));
    }
    Some(
        Narration::new(headline)
            .why("linux.cgroupsPath (a cgroup delegated to this user would be used)")
            .syscall(format!("faccessat(\"{dir}\", W_OK, AT_EACCESS) fails"))
            .shell(format!("test -w {}", shell_quote(&dir)))
            .check(format!("ls -ld {}", shell_quote(&dir))),
    )
}

pub fn cgroup_write(step: &Step) -> Option<Narration> {
    let file = step.args.text("file")?;
    let value = step.args.str("value")?;
    let name = file.rsplit('/').next().unwrap_or(&file).to_string();
    let human = bytes(&value)
        .filter(|_| name.starts_with("memory.") || name.starts_with("hugetlb."))
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    let headline = outcome(step, format!("write {value}{human} to {name}"));
    let mut narration = Narration::new(headline)
        .syscall(format!("write(2) to {file}"))
        .shell(format!("echo {} > {file}", shell_quote(&value)))
        .check(format!("cat {file}"));
    narration.why = step.args.text("field");
    if name.starts_with("devices.") {
        let dir = file.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        narration = narration.check(format!("cat {dir}/devices.list"));
        narration.headline = outcome(step, format!("{}: {value} ({})", name, device_rule(&name, &value)));
    }
    Some(narration)
}

/// A v1 devices cgroup line, "c 1:3 rwm", in words.
fn device_rule(file: &str, value: &str) -> String {
    let verb = if file == "devices.deny" { "deny" } else { "allow" };
    let mut parts = value.split_whitespace();
    let kind = match parts.next() {
        Some("a") => return format!("{verb} every device"),
        Some("c") => "char",
        Some("b") => "block",
        _ => return format!("{verb} this rule"),
    };
    let numbers = parts.next().unwrap_or("*:*").replace('*', "any");
    let access: Vec<&str> = parts
        .next()
        .unwrap_or("")
        .chars()
        .filter_map(|c| match c {
            'r' => Some("read"),
            'w' => Some("write"),
            'm' => Some("mknod"),
            _ => None,
        })
        .collect();
    let only_mknod = if access == ["mknod"] { " — making a node, not opening it" } else { "" };
    format!("{verb} {} on {kind} devices {numbers}{only_mknod}", access.join(", "))
}

fn cgroup_join(step: &Step) -> Option<Narration> {
    let file = step.args.text("file")?;
    let pid = step.args.int("pid")?;
    let check = format!("cat /proc/{pid}/cgroup");
    if step.args.text("via").as_deref() == Some("clone3") {
        return Some(
            Narration::new(format!("pid {pid} started inside the container's cgroup {file}"))
                .why("linux.cgroupsPath")
                .syscall(format!("clone3(2) with CLONE_INTO_CGROUP and a descriptor of {file}: no write, no wait"))
                .check(check),
        );
    }
    let (headline, value, meaning) = match step.args.text("value") {
        Some(value) => {
            (format!("pid {pid} moves itself into the container's cgroup"), value, " (0: the writer itself)")
        }
        None => (format!("move pid {pid} into the container's cgroup"), pid.to_string(), ""),
    };
    Some(
        Narration::new(headline)
            .why("linux.cgroupsPath")
            .syscall(format!("write(2) of \"{value}\"{meaning} to {file}"))
            .shell(format!("echo {value} > {file}"))
            .check(check),
    )
}

/// CLONE_NEW* flags and the namespace each makes (namespaces(7)).
const NAMESPACES: [(&str, &str, &str); 8] = [
    ("CLONE_NEWNS", "mount", "mnt"),
    ("CLONE_NEWPID", "pid", "pid"),
    ("CLONE_NEWUTS", "uts", "uts"),
    ("CLONE_NEWIPC", "ipc", "ipc"),
    ("CLONE_NEWNET", "network", "net"),
    ("CLONE_NEWUSER", "user", "user"),
    ("CLONE_NEWCGROUP", "cgroup", "cgroup"),
    ("CLONE_NEWTIME", "time", "time"),
];

fn namespace_names(flags: &str) -> Vec<&'static str> {
    let flags = flag_list(flags);
    NAMESPACES.iter().filter(|(flag, _, _)| flags.iter().any(|f| f == flag)).map(|(_, name, _)| *name).collect()
}

fn clone(step: &Step) -> Option<Narration> {
    let flags = step.args.text("flags")?;
    let names = namespace_names(&flags);
    let who = match step.container_pid {
        Some(pid) => format!("clone(2) started the container's process, pid {pid}"),
        None => "clone(2) starts the container's process".into(),
    };
    let headline = if names.is_empty() {
        format!("{who}, in glassbox's own namespaces")
    } else {
        format!("{who}, in new namespaces: {}", names.join(", "))
    };
    let why = if names.is_empty() {
        "linux.namespaces[] lists no new namespace".to_string()
    } else {
        format!("linux.namespaces[] types {}", names.join(", "))
    };
    let mut narration = Narration::new(headline)
        .why(why)
        .syscall(format!("clone({})", c_flags(&flags)))
        .check_opt(step.container_pid.map(|p| format!("ls -l /proc/{p}/ns  (compare: ls -l /proc/self/ns)")));
    narration.shell = step.args.text("equivalent");
    Some(narration)
}

/// What sharing glassbox's own namespace of one kind means for the container.
fn inherited_meaning(proc_name: &str) -> Option<&'static str> {
    Some(match proc_name {
        "mnt" => {
            "one mount table with the host: the mounts made for it appear on the host, below its rootfs (made slaves, so none leaks further); chroot(2), not pivot_root(2), gives it its /, and delete removes the mounts"
        }
        "pid" => "it sees every process of the host, and its first process is not pid 1",
        "net" => "the host's interfaces, addresses and ports: a server in it listens on the host",
        "ipc" => "the host's System V IPC objects and POSIX message queues",
        "uts" => "the host's hostname (which is why glassbox will not set one then)",
        "user" => "uid 0 inside is uid 0 on the host: only its capabilities, seccomp and the rest hold it back",
        "cgroup" => "/proc/self/cgroup shows full host paths, not a tree rooted at its own cgroup",
        "time" => "the host's clocks (CLOCK_MONOTONIC, CLOCK_BOOTTIME), with no offsets",
        _ => return None,
    })
}

fn inherit(step: &Step) -> Option<Narration> {
    let kind = step.args.text("type")?;
    let (_, name, _) = NAMESPACES.iter().find(|(_, _, short)| *short == kind)?;
    Some(
        Narration::new(format!("share glassbox's own {name} namespace: {}", inherited_meaning(&kind)?))
            .why(format!(
                "linux.namespaces[] has no \"{name}\" entry, and runtime-spec says the container then inherits the runtime's"
            ))
            .syscall(format!("none: without CLONE_NEW{} the child of clone(2) stays where its parent is", clone_suffix(name)))
            .check_opt(
                step.container_pid
                    .map(|p| format!("stat -L -c %i /proc/{p}/ns/{kind} /proc/self/ns/{kind}  (same inode: same namespace)")),
            ),
    )
}

/// The clone(2) flag's suffix for a namespace kind (CLONE_NEWNS for mount).
fn clone_suffix(name: &str) -> String {
    NAMESPACES
        .iter()
        .find(|(_, n, _)| *n == name)
        .map_or_else(|| name.to_uppercase(), |(flag, _, _)| flag.trim_start_matches("CLONE_NEW").to_string())
}

fn setns(step: &Step) -> Option<Narration> {
    let kind = step.args.text("type")?;
    let path = step.args.text("path")?;
    let (flag, _, proc_name) = NAMESPACES.iter().find(|(_, name, short)| *name == kind || *short == kind)?;
    let option = match *proc_name {
        "mnt" => "mount",
        other => other,
    };
    Some(
        Narration::new(format!("join the existing {kind} namespace at {path}"))
            .why(format!("linux.namespaces[] type {kind} with a path"))
            .syscall(format!("setns(open(\"{path}\"), {flag})"))
            .shell(format!("nsenter --{option}={path}"))
            .check_opt(
                step.container_pid
                    .map(|p| format!("stat -L -c %i /proc/{p}/ns/{proc_name} {path}  (same inode: same namespace)")),
            ),
    )
}

fn unshare(step: &Step) -> Option<Narration> {
    let flags = step.args.text("flags")?;
    let names = namespace_names(&flags);
    if names.is_empty() {
        return None;
    }
    let headline = if names == ["cgroup"] {
        "unshare(2) a new cgroup namespace: the container's cgroup becomes its /".to_string()
    } else {
        format!("unshare(2) into new namespaces: {}", names.join(", "))
    };
    let options: Vec<String> = names.iter().map(|n| format!("--{}", if *n == "network" { "net" } else { n })).collect();
    let proc_name = NAMESPACES.iter().find(|(_, n, _)| *n == names[0]).map(|(_, _, p)| *p).unwrap_or("cgroup");
    Some(
        Narration::new(headline)
            .why(format!("linux.namespaces[] type {}", names.join(", ")))
            .syscall(format!("unshare({})", c_flags(&flags)))
            .shell(format!("unshare {}", options.join(" ")))
            .check_opt(step.container_pid.map(|p| format!("ls -l /proc/{p}/ns/{proc_name}"))),
    )
}

fn setsid(step: &Step) -> Narration {
    Narration::new("setsid(2): the container's process leads a new session, with no terminal of the host's")
        .syscall("setsid()")
        .shell("setsid")
        .check_opt(step.container_pid.map(|p| format!("ps -o pid,sid,tty -p {p}")))
}

fn keyring() -> Narration {
    Narration::new("join a new session keyring, so the container does not share the one glassbox was started with")
        .syscall("keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)")
        .shell("keyctl session")
}

fn id_map(step: &Step) -> Option<Narration> {
    let file = step.args.text("file")?;
    let line = step.args.text("line")?;
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let &[inside, outside, count] = numbers.as_slice() else { return None };
    let what = if step.action == "uid_map" { "uid" } else { "gid" };
    // The line is read back from a record, which says what glassbox wrote,
    // not what the kernel took: a size of 0 (refused by the kernel) or
    // numbers past the 32-bit ids must still make a sentence.
    let meaning = match count {
        0 => format!("a size 0 maps no {what} (the kernel refuses it)"),
        1 => format!("{what} {inside} inside is {what} {outside} on the host"),
        _ => {
            let last = |first: u64| first.saturating_add(count - 1);
            format!("{what}s {inside}-{} inside are {outside}-{} on the host", last(inside), last(outside))
        }
    };
    let field = if what == "uid" { "linux.uidMappings[]" } else { "linux.gidMappings[]" };
    let narration = Narration::new(format!("{} \"{line}\" (inside outside count): {meaning}", step.action))
        .why(format!("{field} containerID {inside}, hostID {outside}, size {count}"))
        .check(format!("cat {file}"));
    // Without root, more than one's own id is mapped by a setuid helper.
    Some(match step.args.text("via") {
        Some(helper) => {
            let name = helper.rsplit('/').next().unwrap_or(&helper).to_string();
            let pid = file.split('/').nth(2).unwrap_or("$pid");
            let subids = if name == "newuidmap" { "/etc/subuid" } else { "/etc/subgid" };
            narration
                .syscall(format!("{helper} (setuid root) checks {subids}, then writes {file} in one write(2)"))
                .shell(format!("{name} {pid} {line}"))
        }
        None => narration
            .syscall(format!("write(2) to {file}: all lines at once, as a map can be set only once"))
            .shell(format!("echo '{line}' > {file}")),
    })
}

fn setgroups(step: &Step) -> Option<Narration> {
    let file = step.args.text("file")?;
    let value = step.args.text("value")?;
    let headline = if value == "deny" {
        "switch setgroups(2) off in this user namespace: the kernel wants that before a process without \
         CAP_SETGID may write gid_map"
            .to_string()
    } else {
        format!("write \"{value}\" to {file}")
    };
    Some(
        Narration::new(headline)
            .why("linux.gidMappings[]")
            .syscall(format!("write(2) of \"{value}\" to {file}"))
            .shell(format!("echo {value} > {file}"))
            .check(format!("cat {file}")),
    )
}
