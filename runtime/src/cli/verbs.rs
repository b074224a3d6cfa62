//! One function per verb, each the few calls that verb makes on a
//! `Container`, and how its answer is printed. `dispatch_verb` (mod.rs)
//! picks the function; the work is in container/.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::args::{self, ExecCmd, UpdateCmd};
use super::{follow, narrator, requests, spec};
use crate::container::{Container, CreateOptions, ExecOptions, RunOptions};
use crate::log;
use crate::paths::Paths;
use crate::signals::parse_signal;

pub fn create(paths: &Paths, opts: CreateOptions) -> Result<i32> {
    Container::create(paths, &opts)?;
    Ok(0)
}

pub fn start(paths: &Paths, id: &str, explain: &args::ExplainArgs) -> Result<i32> {
    let mut c = Container::load(paths, id)?;
    let from = crate::recorder::events_written(&c.dir.path);
    c.start()?;
    if explain.explain.is_some() || explain.step {
        narrate_after_start(&c, from, explain);
    }
    Ok(0)
}

/// create + start + wait + delete: exits with the container's status.
pub fn run(paths: &Paths, create: CreateOptions, detach: bool) -> Result<i32> {
    Ok(Container::run(paths, RunOptions { create, detach })?)
}

pub fn state(paths: &Paths, id: &str) -> Result<i32> {
    let c = Container::load(paths, id)?;
    out!("{}", serde_json::to_string_pretty(&c.state.to_oci_json(c.status()))?);
    Ok(0)
}

pub fn kill(paths: &Paths, id: &str, signal: &str, all: bool) -> Result<i32> {
    let signal = parse_signal(signal)?;
    Container::load(paths, id)?.kill(signal, all)?;
    Ok(0)
}

pub fn delete(paths: &Paths, id: &str, force: bool) -> Result<i32> {
    Container::delete_by_id(paths, id, force)?;
    Ok(0)
}

pub fn list(paths: &Paths, format: &str, quiet: bool) -> Result<i32> {
    let entries = Container::list(paths)?;
    print_list(&entries, format, quiet)?;
    Ok(0)
}

pub fn ps(paths: &Paths, id: &str, format: &str, ps_args: &[String]) -> Result<i32> {
    let c = Container::load(paths, id)?;
    print_ps(&c.pids()?, format, ps_args)?;
    Ok(0)
}

pub fn pause(paths: &Paths, id: &str) -> Result<i32> {
    Container::load(paths, id)?.pause()?;
    Ok(0)
}

pub fn resume(paths: &Paths, id: &str) -> Result<i32> {
    Container::load(paths, id)?.resume()?;
    Ok(0)
}

/// `events --follow`: the container's record as it grows.
pub fn follow_events(paths: &Paths, id: &str, json: bool) -> Result<i32> {
    follow::follow(paths, id, json, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// `events [--stats]`: the cgroup's statistics and OOM kills, as runc prints them.
pub fn events(paths: &Paths, id: &str, stats: bool, interval: Duration) -> Result<i32> {
    let mut c = Container::load(paths, id)?;
    c.dir.unlock();
    c.events(interval, stats, &mut std::io::stdout().lock())?;
    Ok(0)
}

pub fn update(paths: &Paths, a: &UpdateCmd) -> Result<i32> {
    let c = Container::load(paths, &a.id)?;
    let resources = requests::update_resources(a)?;
    for done in c.update(&resources)? {
        log::debug(&format!("cgroup: {done}"));
    }
    Ok(0)
}

pub fn exec(paths: &Paths, a: &ExecCmd) -> Result<i32> {
    let c = Container::load(paths, &a.id)?;
    let process = requests::exec_process(&c, a)?;
    let opts = ExecOptions {
        process,
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
    };
    Ok(c.exec(opts)?)
}

/// `spec`: a default config.json, never over an existing one.
pub fn spec(bundle: Option<PathBuf>, rootless: bool) -> Result<i32> {
    let path = bundle.unwrap_or_else(|| PathBuf::from(".")).join("config.json");
    if path.exists() {
        anyhow::bail!("{}: file already exists; remove it first", path.display());
    }
    // The JSON form keeps capabilities in a stable order (oci-spec holds them in a set).
    let text = serde_json::to_string_pretty(&spec::default_spec_json(rootless))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(0)
}

/// `dashboard`: the hub is a program of its own, so that this binary —
/// started once per container verb — carries no HTTP server. execve(2)
/// replaces glassbox with it: same pid, same terminal, its exit status.
pub fn dashboard(args: &[String]) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    const NAME: &str = "glassbox-dashboard";
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join(NAME))).filter(|p| p.exists());
    let program = beside.unwrap_or_else(|| PathBuf::from(NAME));
    let err = std::process::Command::new(&program).args(args).exec();
    anyhow::bail!("{}: {err} (build it with `cargo build -p glassbox-dashboard`, or put it on PATH)", program.display())
}

pub fn features() -> Result<i32> {
    out!("{}", serde_json::to_string_pretty(&super::features::features_json())?);
    Ok(0)
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
