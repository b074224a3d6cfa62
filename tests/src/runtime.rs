//! One `glassbox` per test: a private `--root` state directory, unique
//! container ids, every command bounded in time, and a Drop guard that runs
//! `delete --force` for every id the test was handed.
//!
//! Commands write their stdout/stderr to files, not pipes: a container made
//! by `create` or `run -d` inherits the runtime's stdio and outlives it, and
//! a pipe it holds open would make the test wait for the container to exit.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::binary::{glassbox_bin, require_root, unique_id};
use crate::bundle::Bundle;
use crate::output::{assert_ok, stdout};
use crate::rootless::TestUser;

/// Longer than any test should take; past it the command is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Runtime {
    root: TempDir,
    io: TempDir,
    bin: PathBuf,
    ids: Mutex<Vec<String>>,
    seq: AtomicUsize,
    /// Rootless: every command runs as this user (rootless.rs).
    user: Option<TestUser>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    pub fn new() -> Runtime {
        Runtime::with_binary(glassbox_bin())
    }

    /// A runtime that runs `bin` (a copy of the binary, for the tests that
    /// attack the binary itself).
    pub fn with_binary(bin: PathBuf) -> Runtime {
        require_root();
        let root = tempfile::Builder::new().prefix("glassbox-e2e-root-").tempdir().unwrap();
        let io = tempfile::Builder::new().prefix("glassbox-e2e-io-").tempdir().unwrap();
        Runtime { root, io, bin, ids: Mutex::new(Vec::new()), seq: AtomicUsize::new(0), user: None }
    }

    /// A runtime whose every command runs as the unprivileged test user
    /// (rootless.rs), with a `--root` and scratch directory of that user's.
    pub fn rootless() -> Runtime {
        let user = crate::rootless::test_user().clone();
        let bin = crate::rootless::binary_for_user(&glassbox_bin());
        let root = user.temp_dir("glassbox-e2e-root-");
        let io = user.temp_dir("glassbox-e2e-io-");
        Runtime { root, io, bin, ids: Mutex::new(Vec::new()), seq: AtomicUsize::new(0), user: Some(user) }
    }

    /// The user the commands run as, for a rootless runtime.
    pub fn user(&self) -> Option<&TestUser> {
        self.user.as_ref()
    }

    /// The binary, as this runtime's user runs it, without arguments.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        if let Some(user) = &self.user {
            user.apply(&mut c);
        }
        c
    }

    /// The `--root` this runtime passes.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A scratch directory owned by this runtime (removed at drop).
    pub fn scratch(&self) -> &Path {
        self.io.path()
    }

    /// A fresh container id, remembered so Drop can force-delete it.
    pub fn id(&self, name: &str) -> String {
        let id = unique_id(name);
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// `glassbox --root R <args>`; waits at most COMMAND_TIMEOUT.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_os(args.iter().map(OsStr::new))
    }

    pub fn cmd_os<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.command();
        c.arg("--root").arg(self.root()).args(args);
        self.output_of(c, Stdio::null())
    }

    /// `glassbox --root R <args>` with `env` added to its environment
    /// (`GLASSBOX_FAULT`, see tests/tests/faults.rs).
    pub fn cmd_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut c = self.command();
        c.envs(env.iter().copied()).arg("--root").arg(self.root()).args(args);
        self.output_of(c, Stdio::null())
    }

    /// Runs `c` with stdout/stderr in files; `stdin` as given.
    pub fn output_of(&self, mut c: Command, stdin: Stdio) -> Output {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let out_path = self.io.path().join(format!("{n}.out"));
        let err_path = self.io.path().join(format!("{n}.err"));
        let out = std::fs::File::create(&out_path).unwrap();
        let err = std::fs::File::create(&err_path).unwrap();
        c.stdin(stdin).stdout(out).stderr(err);
        let mut child = c.spawn().unwrap_or_else(|e| panic!("spawning {c:?}: {e}"));
        let status = wait_bounded(&mut child, COMMAND_TIMEOUT)
            .unwrap_or_else(|| panic!("{c:?} did not finish within {COMMAND_TIMEOUT:?}; killed"));
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    }

    /// `run ID --bundle B`: create, start, wait, delete.
    pub fn run(&self, id: &str, bundle: &Bundle) -> Output {
        self.cmd_os([OsStr::new("run"), OsStr::new(id), OsStr::new("--bundle"), bundle.path().as_os_str()])
    }

    /// `run -d ID --bundle B`.
    pub fn run_detached(&self, id: &str, bundle: &Bundle) -> Output {
        self.cmd_os([
            OsStr::new("run"),
            OsStr::new("-d"),
            OsStr::new(id),
            OsStr::new("--bundle"),
            bundle.path().as_os_str(),
        ])
    }

    /// `create ID --bundle B [extra...]`.
    pub fn create_with(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> Output {
        let mut args: Vec<&OsStr> =
            vec![OsStr::new("create"), OsStr::new(id), OsStr::new("--bundle"), bundle.path().as_os_str()];
        args.extend(extra.iter().map(OsStr::new));
        self.cmd_os(args)
    }

    pub fn create(&self, id: &str, bundle: &Bundle) -> Output {
        self.create_with(id, bundle, &[])
    }

    pub fn start(&self, id: &str) -> Output {
        self.cmd(&["start", id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.cmd(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.cmd(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.cmd(&["delete", "--force", id])
    }

    /// `exec ID ARGS...`.
    pub fn exec(&self, id: &str, args: &[&str]) -> Output {
        let mut all = vec!["exec", id];
        all.extend_from_slice(args);
        self.cmd(&all)
    }

    /// `state ID`, parsed; panics if the command fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let out = self.cmd(&["state", id]);
        assert_ok(&out);
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("state {id} is not JSON ({e}): {}", stdout(&out)))
    }

    /// The `status` field of `state ID`, or None if `state` fails.
    pub fn status(&self, id: &str) -> Option<String> {
        let out = self.cmd(&["state", id]);
        if !out.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["status"].as_str().map(String::from)
    }

    /// Polls `state` until the status is `want`.
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) {
        let mut last = None;
        let ok = crate::clean::wait_until(Duration::from_secs(5), || {
            last = self.status(id);
            last.as_deref() == Some(want)
        });
        assert!(ok, "container {id} never reached status {want:?}; last seen {last:?}");
    }

    /// The init pid from `state ID`.
    #[track_caller]
    pub fn pid(&self, id: &str) -> i32 {
        let s = self.state(id);
        s["pid"].as_i64().unwrap_or_else(|| panic!("state of {id} has no pid: {s}")) as i32
    }

    /// The pids `ps --format json ID` finds in the container's cgroup.
    #[track_caller]
    pub fn pids(&self, id: &str) -> Vec<i32> {
        let out = self.cmd(&["ps", "--format", "json", id]);
        crate::assert_ok(&out);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("ps --format json {id} is not a list of pids ({e}): {}", crate::stdout(&out)))
    }

    /// A created-and-started container running `bundle`'s process.
    #[track_caller]
    pub fn start_container(&self, id: &str, bundle: &Bundle) {
        assert_ok(&self.create(id, bundle));
        assert_ok(&self.start(id));
        self.wait_status(id, "running");
    }

    /// create + start of a process that may already have exited by the time
    /// we look (so no wait for "running").
    #[track_caller]
    pub fn start_container_or_stopped(&self, id: &str, bundle: &Bundle) {
        assert_ok(&self.create(id, bundle));
        assert_ok(&self.start(id));
    }

    /// Nothing left of `id`: state dir, cgroups, processes, host mounts
    /// under the bundle.
    #[track_caller]
    pub fn assert_clean(&self, id: &str, bundle: &Bundle) {
        crate::clean::assert_clean(self.root(), id, Some(bundle.path()));
    }

    /// Like assert_clean, for a container that had no bundle of its own.
    #[track_caller]
    pub fn assert_clean_id(&self, id: &str) {
        crate::clean::assert_clean(self.root(), id, None);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap());
        for id in ids {
            if self.root().join(&id).exists() {
                let mut c = self.command();
                c.arg("--root").arg(self.root()).args(["delete", "--force", &id]);
                c.stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null());
                if let Ok(mut child) = c.spawn() {
                    if wait_bounded(&mut child, Duration::from_secs(10)).is_none() {
                        eprintln!("delete --force {id} hung; killed it");
                    }
                }
            }
            crate::clean::force_remove_cgroups(&id);
        }
    }
}

/// waitpid with a deadline: Some(status), or None after killing the child.
pub fn wait_bounded(child: &mut std::process::Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The shape most tests share: run `args` in a fresh busybox container whose
/// config.json `edit` changes, require success and that nothing is left
/// behind, and return what the container printed.
pub fn run_in_container(name: &str, args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let bundle = Bundle::busybox(args);
    bundle.config_mut(edit);
    let rt = Runtime::new();
    let id = rt.id(name);
    let out = rt.run(&id, &bundle);
    crate::assert_ok(&out);
    rt.assert_clean(&id, &bundle);
    crate::stdout(&out)
}
