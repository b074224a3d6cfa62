//! containerd with its CRI plugin, started by a test and stopped by its
//! Drop, with glassbox as the runtime of the RuntimeClass handler
//! `glassbox` (`runtime_type = "io.containerd.runc.v2"`, `BinaryName` = the
//! binary under test) — what a Kubernetes node runs, minus the kubelet.
//!
//! Everything it makes lives under one temp dir: containerd's root, state
//! and socket, glassbox's `--root` (the shim passes `<Root>/k8s.io`), the
//! containers' logs; the pods' cgroups go under a parent of their own
//! (`/<unique id>` in every hierarchy). So the machine's containerd, if any,
//! is never touched, and what is left after a test is easy to find:
//! [`ContainerdCri::leftovers`]. The pods use the host's network, so no CNI
//! plugin or config is read (its config directory is an empty one of ours).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use glassbox_cri::{Cri, CriError};
use tempfile::TempDir;

use crate::clean::{detach_mounts_under, mounts_under, wait_until};
use crate::output::assert_ok;

/// The RuntimeClass handler that names glassbox in containerd's config.
pub const HANDLER: &str = "glassbox";
/// The busybox image the tests import; also the pods' sandbox ("pause")
/// image, whose default command sleeps.
pub const IMAGE: &str = "localhost/glassbox-busybox:cri";
/// containerd loads its plugins before it answers; seconds on a loaded machine.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// Each CRI call's deadline (a stop's grace period comes on top).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ContainerdCri {
    dir: Option<TempDir>,
    daemon: Option<Child>,
    /// cgroupfs parent of every pod's cgroups, e.g. `/glassbox-cri-1234-0`.
    cgroup_parent: String,
}

impl ContainerdCri {
    /// Starts containerd with `glassbox` as the `glassbox` handler's runtime
    /// and waits (at most 30 s) until its CRI answers `Version`.
    pub fn start(glassbox: &Path) -> ContainerdCri {
        crate::require_root();
        for tool in ["containerd", "ctr", "containerd-shim-runc-v2"] {
            let found =
                std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()));
            assert!(found, "{tool} is not installed: run scripts/setup.sh (it installs containerd)");
        }
        let dir = tempfile::Builder::new().prefix("glassbox-cri-").tempdir().expect("making containerd's temp dir");
        let cgroup_parent = format!("/{}", crate::unique_id("glassbox-cri"));
        let d = dir.path();
        std::fs::create_dir(d.join("cni")).unwrap();
        std::fs::write(d.join("config.toml"), config(d, glassbox)).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let mut command = Command::new("containerd");
        command
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // Should the test binary itself be killed, before any Drop can run,
        // containerd goes with it (the thread that spawned it, strictly).
        // SAFETY: prctl(2) is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| match libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
        let daemon = command.spawn().expect("starting containerd");
        // From here on Drop stops it, whatever fails.
        let mut me = ContainerdCri { dir: Some(dir), daemon: Some(daemon), cgroup_parent };
        me.wait_ready();
        me
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = self.daemon.as_mut().expect("daemon").try_wait() {
                panic!("containerd exited ({status}) before it was ready:\n{}", self.log_tail(30));
            }
            if self.socket().exists() {
                match Cri::connect(&self.socket(), Duration::from_secs(2)).and_then(|mut cri| cri.version()) {
                    Ok(_) => return,
                    Err(CriError::Unimplemented { .. }) => {
                        panic!("containerd runs without its CRI plugin:\n{}", self.log_lines_with("grpc.v1.cri"))
                    }
                    Err(_) => {}
                }
            }
            assert!(
                Instant::now() < deadline,
                "containerd's CRI did not answer within {READY_WITHIN:?}:\n{}",
                self.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.as_ref().expect("temp dir").path().join(name)
    }

    pub fn socket(&self) -> PathBuf {
        self.path("containerd.sock")
    }

    /// glassbox's `--root` as the shim passes it: the handler's `Root`
    /// option and containerd's namespace (the CRI's is `k8s.io`).
    pub fn runtime_root(&self) -> PathBuf {
        self.path("runtime-root/k8s.io")
    }

    /// The pods' log directory (containerd writes `<name>.log` there).
    pub fn log_dir(&self) -> PathBuf {
        self.path("logs")
    }

    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// A CRI client on this containerd's socket.
    pub fn connect(&self) -> Cri {
        Cri::connect(&self.socket(), CALL_TIMEOUT).unwrap_or_else(|e| panic!("{e}\n{}", self.log_tail(20)))
    }

    /// Builds the busybox image and imports it where the CRI looks
    /// (containerd namespace `k8s.io`), as `ctr images import` does.
    pub fn import_busybox(&self) {
        let archive = crate::oci_image::busybox_image_archive(&self.path(""), IMAGE, &["sleep", "2147483647"]);
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.socket())
            .args(["--namespace", "k8s.io", "images", "import"])
            .arg(&archive)
            .output()
            .expect("running ctr images import");
        assert_ok(&out);
    }

    /// containerd's errors and warnings since it booted (the shims' too:
    /// their stderr goes to containerd's log), the last `n`, for a failure
    /// message.
    pub fn log_tail(&self, n: usize) -> String {
        let path = self.path("containerd.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let since_boot = text.split_once("containerd successfully booted").map_or(text.as_str(), |(_, after)| after);
        let problems: Vec<&str> =
            since_boot.lines().filter(|l| l.contains("level=error") || l.contains("level=warning")).collect();
        let last = &problems[problems.len().saturating_sub(n)..];
        format!("--- errors and warnings in {} (last {n}) ---\n{}", path.display(), last.join("\n"))
    }

    fn log_lines_with(&self, needle: &str) -> String {
        let text = std::fs::read_to_string(self.path("containerd.log")).unwrap_or_default();
        text.lines().filter(|l| l.contains(needle)).collect::<Vec<_>>().join("\n")
    }

    /// The pods' cgroup parent in every hierarchy where it exists.
    fn cgroup_parents(&self) -> Vec<PathBuf> {
        let relative = self.cgroup_parent.trim_start_matches('/');
        std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|h| h.path().join(relative))
            .filter(|p| p.is_dir())
            .collect()
    }

    /// Processes in any cgroup under the pods' parent: the containers'.
    fn container_processes(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for parent in self.cgroup_parents() {
            collect_procs(&parent, &mut pids);
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Processes other than containerd whose command line names our temp
    /// dir: the shims (`-address <dir>/containerd.sock`) and any glassbox
    /// they run (`--root <dir>/runtime-root/k8s.io`).
    fn our_other_processes(&self) -> Vec<i32> {
        let Some(dir) = &self.dir else { return vec![] };
        let needle = dir.path().as_os_str().as_bytes();
        let daemon = self.daemon.as_ref().map(|d| d.id() as i32);
        let mut found = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if Some(pid) != daemon && cmdline.windows(needle.len()).any(|w| w == needle) {
                found.push(pid);
            }
        }
        found
    }

    /// What glassbox or containerd left: glassbox's state directories (its
    /// kept records under `.events/` are meant to stay), cgroups and
    /// processes under the pods' parent, mounts under the temp dir, shims.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for e in std::fs::read_dir(self.runtime_root()).into_iter().flatten().flatten() {
            if e.file_name() != ".events" {
                left.push(format!("glassbox state dir {} still exists", e.path().display()));
            }
        }
        for parent in self.cgroup_parents() {
            for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    left.push(format!("cgroup {} still exists", e.path().display()));
                }
            }
        }
        for pid in self.container_processes() {
            left.push(format!("process {pid} still runs in {}", self.cgroup_parent));
        }
        for m in mounts_under(&self.path("")) {
            left.push(format!("mount {} is still there", m.display()));
        }
        for pid in self.our_other_processes() {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            left.push(format!("process {pid} still runs: {}", String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
        left
    }

    /// Panics listing what is left, after giving the shim up to 10 s to exit.
    #[track_caller]
    pub fn assert_clean(&self) {
        if !wait_until(Duration::from_secs(10), || self.leftovers().is_empty()) {
            panic!(
                "left behind after the pod was removed:\n  {}\n{}",
                self.leftovers().join("\n  "),
                self.log_tail(20)
            );
        }
    }
}

impl Drop for ContainerdCri {
    /// Stops everything this test started, in an order that leaves nothing:
    /// the containers' processes, containerd, the shims (they outlive the
    /// daemon by design), then the mounts, cgroups and the temp dir.
    fn drop(&mut self) {
        kill_all(&self.container_processes());
        if let Some(mut daemon) = self.daemon.take() {
            // SAFETY: kill(2) of the child we spawned and have not reaped.
            unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
            if !wait_until(Duration::from_secs(5), || matches!(daemon.try_wait(), Ok(Some(_)))) {
                let _ = daemon.kill();
            }
            let _ = daemon.wait();
        }
        // A shim killed by a signal leaves its socket behind in
        // /run/containerd/s/; its path is in the task's `address` file.
        let shim_sockets = self.shim_sockets();
        kill_all(&self.our_other_processes());
        let _ = wait_until(Duration::from_secs(5), || self.our_other_processes().is_empty());
        for socket in shim_sockets {
            let _ = std::fs::remove_file(socket);
        }
        kill_all(&self.container_processes());
        let _ = wait_until(Duration::from_secs(5), || self.container_processes().is_empty());
        for parent in self.cgroup_parents() {
            remove_cgroup_tree(&parent);
        }
        let Some(dir) = self.dir.take() else { return };
        detach_mounts_under(dir.path());
        if mounts_under(dir.path()).is_empty() {
            drop(dir);
        } else {
            eprintln!("leaving {} in place: still mounted under it", dir.path().display());
            let _ = dir.keep();
        }
    }
}

impl ContainerdCri {
    /// The shims' sockets still on disk (`unix:///run/containerd/s/<hash>`).
    fn shim_sockets(&self) -> Vec<PathBuf> {
        let tasks = self.path("state/io.containerd.runtime.v2.task/k8s.io");
        std::fs::read_dir(tasks)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("address")).ok())
            .filter_map(|a| a.trim().strip_prefix("unix://").map(PathBuf::from))
            .filter(|p| p.exists())
            .collect()
    }
}

/// containerd's config: paths under `dir`, the CRI's `glassbox` handler,
/// the settings this machine needs (see ENVIRONMENT: no AppArmor, and no
/// CAP_SYS_RESOURCE to lower oom_score_adj).
fn config(dir: &Path, glassbox: &Path) -> String {
    let d = dir.display();
    let cri = r#"plugins."io.containerd.grpc.v1.cri""#;
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[{cri}]
  disable_apparmor = true
  restrict_oom_score_adj = true
  sandbox_image = "{IMAGE}"
  [{cri}.cni]
    conf_dir = "{d}/cni"
  [{cri}.containerd]
    default_runtime_name = "{HANDLER}"
    [{cri}.containerd.runtimes.{HANDLER}]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.{HANDLER}.options]
        BinaryName = "{glassbox}"
        Root = "{d}/runtime-root"
"#,
        glassbox = glassbox.display()
    )
}

fn collect_procs(cgroup: &Path, pids: &mut Vec<i32>) {
    let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
    pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for e in std::fs::read_dir(cgroup).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            collect_procs(&e.path(), pids);
        }
    }
}

fn kill_all(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: kill(2) of a process this test's containerd started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// rmdir(2) of a cgroup and everything below it, deepest first.
fn remove_cgroup_tree(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            remove_cgroup_tree(&e.path());
        }
    }
    let _ = wait_until(Duration::from_secs(2), || std::fs::remove_dir(dir).is_ok() || !dir.exists());
}
