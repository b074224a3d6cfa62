//! OCI lifecycle hooks: the programs `config.json` asks the runtime to run at
//! fixed points of a container's life (runtime-spec config.md, "POSIX-platform
//! Hooks", and runtime.md, "Lifecycle").
//!
//! Each hook is a plain program: `path` is executed with `args` as its argv
//! (argv\[0\] included) and *exactly* `env` as its environment, and it reads the
//! container's state JSON (`glassbox state` output) on stdin; that is how a
//! network plugin learns the container's pid to find its namespaces. A hook
//! that exits non-zero or outlives its `timeout` fails the lifecycle step that
//! ran it. As runc does, its stdout and stderr are captured, so a failure can
//! say what the hook said. The points (`kind`) are named as in config.json:
//! `createRuntime`, `createContainer`, `startContainer`, `prestart`
//! (deprecated), `poststart`, `poststop`.
//!
//! A failure stops the hooks after it and fails the lifecycle step — for
//! every kind but `poststop`: the container is gone by then, so each
//! poststop hook runs whatever the others did, and a failure is a warning
//! ([`run_hooks_to_the_end`]). A failing `poststart` hook fails `start`,
//! which then stops the container (runtime-spec 1.3).
//!
//! Deciding is split from doing: [`plan_hook`] checks one hook and turns it
//! into a [`HookPlan`] (pure, unit-tested); [`supervise`] runs a plan:
//! spawn, feed stdin, capture output, enforce the timeout (man7 poll(2),
//! pidfd_open(2), kill(2)).

mod supervise;
pub(crate) use supervise::pidfd_open;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use oci_spec::runtime::Hook;

pub use supervise::{supervise, End, Finished, CAPTURE_LIMIT};

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{hook}.path {path:?} is not absolute: the runtime spec requires a full path, starting with /")]
    NotAbsolute { hook: String, path: PathBuf },
    #[error("{hook}.env entry {entry:?} is not KEY=VALUE: each environment entry needs an '='")]
    BadEnv { hook: String, entry: String },
    #[error("{hook}.timeout is {timeout}: it must be a whole number of seconds greater than zero")]
    BadTimeout { hook: String, timeout: i64 },
    #[error("{hook} ({path}) does not exist: check it where this kind of hook runs (createContainer and startContainer: inside the container; the others: on the host)")]
    NotFound { hook: String, path: PathBuf },
    #[error("{hook} ({path}) could not be started: {source}; check it is an executable file")]
    Spawn { hook: String, path: PathBuf, source: io::Error },
    #[error("{hook} ({path}) could not be supervised: {source}")]
    Supervise { hook: String, path: PathBuf, source: io::Error },
    #[error("{hook} ({path}) timed out after {secs}s and was killed with SIGKILL: raise its timeout or make it faster{output}")]
    TimedOut { hook: String, path: PathBuf, secs: u64, output: OutputHead },
    #[error("{hook} ({path}) exited with code {code}{output}")]
    Failed { hook: String, path: PathBuf, code: i32, output: OutputHead },
    #[error("{hook} ({path}) was killed by {signal}{output}")]
    Killed { hook: String, path: PathBuf, signal: String, output: OutputHead },
}

/// One hook, checked and ready to run: what [`supervise`] executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookPlan {
    /// `hooks.<kind>[<index>]`, the hook's address in config.json, for errors and events.
    pub name: String,
    pub program: PathBuf,
    /// What the hook sees as argv\[0\]: `args[0]`, or `path` when `args` is empty.
    pub argv0: String,
    /// argv\[1..\].
    pub args: Vec<String>,
    /// The whole environment: nothing of the runtime's own leaks in.
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
}

/// What one hook did, for the caller to turn into an event.
#[derive(Debug, Clone)]
pub struct HookOutcome {
    pub index: usize,
    pub path: PathBuf,
    pub exit_code: i32,
    pub duration: Duration,
    /// The start of what the hook printed (at most [`CAPTURE_LIMIT`] bytes each).
    pub stdout: String,
    pub stderr: String,
}

/// The first lines a failed hook printed, shown after an error message
/// (stderr, or stdout when stderr is empty).
#[derive(Debug, Clone, Default)]
pub struct OutputHead(pub String);

impl std::fmt::Display for OutputHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "; it printed: {}", self.0)
        }
    }
}

impl OutputHead {
    /// Up to three non-empty lines, joined with " | " so an error stays one line.
    pub fn from_output(stdout: &str, stderr: &str) -> Self {
        let source = if stderr.trim().is_empty() { stdout } else { stderr };
        let lines: Vec<&str> = source.lines().map(str::trim).filter(|l| !l.is_empty()).take(3).collect();
        OutputHead(lines.join(" | "))
    }
}

/// Check one hook and decide exactly how it will be executed.
pub fn plan_hook(kind: &str, index: usize, hook: &Hook) -> Result<HookPlan, HookError> {
    let name = format!("hooks.{kind}[{index}]");
    let program = hook.path().clone();
    if !program.is_absolute() {
        return Err(HookError::NotAbsolute { hook: name, path: program });
    }
    let mut args = hook.args().clone().unwrap_or_default();
    let argv0 = if args.is_empty() { program.to_string_lossy().into_owned() } else { args.remove(0) };
    let env = hook
        .env()
        .iter()
        .flatten()
        .map(|entry| match entry.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(HookError::BadEnv { hook: name.clone(), entry: entry.clone() }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let timeout = match hook.timeout() {
        None => None,
        Some(secs) if secs > 0 => Some(Duration::from_secs(secs as u64)),
        Some(timeout) => return Err(HookError::BadTimeout { hook: name, timeout }),
    };
    Ok(HookPlan { name, program, argv0, args, env, timeout })
}

/// Run each hook of one lifecycle point (`kind` is its config.json name,
/// e.g. "createRuntime") in order, with the container state JSON on stdin.
/// The first failure stops the rest, as the runtime spec asks.
pub fn run_hooks(kind: &str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    run_hooks_reporting(kind, hooks, state_json, |_| {}).map(drop)
}

/// Run every hook of one lifecycle point, each whatever the others did
/// (poststop: runtime-spec says the rest continue); returns the failures,
/// in order, for the caller to warn about.
pub fn run_hooks_to_the_end(kind: &str, hooks: &[Hook], state_json: &[u8]) -> Vec<HookError> {
    let mut failures = Vec::new();
    for (index, hook) in hooks.iter().enumerate() {
        let result = run_hook(kind, index, hook, state_json);
        record(kind, hook, &result);
        failures.extend(result.err());
    }
    failures
}

/// [`run_hooks`], calling `on_done` after each hook that succeeded and
/// returning all their outcomes. Each hook, failed or not, is a `hook` step
/// of the stage running (see `crate::recorder::step`).
pub fn run_hooks_reporting(
    kind: &str,
    hooks: &[Hook],
    state_json: &[u8],
    mut on_done: impl FnMut(&HookOutcome),
) -> Result<Vec<HookOutcome>, HookError> {
    let mut outcomes = Vec::with_capacity(hooks.len());
    for (index, hook) in hooks.iter().enumerate() {
        let result = run_hook(kind, index, hook, state_json);
        record(kind, hook, &result);
        let outcome = result?;
        on_done(&outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// One `hook` step of the stage running: which hook, how it ended.
fn record(kind: &str, hook: &Hook, result: &Result<HookOutcome, HookError>) {
    let exit_code = match result {
        Ok(done) => Some(done.exit_code),
        Err(HookError::Failed { code, .. }) => Some(*code),
        Err(_) => None,
    };
    crate::recorder::step("hook", |a| {
        a.strs("args", hook.args().iter().flatten());
        match exit_code {
            Some(code) => a.int("exit_code", code.into()),
            None => a.null("exit_code"),
        };
        a.str("hook", kind).path("path", hook.path()).result("result", result);
    });
}

/// Plan and run one hook; an exit code other than 0 is an error.
pub fn run_hook(kind: &str, index: usize, hook: &Hook, state_json: &[u8]) -> Result<HookOutcome, HookError> {
    let plan = plan_hook(kind, index, hook)?;
    // A hook may take long: the record (and the hub) has every line up to it first.
    crate::recorder::flush_before_waiting();
    let done = supervise(&plan, state_json)?;
    let output = OutputHead::from_output(&done.stdout, &done.stderr);
    let (hook, path) = (plan.name, plan.program);
    match done.end {
        End::Exited(0) => Ok(HookOutcome {
            index,
            path,
            exit_code: 0,
            duration: done.duration,
            stdout: done.stdout,
            stderr: done.stderr,
        }),
        End::Exited(code) => Err(HookError::Failed { hook, path, code, output }),
        End::Signaled(signal) => Err(HookError::Killed { hook, path, signal, output }),
        End::TimedOut(after) => Err(HookError::TimedOut { hook, path, secs: after.as_secs(), output }),
    }
}

#[cfg(test)]
mod tests;
