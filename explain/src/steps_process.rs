//! Narrations of the stages that shape the container's process once its
//! root is in place — hostname (sethostname(2)), sysctl, rlimits
//! (setrlimit(2), /proc/<pid>/oom_score_adj), capabilities (capabilities(7),
//! setresuid(2), prctl(2)), seccomp (seccomp(2)), hooks, exec (execve(2)) —
//! and of what follows its life: exit (wait4(2)) and cleanup.

use glassbox_events::Stage;
use serde_json::Value;

use super::args::{plain, shell_quote};
use super::steps::{outcome, Step};
use super::Narration;

pub fn narrate(stage: Stage, step: &Step) -> Option<Narration> {
    match (stage, step.action) {
        (Stage::Hostname, "sethostname" | "setdomainname") => hostname(step),
        (Stage::Sysctl, "write") => sysctl(step),
        (Stage::Rlimits, "setrlimit") => setrlimit(step),
        (Stage::Rlimits, "oom_score_adj") => oom_score_adj(step),
        (Stage::Rlimits, "personality" | "ioprio" | "scheduler" | "umask" | "memory_policy") => {
            Some(process_attribute(step))
        }
        (Stage::Capabilities, "capabilities") => capabilities(step),
        (Stage::Capabilities, "set_user") => set_user(step),
        (Stage::Capabilities, "chdir") => chdir(step),
        (Stage::Capabilities, "no_new_privs") => no_new_privs(step),
        (Stage::Seccomp, "load") => seccomp(step),
        (Stage::Hooks, "hook") => hook(step),
        (Stage::Exec, "execve") => execve(step),
        (Stage::Exit, "exit") => exit(step),
        (Stage::Cleanup, _) => cleanup(step),
        _ => None,
    }
}

fn hostname(step: &Step) -> Option<Narration> {
    let name = step.args.text("name")?;
    let (what, field, tool) = if step.action == "sethostname" {
        ("hostname", "hostname", "hostname")
    } else {
        ("NIS domain name", "domainname", "domainname")
    };
    Some(
        Narration::new(format!("set the {what} to \"{name}\", in the container's own UTS namespace"))
            .why(field)
            .syscall(format!("{}(\"{name}\")", step.action))
            .shell(format!("{tool} {}", shell_quote(&name)))
            .check_opt(step.container_pid.map(|p| format!("nsenter --target {p} --uts {tool}"))),
    )
}

fn sysctl(step: &Step) -> Option<Narration> {
    let key = step.args.text("key")?;
    let value = step.args.str("value")?;
    let file = step.args.text("file").unwrap_or_else(|| format!("/proc/sys/{}", key.replace('.', "/")));
    // /proc/sys shows the namespace of whoever reads it: enter only the one
    // the parameter belongs to, and read it with the host's cat.
    let namespace = if key.starts_with("net.") {
        "--net"
    } else if ["kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."].iter().any(|p| key.starts_with(p)) {
        "--ipc"
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        "--uts"
    } else {
        "--all"
    };
    Some(
        Narration::new(outcome(step, format!("set {key} = {value}")))
            .why(format!("linux.sysctl \"{key}\""))
            .syscall(format!("write(2) of \"{value}\" to {file}"))
            .shell(format!("sysctl -w {key}={}", shell_quote(&value)))
            .check_opt(step.container_pid.map(|p| format!("nsenter --target {p} {namespace} cat {file}"))),
    )
}

/// RLIMIT_* → (prlimit(1) option, the line's name in /proc/<pid>/limits).
fn rlimit_names(resource: &str) -> Option<(&'static str, &'static str)> {
    Some(match resource {
        "RLIMIT_AS" => ("--as", "Max address space"),
        "RLIMIT_CORE" => ("--core", "Max core file size"),
        "RLIMIT_CPU" => ("--cpu", "Max cpu time"),
        "RLIMIT_DATA" => ("--data", "Max data size"),
        "RLIMIT_FSIZE" => ("--fsize", "Max file size"),
        "RLIMIT_LOCKS" => ("--locks", "Max file locks"),
        "RLIMIT_MEMLOCK" => ("--memlock", "Max locked memory"),
        "RLIMIT_MSGQUEUE" => ("--msgqueue", "Max msgqueue size"),
        "RLIMIT_NICE" => ("--nice", "Max nice priority"),
        "RLIMIT_NOFILE" => ("--nofile", "Max open files"),
        "RLIMIT_NPROC" => ("--nproc", "Max processes"),
        "RLIMIT_RSS" => ("--rss", "Max resident set"),
        "RLIMIT_RTPRIO" => ("--rtprio", "Max realtime priority"),
        "RLIMIT_RTTIME" => ("--rttime", "Max realtime timeout"),
        "RLIMIT_SIGPENDING" => ("--sigpending", "Max pending signals"),
        "RLIMIT_STACK" => ("--stack", "Max stack size"),
        _ => return None,
    })
}

fn setrlimit(step: &Step) -> Option<Narration> {
    let resource = step.args.text("resource")?;
    let show = |n: u64| if n == u64::MAX { "unlimited".to_string() } else { n.to_string() };
    let soft = show(step.args.uint("soft")?);
    let hard = show(step.args.uint("hard")?);
    let names = rlimit_names(&resource);
    let what = names.map(|(_, line)| line.trim_start_matches("Max ").to_string()).unwrap_or(resource.clone());
    let check = step.container_pid.map(|p| match names {
        Some((_, line)) => format!("grep '{line}' /proc/{p}/limits"),
        None => format!("cat /proc/{p}/limits"),
    });
    let mut narration = Narration::new(format!("limit {what}: soft {soft}, hard {hard}"))
        .why(format!("process.rlimits[] type {resource}"))
        .syscall(format!("setrlimit({resource}, {{{soft}, {hard}}})"))
        .check_opt(check);
    if let (Some((option, _)), Some(p)) = (names, step.container_pid) {
        narration = narration.shell(format!("prlimit --pid {p} {option}={soft}:{hard}"));
    }
    Some(narration)
}

fn oom_score_adj(step: &Step) -> Option<Narration> {
    let value = step.args.int("value")?;
    let effect = match value {
        v if v > 0 => "the OOM killer will pick it sooner",
        v if v < 0 => "the OOM killer will spare it longer",
        _ => "no bias for the OOM killer",
    };
    let file = match step.container_pid {
        Some(p) => format!("/proc/{p}/oom_score_adj"),
        None => "/proc/self/oom_score_adj".into(),
    };
    Some(
        Narration::new(format!("oom_score_adj = {value}: {effect}"))
            .why("process.oomScoreAdj")
            .syscall(format!("write(2) of \"{value}\" to /proc/self/oom_score_adj"))
            .shell(format!("echo {value} > {file}"))
            .check_opt(step.container_pid.map(|_| format!("cat {file}"))),
    )
}

/// personality, ioprio, scheduler, umask: the values as recorded.
fn process_attribute(step: &Step) -> Narration {
    let (what, field, syscall) = match step.action {
        "personality" => ("execution domain", "linux.personality", "personality(2)"),
        "ioprio" => ("I/O priority", "process.ioPriority", "ioprio_set(2)"),
        "scheduler" => ("scheduling policy", "process.scheduler", "sched_setattr(2)"),
        "memory_policy" => ("NUMA memory policy (the nodes pages come from)", "linux.memoryPolicy", "set_mempolicy(2)"),
        _ => ("file creation mask", "process.user.umask", "umask(2)"),
    };
    let check = step.container_pid.map(|p| match step.action {
        "personality" => format!("cat /proc/{p}/personality"),
        "ioprio" => format!("ionice -p {p}"),
        "scheduler" => format!("chrt -p {p}"),
        "memory_policy" => format!("head -1 /proc/{p}/numa_maps"),
        _ => format!("grep Umask /proc/{p}/status"),
    });
    Narration::new(format!("set the {what}: {}", step.args.listing())).why(field).syscall(syscall).check_opt(check)
}

fn names(set: Option<&Value>) -> Option<Vec<String>> {
    Some(set?.as_array()?.iter().map(plain).collect())
}

fn capabilities(step: &Step) -> Option<Narration> {
    let after = step.args.0.get("after")?;
    let kept = names(after.get("bounding"))?;
    let before = names(step.args.0.get("before").and_then(|b| b.get("bounding")));
    let headline = match before {
        Some(before) => format!("keep {} of {} capabilities: {}", kept.len(), before.len(), kept.join(" ")),
        None => format!("keep {} capabilities: {}", kept.len(), kept.join(" ")),
    };
    let counts: Vec<String> = ["bounding", "effective", "permitted", "inheritable", "ambient"]
        .iter()
        .filter_map(|set| names(after.get(set)).map(|n| format!("{set} {}", n.len())))
        .collect();
    Some(
        Narration::new(headline)
            .why(format!("process.capabilities: {}", counts.join(", ")))
            .syscall("prctl(PR_CAPBSET_DROP) for each one dropped, then capset(2)")
            .check_opt(
                step.container_pid.map(|p| format!("grep Cap /proc/{p}/status  (decode: capsh --decode=<hex>)")),
            ),
    )
}

fn set_user(step: &Step) -> Option<Narration> {
    let uid = step.args.int("uid")?;
    let gid = step.args.int("gid")?;
    let groups = step.args.list("additional_gids").unwrap_or_default();
    let (extra, syscall_groups, groups_option) = if groups.is_empty() {
        ("no additional groups".to_string(), "setgroups(0, NULL)".to_string(), "--clear-groups".to_string())
    } else {
        (
            format!("additional groups {}", groups.join(", ")),
            format!("setgroups([{}])", groups.join(", ")),
            format!("--groups={}", groups.join(",")),
        )
    };
    Some(
        Narration::new(format!("become uid {uid}, gid {gid}, {extra}"))
            .why("process.user.uid, process.user.gid, process.user.additionalGids")
            .syscall(format!(
                "{syscall_groups}; setresgid({gid}, …); setresuid({uid}, …): the uid last, while still allowed"
            ))
            .shell(format!("setpriv --reuid={uid} --regid={gid} {groups_option}"))
            .check_opt(step.container_pid.map(|p| format!("grep -E '^(Uid|Gid|Groups)' /proc/{p}/status"))),
    )
}

fn chdir(step: &Step) -> Option<Narration> {
    let cwd = step.args.text("cwd")?;
    Some(
        Narration::new(format!("change the working directory to {cwd}"))
            .why("process.cwd")
            .syscall(format!("chdir(\"{cwd}\")"))
            .shell(format!("cd {}", shell_quote(&cwd)))
            .check_opt(step.container_pid.map(|p| format!("readlink /proc/{p}/cwd"))),
    )
}

fn no_new_privs(step: &Step) -> Option<Narration> {
    let on = step.args.bool("value")?;
    let check = step.container_pid.map(|p| format!("grep NoNewPrivs /proc/{p}/status"));
    if !on {
        return Some(
            Narration::new("leave no_new_privs off: setuid programs still gain privileges")
                .why("process.noNewPrivileges")
                .check_opt(check),
        );
    }
    Some(
        Narration::new(
            "set no_new_privs: from now on execve(2) never grants privileges (setuid bits and file \
                        capabilities are ignored)",
        )
        .why("process.noNewPrivileges")
        .syscall("prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)")
        .shell("setpriv --no-new-privs")
        .check_opt(check),
    )
}

fn seccomp(step: &Step) -> Option<Narration> {
    let default = step.args.text("default_action")?;
    let rules = step.args.int("rules").map(|n| format!("{n} rules")).unwrap_or_else(|| "its rules".into());
    let otherwise = match default.as_str() {
        "SCMP_ACT_ALLOW" => "is allowed",
        "SCMP_ACT_ERRNO" => "fails with an error",
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => "kills the thread",
        "SCMP_ACT_KILL_PROCESS" => "kills the process",
        "SCMP_ACT_TRAP" => "raises SIGSYS",
        "SCMP_ACT_LOG" => "is allowed and logged",
        "SCMP_ACT_TRACE" => "goes to a tracer",
        _ => "gets the default action",
    };
    let mut why = format!("linux.seccomp: defaultAction {default}");
    if let Some(arches) = step.args.list("architectures").filter(|a| !a.is_empty()) {
        why.push_str(&format!(", architectures {}", arches.join(" ")));
    }
    if let Some(when) = step.args.text("when") {
        let reason = if when.starts_with("before") {
            "without no_new_privs, loading a filter needs CAP_SYS_ADMIN"
        } else {
            "so the filter need not allow glassbox's own setup calls"
        };
        why.push_str(&format!("; loaded {when}: {reason}"));
    }
    let flags = step.args.list("flags").filter(|f| !f.is_empty()).map(|f| f.join("|")).unwrap_or_else(|| "0".into());
    Some(
        Narration::new(format!("load a seccomp filter: {rules}; any other system call {otherwise}"))
            .why(why)
            .syscall(format!("seccomp(SECCOMP_SET_MODE_FILTER, {flags}, &program)"))
            .check_opt(step.container_pid.map(|p| format!("grep Seccomp /proc/{p}/status  (2 means a filter)"))),
    )
}

fn hook(step: &Step) -> Option<Narration> {
    let name = step.args.text("hook")?;
    let path = step.args.text("path")?;
    let args = step.args.list("args").unwrap_or_default();
    let rest: Vec<String> = args.iter().skip(1).map(|a| shell_quote(a)).collect();
    let command = std::iter::once(shell_quote(&path)).chain(rest).collect::<Vec<_>>().join(" ");
    let when = match name.as_str() {
        "prestart" => "in glassbox's namespaces, before pivot_root (deprecated: use createRuntime)",
        "createRuntime" => "in glassbox's namespaces, once the container's namespaces exist",
        "createContainer" => "in the container's namespaces, before pivot_root",
        "startContainer" => "in the container, just before your program starts",
        "poststart" => "in glassbox's namespaces, once your program has started",
        "poststop" => "in glassbox's namespaces, after the container is deleted",
        _ => "",
    };
    let status = match step.args.int("exit_code") {
        Some(code) => format!("exit status {code}"),
        None => "no exit status".into(),
    };
    let mut why = format!("hooks.{name}[]");
    if !when.is_empty() {
        why.push_str(&format!(": runs {when}"));
    }
    Some(
        Narration::new(outcome(step, format!("{name} hook: ran {command} → {status}")))
            .why(why)
            .syscall(format!("fork, then execve(\"{path}\") with the state JSON on its stdin"))
            .shell(format!("glassbox state {} | {command}", shell_quote(step.container))),
    )
}

fn execve(step: &Step) -> Option<Narration> {
    let path = step.args.text("path")?;
    let argv = step.args.list("argv").unwrap_or_else(|| vec![path.clone()]);
    let env = step.args.int("env_count").map(|n| format!(" (with {n} environment variables)")).unwrap_or_default();
    let command = argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ");
    let quoted: Vec<String> = argv.iter().map(|a| format!("\"{a}\"")).collect();
    let who = step.container_pid.map(|p| format!("pid {p}")).unwrap_or_else(|| "the process".into());
    let direct = format!("execve(\"{path}\", [{}], envp)", quoted.join(", "));
    // The sealed copy of glassbox-exec it goes through (process/sealed_exec.rs).
    let syscall = match step.args.text("via") {
        Some(via) => format!("execve of {via}, which does {direct}"),
        None => direct,
    };
    Some(
        Narration::new(format!("execve: {who} now runs {command}{env}"))
            .why("process.args, process.env")
            .syscall(syscall)
            .shell(format!("exec {command}"))
            .check_opt(step.container_pid.map(|p| format!("ps -o pid,user,args -p {p}"))),
    )
}

fn exit(step: &Step) -> Option<Narration> {
    let code = step.args.int("exit_code")?;
    let headline = match step.args.text("signal").filter(|s| s != "null") {
        Some(signal) if code > 128 => {
            format!("the container's process was killed by {signal}: exit status {code} (128 + {})", code - 128)
        }
        Some(signal) => format!("the container's process was killed by {signal}: exit status {code}"),
        None => format!("the container's process exited with status {code}"),
    };
    Some(Narration::new(headline).syscall("wait4(2): glassbox is its parent, so glassbox collects the status"))
}

fn cleanup(step: &Step) -> Option<Narration> {
    let path = step.args.text("path");
    Some(match step.action {
        "kill" => {
            let pid = step.args.int("pid")?;
            let signal = step.args.text("signal").unwrap_or_else(|| "SIGKILL".into());
            let short = signal.trim_start_matches("SIG");
            Narration::new(format!("send {signal} to the container's process, pid {pid}"))
                .syscall(format!("kill({pid}, {signal})"))
                .shell(format!("kill -{short} {pid}"))
                .check(format!("ps -p {pid}  (gone once it has exited)"))
        }
        "remove_cgroup" => {
            let path = path?;
            let relative = path.trim_start_matches("/sys/fs/cgroup/").trim_start_matches('/');
            Narration::new(format!("remove the cgroup {path}"))
                .syscall("rmdir(2): allowed only once no process is left in it")
                .shell(if path.starts_with('/') {
                    format!("rmdir {path}")
                } else {
                    format!("rmdir /sys/fs/cgroup/*/{relative}")
                })
                .check(format!("find /sys/fs/cgroup -path '*/{relative}'  (prints nothing)"))
        }
        "remove_state_dir" => {
            let path = path?;
            Narration::new(format!("remove the state directory {path}"))
                .syscall("unlink(2) of each file, then rmdir(2)")
                .shell(format!("rm -r {path}"))
                .check(format!("ls {path}  (No such file or directory)"))
        }
        "keep_events" => {
            let path = path?;
            Narration::new(format!("keep the event log at {path}, to replay or compare later"))
                .check(format!("tail -n 3 {path}"))
        }
        _ => return None,
    })
}
