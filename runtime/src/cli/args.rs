//! runc's command line, declared with clap: only the definitions. What a
//! verb's flags ask for, as the runtime's own types, is made in requests.rs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::log::LogFormat;

/// The global flags go before the verb, as runc's do (`glassbox --root DIR
/// run …`): clap's `global = true` would accept them after it too, by
/// copying each into every verb's definition at every start (~100 KiB of
/// heap, a third of the runtime's peak).
#[derive(Parser, Debug)]
#[command(name = "glassbox", version, about = "An OCI container runtime you can see through")]
pub struct Cli {
    /// Directory for the containers' state [default: /run/glassbox; without
    /// root $XDG_RUNTIME_DIR/glassbox].
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Write log lines to this file instead of stderr.
    #[arg(long)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log debug messages too.
    #[arg(long)]
    pub debug: bool,
    /// Ask systemd (over D-Bus) for each container's cgroup: a transient
    /// scope unit named by linux.cgroupsPath "slice:prefix:name".
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Without root, skip a cgroup this process may not make (true), never
    /// (false), or decide from who runs glassbox (auto, the default).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Record no events (no events.jsonl, nothing to the hub): to measure what they cost.
    #[arg(long = "no-events")]
    pub no_events: bool,
    /// The hub's socket (the dashboard's), offered every event when something listens there
    /// [default: hub.sock in the default state root].
    #[arg(long, env = "GLASSBOX_HUB")]
    pub hub: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The bundle directory (holding config.json); default: the current directory.
    #[arg(short, long)]
    pub bundle: Option<PathBuf>,
    /// Write the container's init pid here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (with process.terminal).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one for the container.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra descriptors (3 … 3+N-1) into the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
}

/// How `--explain` narrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// Prose for people, on stderr (colour when stderr is a terminal).
    Text,
    /// One JSON object per event on stderr: the event plus its explanation.
    Json,
}

// `--explain` and `--step`: watch the container being made. (A plain
// comment: the doc comment of a flattened struct would become the verb's
// help text once the verb's arguments are built lazily.)
#[derive(Args, Debug, Clone, Default)]
pub struct ExplainArgs {
    /// Narrate each stage as it happens: what was done, the config.json field behind it, the syscall,
    /// the equivalent shell command and how to check it from outside.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "text", require_equals = true)]
    pub explain: Option<ExplainFormat>,
    /// Pause before each stage until Enter (c + Enter: stop pausing); prints an nsenter command to look inside.
    #[arg(long)]
    pub step: bool,
}

// `--trace`: the kernel's side of the container (eBPF), into its record
// and, live, onto stderr. (A plain comment, as for ExplainArgs.)
#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// Follow the container's processes in the kernel from the very start: every syscall, fork, exec and exit goes
    /// to events.jsonl; a foreground run/exec also prints them, merged with the stages, on stderr. LIST: syscall
    /// names to print (e.g. --trace=mount,clone,execve), or all.
    #[arg(long, value_name = "LIST", num_args = 0..=1, default_missing_value = "all", require_equals = true)]
    pub trace: Option<String>,
    /// With --trace and no hub: the ring buffer's size (rounded up to a power of two); records that find it full
    /// are counted and reported.
    #[arg(long = "ring-bytes", default_value_t = crate::ktrace::DEFAULT_RING_BYTES)]
    pub ring_bytes: u32,
    /// Where a running dashboard (`glassbox dashboard`, the hub) pinned its probes' maps.
    #[arg(long = "pin-dir", env = "GLASSBOX_PIN_DIR", default_value = crate::ktrace::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct CreateCmd {
    pub id: String,
    #[command(flatten)]
    pub common: CreateArgs,
    #[command(flatten)]
    pub explain: ExplainArgs,
    #[command(flatten)]
    pub trace: TraceArgs,
}

#[derive(Args, Debug)]
pub struct RunCmd {
    pub id: String,
    #[command(flatten)]
    pub common: CreateArgs,
    #[command(flatten)]
    pub explain: ExplainArgs,
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Return once the container is running.
    #[arg(short, long)]
    pub detach: bool,
}

#[derive(Args, Debug)]
pub struct ExecCmd {
    pub id: String,
    /// The command and its arguments (unless --process is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// A process.json (runtime-spec `process` object) to run.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    #[command(flatten)]
    pub explain: ExplainArgs,
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// "5s", "500ms", "2m" or a plain number of seconds, as runc accepts.
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{s:?}: use a duration like 5s, 500ms or 1m");
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

// runc's `update` flags; each sets one field of linux.resources. (A plain
// comment, as for ExplainArgs.)
#[derive(Args, Debug)]
pub struct UpdateCmd {
    pub id: String,
    /// A JSON file with a runtime-spec linux.resources object ("-" for stdin).
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit: bytes, or with a k/m/g suffix; -1 for unlimited.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap, as in config.json.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
}

#[derive(Subcommand, Debug)]
// Each verb's arguments are built only when that verb is parsed (or its
// help asked for): defining all of them took ~170 KiB of heap per start.
#[command(defer = true)]
pub enum Command {
    /// Make a container and leave it waiting for `start`.
    Create(CreateCmd),
    /// Run the user's program in a created container.
    Start {
        id: String,
        #[command(flatten)]
        explain: ExplainArgs,
    },
    /// create + start + wait + delete (or with -d, create + start).
    Run(RunCmd),
    /// Print the container's state as runtime-spec JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to the container.
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
        #[arg(short, long)]
        all: bool,
    },
    /// Remove a container and everything it left.
    Delete {
        id: String,
        #[arg(short, long)]
        force: bool,
    },
    /// List the containers under --root.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// The processes running in a container.
    Ps {
        id: String,
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of the container (cgroup freezer).
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// The container's cgroup statistics and OOM kills, as JSON lines (runc's `events`);
    /// with --follow, the stages of making it instead, as they happen.
    Events {
        id: String,
        /// Print the container's stage events (events.jsonl) live, narrated, until it is deleted.
        #[arg(short, long)]
        follow: bool,
        /// With --follow: the event lines as JSON instead of prose.
        #[arg(long, requires = "follow")]
        json: bool,
        /// Print one stats line and exit.
        #[arg(long)]
        stats: bool,
        /// Time between stats lines: 5s, 500ms, 1m.
        #[arg(long, default_value = "5s", value_parser = parse_interval)]
        interval: std::time::Duration,
    },
    /// Change the resource limits of a running container.
    Update(UpdateCmd),
    /// Run a new process inside a running container.
    Exec(ExecCmd),
    /// Write a default config.json.
    Spec {
        #[arg(short, long)]
        bundle: Option<PathBuf>,
        #[arg(long)]
        rootless: bool,
    },
    /// What this runtime supports, as runtime-spec features JSON.
    Features,
    /// Run a command and show, from the kernel's side (eBPF), every syscall, fork, exec and exit of it and its
    /// children: any runtime (runc, crun, glassbox) can be traced the same way.
    Trace(TraceCmd),
    /// Another name for `glassbox dashboard` (the dashboard is the hub: it holds the eBPF probes `--trace`
    /// runtimes register with, and takes every runtime's events). Runs `glassbox-dashboard` with the arguments given.
    #[command(disable_help_flag = true)]
    Hub {
        /// Passed on to glassbox-dashboard, `--help` too.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The dashboard: take every runtime's events on the hub socket, hold the eBPF probes `--trace` registers with,
    /// and serve them as a live web page (http://127.0.0.1:7878/), a JSON API and Prometheus metrics. Runs
    /// `glassbox-dashboard` (beside this binary, else on PATH) with the arguments given.
    #[command(disable_help_flag = true)]
    Dashboard {
        /// Passed on to glassbox-dashboard, `--help` too.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct TraceCmd {
    /// Count syscalls and their latencies in the kernel and print a table at the end, instead of one line each.
    #[arg(long)]
    pub summary: bool,
    /// With --summary: count calls only, at syscall entry (no latencies, no errors): no program runs on syscall
    /// return, about half the cost.
    #[arg(long, requires = "summary")]
    pub counts: bool,
    /// Size of the ring buffer records wait in (rounded up to a power of two); records that find it full are
    /// counted as lost and reported.
    #[arg(long = "ring-bytes", default_value_t = 4 << 20)]
    pub ring_bytes: u32,
    /// The command to trace and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// clap's error for a global flag given after the verb (`glassbox run
/// --root DIR …`), with a tip that says where it goes instead of clap's
/// "use '-- --root'".
pub fn placing_global_flags(e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::CommandFactory;
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else { return e };
    let flag = arg.split('=').next().unwrap_or(arg).trim_start_matches('-').to_string();
    let global = Cli::command().get_arguments().any(|a| a.get_long() == Some(flag.as_str()));
    if e.kind() != ErrorKind::UnknownArgument || !global {
        return e;
    }
    let mut e = e;
    let tip = format!("--{flag} is a global flag: it goes before the verb, as with runc (glassbox --{flag} … VERB …)");
    e.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![tip.into()]));
    e
}

#[cfg(test)]
mod tests {
    /// Each verb's help starts with that verb's own description, also now
    /// that verbs are built only when used (a flattened struct's doc
    /// comment would take its place).
    #[test]
    fn every_verbs_help_begins_with_its_own_description() {
        use clap::{CommandFactory, Parser};
        let verbs: Vec<(String, String)> = super::Cli::command()
            .get_subcommands()
            .map(|c| (c.get_name().to_string(), c.get_about().map(|a| a.to_string()).unwrap_or_default()))
            .collect();
        assert!(verbs.len() > 10);
        for (verb, about) in verbs {
            assert!(!about.is_empty(), "{verb} has no description");
            if verb == "dashboard" || verb == "hub" {
                // Its arguments, --help among them, are glassbox-dashboard's.
                continue;
            }
            let help = super::Cli::try_parse_from(["glassbox", &verb, "--help"]).unwrap_err().to_string();
            assert!(
                help.starts_with(&about),
                "`glassbox {verb} --help` begins {:?}, not {about:?}",
                help.lines().next()
            );
        }
    }

    #[test]
    fn global_flags_go_before_the_verb_as_with_runc() {
        use clap::Parser;
        assert!(super::Cli::try_parse_from(["glassbox", "--root", "/tmp/r", "state", "x"]).is_ok());
        let err = super::Cli::try_parse_from(["glassbox", "state", "--root", "/tmp/r", "x"]).unwrap_err();
        let err = super::placing_global_flags(err).to_string();
        assert!(err.contains("--root is a global flag: it goes before the verb"), "{err}");
        let other = super::Cli::try_parse_from(["glassbox", "state", "--bogus", "x"]).unwrap_err();
        assert!(!super::placing_global_flags(other).to_string().contains("global flag"));
    }
}
