//! The command line, shaped like runc's so that containerd, podman and CRI
//! can call glassbox in its place: the same verbs, flags and exit codes
//! (0 on success, 1 on any error, the container's own code for `run`/`exec`
//! — and, as a shell gives, 127 or 126 when they cannot run the program).

pub mod args;
pub mod features;
pub mod follow;
pub mod narrator;
pub mod spec;
pub mod trace;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

use args::{Cli, Command};

use crate::container::{ConsoleHandling, Container, CreateOptions, ExecOptions, RunOptions};
use crate::log;
use crate::paths::Paths;
use crate::signals::parse_signal;

/// println! panics when stdout is a closed pipe (`glassbox features | head`);
/// a runtime must not, and must not die of SIGPIPE either (it writes to
/// hooks' stdin too), so output errors are ignored here.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

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
    match dispatch(cli) {
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
    let stateless =
        matches!(cli.command, Command::Spec { .. } | Command::Features | Command::Trace(_) | Command::Hub { .. });
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

fn dispatch_verb(cli: Cli, paths: &Paths) -> Result<i32> {
    let paths = paths.clone();
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
    match cli.command {
        Command::Create(a) => {
            let opts = create_options(a.id, a.common, rootless, cli.systemd_cgroup)?;
            Container::create(&paths, &opts)?;
            Ok(0)
        }
        Command::Start { id, explain } => {
            let mut c = Container::load(&paths, &id)?;
            let from = crate::recorder::events_written(&c.dir.path);
            c.start()?;
            if explain.explain.is_some() || explain.step {
                narrate_after_start(&c, from, &explain);
            }
            Ok(0)
        }
        Command::Run(a) => {
            let create = create_options(a.id, a.common, rootless, cli.systemd_cgroup)?;
            Ok(Container::run(&paths, RunOptions { create, detach: a.detach })?)
        }
        Command::State { id } => {
            let c = Container::load(&paths, &id)?;
            out!("{}", serde_json::to_string_pretty(&c.state.to_oci_json(c.status()))?);
            Ok(0)
        }
        Command::Kill { id, signal, all } => {
            let signal = parse_signal(&signal)?;
            Container::load(&paths, &id)?.kill(signal, all)?;
            Ok(0)
        }
        Command::Delete { id, force } => {
            Container::delete_by_id(&paths, &id, force)?;
            Ok(0)
        }
        Command::List { format, quiet } => {
            let entries = Container::list(&paths)?;
            print_list(&entries, &format, quiet)?;
            Ok(0)
        }
        Command::Ps { id, format, ps_args } => {
            let c = Container::load(&paths, &id)?;
            print_ps(&c.pids()?, &format, &ps_args)?;
            Ok(0)
        }
        Command::Pause { id } => {
            Container::load(&paths, &id)?.pause()?;
            Ok(0)
        }
        Command::Resume { id } => {
            Container::load(&paths, &id)?.resume()?;
            Ok(0)
        }
        Command::Events { id, follow: true, json, .. } => {
            follow::follow(&paths, &id, json, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Command::Events { id, stats, interval, .. } => {
            let mut c = Container::load(&paths, &id)?;
            c.dir.unlock();
            c.events(interval, stats, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Command::Update(a) => {
            let c = Container::load(&paths, &a.id)?;
            let resources = args::update_resources(&a)?;
            for done in c.update(&resources)? {
                log::debug(&format!("cgroup: {done}"));
            }
            Ok(0)
        }
        Command::Exec(a) => {
            let c = Container::load(&paths, &a.id)?;
            let process = args::exec_process(&c, &a)?;
            let opts = ExecOptions {
                process,
                detach: a.detach,
                pid_file: a.pid_file.clone(),
                console_socket: a.console_socket.clone(),
                preserve_fds: a.preserve_fds,
            };
            Ok(c.exec(opts)?)
        }
        Command::Spec { bundle, rootless } => {
            let path = bundle.unwrap_or_else(|| PathBuf::from(".")).join("config.json");
            if path.exists() {
                anyhow::bail!("{}: file already exists; remove it first", path.display());
            }
            // The JSON form keeps capabilities in a stable order (oci-spec holds them in a set).
            let text = serde_json::to_string_pretty(&spec::default_spec_json(rootless))?;
            std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
            Ok(0)
        }
        Command::Trace(a) => trace::trace(&a),
        Command::Hub { pin_dir, ring_bytes } => crate::ktrace::pinned_probes::run(&pin_dir, ring_bytes),
        Command::Features => {
            out!("{}", serde_json::to_string_pretty(&features::features_json())?);
            Ok(0)
        }
    }
}

/// `start --explain`: the stages left run in the container's init, which
/// this process did not clone and cannot pause; narrate them from the record.
fn narrate_after_start(c: &Container, from: usize, explain: &args::ExplainArgs) {
    if explain.step {
        log::warn("--step: after start, the remaining stages run in the container's init without pausing; use run --step to pause them all");
    }
    let format = explain.explain.unwrap_or(args::ExplainFormat::Text);
    let colour = format == args::ExplainFormat::Text && narrator::wants_colour(std::io::stderr());
    let mut printer = follow::Printer::new(Some(format), colour, std::process::id() as i32);
    follow::narrate_init_after_start(&c.dir.path, from, || c.state.init_alive(), &mut printer);
}

fn create_options(
    id: String,
    c: args::CreateArgs,
    rootless: Option<bool>,
    systemd_cgroup: bool,
) -> Result<CreateOptions> {
    let bundle = c.bundle.unwrap_or_else(|| PathBuf::from("."));
    Ok(CreateOptions {
        id,
        bundle,
        pid_file: c.pid_file.map(absolute).transpose()?,
        console: match c.console_socket {
            Some(p) => ConsoleHandling::Socket(p),
            None => ConsoleHandling::None,
        },
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
        wait_for_release: true,
        rootless,
        systemd_cgroup,
    })
}

/// runc resolves a relative --pid-file against the caller's cwd.
fn absolute(p: PathBuf) -> Result<PathBuf> {
    Ok(if p.is_absolute() { p } else { std::env::current_dir()?.join(p) })
}

fn print_list(entries: &[crate::container::ListEntry], format: &str, quiet: bool) -> Result<()> {
    if quiet {
        for e in entries {
            out!("{}", e.id);
        }
        return Ok(());
    }
    match format {
        "json" => out!("{}", serde_json::to_string(entries)?),
        "table" => {
            out!("{:<20} {:<8} {:<10} {:<40} {:<32} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
            for e in entries {
                out!("{:<20} {:<8} {:<10} {:<40} {:<32} {}", e.id, e.pid, e.status, e.bundle, e.created, e.owner);
            }
        }
        other => anyhow::bail!("--format {other:?}: use table or json"),
    }
    Ok(())
}

/// `ps --format json` prints the pids; the table is `ps(1)`'s own output
/// (default `ps -ef`) filtered to the container's processes.
fn print_ps(pids: &[i32], format: &str, ps_args: &[String]) -> Result<()> {
    match format {
        "json" => out!("{}", serde_json::to_string(pids)?),
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
            let out = std::process::Command::new("ps").args(&args).output().context("running ps(1)")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let pid_col = header.split_whitespace().position(|h| h == "PID").context("ps output has no PID column")?;
            out!("{header}");
            for line in lines {
                let pid = line.split_whitespace().nth(pid_col).and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    out!("{line}");
                }
            }
        }
        other => anyhow::bail!("--format {other:?}: use table or json"),
    }
    Ok(())
}
