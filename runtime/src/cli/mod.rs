//! The command line, shaped like runc's so that containerd, podman and CRI
//! can call glassbox in its place: the same verbs, flags and exit codes
//! (0 on success, 1 on any error, the container's own code for `run`/`exec`
//! — and, as a shell gives, 127 or 126 when they cannot run the program).

/// println! panics when stdout is a closed pipe (`glassbox features | head`);
/// a runtime must not, and must not die of SIGPIPE either (it writes to
/// hooks' stdin too), so output errors are ignored here.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub mod args;
pub mod features;
pub mod follow;
pub mod narrator;
mod requests;
pub mod spec;
pub mod trace;
mod verbs;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

use args::{Cli, Command};

use crate::log;
use crate::paths::Paths;

/// Parse the arguments, run the verb, and turn the outcome into an exit code.
pub fn main() -> i32 {
    let cli = Cli::try_parse().unwrap_or_else(|e| args::placing_global_flags(e).exit());
    if let Err(e) = log::init(cli.log.clone(), cli.log_format, cli.debug) {
        eprintln!("glassbox: error: {e}");
        return 1;
    }
    // `run` and `exec` exit as the process did when it could not run the
    // program: 127 (not found) or 126 (not executable), as a shell does.
    let passes_status = matches!(cli.command, Command::Run(_) | Command::Exec(_));
    let result = dispatch(cli);
    // The lines a command left unwritten, failed or not (a failed create's
    // failing stage's end comes after its error line): the recorder it
    // installed is never dropped, so nothing else writes them.
    crate::recorder::flush_before_waiting();
    match result {
        Ok(code) => code,
        Err(e) => {
            log::error(&one_line(&e));
            match e.downcast_ref::<crate::container::ContainerError>() {
                Some(e) if passes_status => e.exit_code(),
                _ => 1,
            }
        }
    }
}

/// The error and its causes on one line, each cause said once: most of our
/// messages already quote their source.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn dispatch(cli: Cli) -> Result<i32> {
    let paths = Paths::new(state_root(&cli)?);
    // Before anything else (and before the narrator's thread exists): the
    // trace must see the whole command, and its tracer is forked.
    if let Some(req) = trace_request(&paths, &cli.command)? {
        if cli.no_events {
            anyhow::bail!(
                "--trace writes the kernel's events into events.jsonl, which --no-events turns off; drop one"
            );
        }
        crate::ktrace::start(&req).map_err(|e| anyhow::anyhow!(e))?;
    }
    let result = dispatch_verb(cli, &paths);
    crate::ktrace::finish();
    result
}

/// `--trace` on create, run or exec, checked (the list, the id) before anything is made.
fn trace_request(paths: &Paths, command: &Command) -> Result<Option<crate::ktrace::TraceRequest>> {
    let (id, trace, explain, detached) = match command {
        Command::Create(a) => (&a.id, &a.trace, &a.explain, true),
        Command::Run(a) => (&a.id, &a.trace, &a.explain, a.detach),
        Command::Exec(a) => (&a.id, &a.trace, &a.explain, a.detach),
        _ => return Ok(None),
    };
    let Some(list) = &trace.trace else { return Ok(None) };
    crate::state::validate_id(id)?;
    let narrated = explain.explain.is_some() || explain.step;
    let req = crate::ktrace::TraceRequest::new(paths, id, list, trace.ring_bytes, &trace.pin_dir, detached, narrated)
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(Some(req))
}

/// `--root`, or the default for whoever runs glassbox (rootless.rs); the
/// verbs that keep no state do without one.
fn state_root(cli: &Cli) -> Result<PathBuf> {
    let stateless = matches!(
        cli.command,
        Command::Spec { .. } | Command::Features | Command::Trace(_) | Command::Hub { .. } | Command::Dashboard { .. }
    );
    match &cli.root {
        Some(root) => Ok(root.clone()),
        None if stateless => Ok(PathBuf::from(Paths::DEFAULT_STATE_ROOT)),
        None => Ok(crate::rootless::default_state_root()?),
    }
}

/// The hub's socket is beside the default state root (`/run/glassbox/hub.sock`
/// for root), whatever `--root` a command was given.
fn default_hub_socket() -> PathBuf {
    let root = crate::rootless::default_state_root().unwrap_or_else(|_| PathBuf::from(Paths::DEFAULT_STATE_ROOT));
    root.join("hub.sock")
}

/// The sinks the record goes to, then the verb (cli/verbs.rs), given what
/// its flags ask for (cli/requests.rs).
fn dispatch_verb(cli: Cli, paths: &Paths) -> Result<i32> {
    let rootless = crate::rootless::parse_rootless_flag(cli.rootless.as_deref())?;
    let explain = match &cli.command {
        Command::Create(a) => Some(&a.explain),
        Command::Run(a) => Some(&a.explain),
        Command::Exec(a) => Some(&a.explain),
        _ => None,
    };
    crate::recorder::configure(crate::recorder::SinkConfig {
        events: !cli.no_events,
        hub: cli.hub.clone().unwrap_or_else(default_hub_socket),
        narrator: explain.and_then(narrator::start),
    });
    let systemd = cli.systemd_cgroup;
    match cli.command {
        Command::Create(a) => verbs::create(paths, requests::create_options(a.id, a.common, rootless, systemd)?),
        Command::Start { id, explain } => verbs::start(paths, &id, &explain),
        Command::Run(a) => {
            let create = requests::create_options(a.id, a.common, rootless, systemd)?;
            verbs::run(paths, create, a.detach)
        }
        Command::State { id } => verbs::state(paths, &id),
        Command::Kill { id, signal, all } => verbs::kill(paths, &id, &signal, all),
        Command::Delete { id, force } => verbs::delete(paths, &id, force),
        Command::List { format, quiet } => verbs::list(paths, &format, quiet),
        Command::Ps { id, format, ps_args } => verbs::ps(paths, &id, &format, &ps_args),
        Command::Pause { id } => verbs::pause(paths, &id),
        Command::Resume { id } => verbs::resume(paths, &id),
        Command::Events { id, follow: true, json, .. } => verbs::follow_events(paths, &id, json),
        Command::Events { id, stats, interval, .. } => verbs::events(paths, &id, stats, interval),
        Command::Update(a) => verbs::update(paths, &a),
        Command::Exec(a) => verbs::exec(paths, &a),
        Command::Spec { bundle, rootless } => verbs::spec(bundle, rootless),
        Command::Trace(a) => trace::trace(&a),
        Command::Hub { args } => verbs::dashboard(&args),
        Command::Features => verbs::features(),
        Command::Dashboard { args } => verbs::dashboard(&args),
    }
}
