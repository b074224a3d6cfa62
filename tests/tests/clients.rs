//! Real clients driving glassbox in place of runc: podman (through
//! conmon) and containerd (through its runc shim, with `ctr`). They call the
//! runtime with their own flags (`--root`, `--log-format json`,
//! `--console-socket`, `--pid-file`, `kill --all`, `delete --force` …), so
//! these tests catch any place where glassbox is not runc-compatible.
//!
//! Each test uses its own storage and state directories under a temp dir, so
//! the machine's podman and containerd state is never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use glassbox_e2e::{glassbox_bin, require_root, unique_id, Bundle};

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn need(tool: &str) {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists())).unwrap_or(false);
    assert!(found, "{tool} is not installed: run scripts/setup.sh (it installs podman and containerd)");
}

/// podman with a private storage root, state root and runtime.
struct Podman {
    dir: tempfile::TempDir,
    /// podman makes `libpod_parent/` (and conmon's cgroup in it) in every
    /// hierarchy; if this test made it, this test removes it.
    made_libpod_parent: bool,
    /// The event records glassbox kept (podman uses the default --root)
    /// before this test: the ones it adds are this test's to remove.
    records_before: Vec<PathBuf>,
    had_records_dir: bool,
    /// The podman tests of this file take turns: what each one cleans up
    /// (libpod_parent, the kept records it did not see before) is told
    /// apart from another's only by time. Released after Drop's cleanup.
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static PODMAN_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

const KEPT_RECORDS: &str = "/run/glassbox/.events";

fn kept_records() -> Vec<PathBuf> {
    std::fs::read_dir(KEPT_RECORDS).into_iter().flatten().flatten().map(|e| e.path()).collect()
}

impl Podman {
    fn new() -> Podman {
        need("podman");
        let turn = PODMAN_TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let made_libpod_parent = !Path::new("/sys/fs/cgroup/pids/libpod_parent").exists();
        Podman {
            dir: tempfile::tempdir().unwrap(),
            made_libpod_parent,
            records_before: kept_records(),
            had_records_dir: Path::new(KEPT_RECORDS).exists(),
            _one_at_a_time: turn,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.path().join("storage"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .arg("--tmpdir")
            .arg(self.dir.path().join("tmp"))
            .arg("--storage-driver")
            .arg("vfs")
            .arg("--runtime")
            .arg(glassbox_bin())
            .arg("--cgroup-manager")
            .arg("cgroupfs")
            .arg("--events-backend")
            .arg("none");
        c
    }

    /// Import the busybox rootfs as an image; returns its name.
    fn import_busybox(&self) -> String {
        let bundle = Bundle::busybox(&["true"]);
        let tar = self.dir.path().join("busybox.tar");
        ok(Command::new("tar").arg("-C").arg(bundle.rootfs()).arg("-cf").arg(&tar).arg("."));
        ok(self.cmd().arg("import").arg(&tar).arg("localhost/glassbox-busybox:test"));
        "localhost/glassbox-busybox:test".into()
    }

    /// The flags this VM needs (see ENVIRONMENT: no CAP_SYS_RESOURCE, so
    /// podman's default 1048576 rlimits would be refused).
    fn run_args(&self) -> Vec<&'static str> {
        vec!["--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "--all", "--force", "--time", "0"]).output();
        for record in kept_records() {
            if !self.records_before.contains(&record) {
                let _ = std::fs::remove_file(record);
            }
        }
        if !self.had_records_dir {
            let _ = std::fs::remove_dir(KEPT_RECORDS);
        }
        if self.made_libpod_parent {
            for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
                let parent = hierarchy.path().join("libpod_parent");
                let _ = std::fs::remove_dir(parent.join("conmon"));
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// The containers' cgroups podman asked for (`libpod-<id>`), which glassbox
/// must remove at `delete`.
fn libpod_cgroups() -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup/pids/libpod_parent")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libpod-")))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn podman_runs_execs_stops_and_removes_a_container() {
    require_root();
    let podman = Podman::new();
    let image = podman.import_busybox();
    let before = libpod_cgroups();

    let out = ok(podman.cmd().arg("run").arg("--rm").args(podman.run_args()).arg(&image).args([
        "sh",
        "-c",
        "echo answer $((6*7)); echo pid $$",
    ]));
    assert!(out.contains("answer 42"), "{out}");
    assert!(out.contains("pid 1"), "the container's process is pid 1 of its namespace: {out}");

    let code =
        run(podman.cmd().arg("run").arg("--rm").args(podman.run_args()).arg(&image).args(["sh", "-c", "exit 7"]));
    assert_eq!(
        code.status.code(),
        Some(7),
        "podman passes the container's exit code through; stderr: {}",
        String::from_utf8_lossy(&code.stderr)
    );

    ok(podman
        .cmd()
        .arg("run")
        .arg("-d")
        .arg("--name")
        .arg("gbtest")
        .args(podman.run_args())
        .arg(&image)
        .args(["sleep", "300"]));
    let exec = ok(podman.cmd().args(["exec", "gbtest", "sh", "-c", "echo from exec; cat /proc/1/cmdline"]));
    assert!(exec.contains("from exec") && exec.contains("sleep"), "{exec}");
    ok(podman.cmd().args(["pause", "gbtest"]));
    let state = ok(podman.cmd().args(["inspect", "--format", "{{.State.Status}}", "gbtest"]));
    assert_eq!(state.trim(), "paused");
    ok(podman.cmd().args(["unpause", "gbtest"]));
    ok(podman.cmd().args(["stop", "--time", "1", "gbtest"]));
    let id = ok(podman.cmd().args(["inspect", "--format", "{{.Id}}", "gbtest"]));
    ok(podman.cmd().args(["rm", "gbtest"]));
    assert_eq!(libpod_cgroups(), before, "podman's container cgroups are gone");
    // podman calls the runtime with its default --root.
    assert!(!Path::new("/run/glassbox").join(id.trim()).exists(), "glassbox's state for {id} is gone");
    let record = Path::new(KEPT_RECORDS).join(format!("{}.jsonl", id.trim()));
    assert!(record.exists(), "the events of a container podman ran are kept at {}", record.display());
}

/// A containerd daemon of our own, on a socket in a temp dir.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl Containerd {
    fn start() -> Containerd {
        need("containerd");
        need("ctr");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n[grpc]\n  address = \"{sock}\"\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_apparmor = true\n  restrict_oom_score_adj = true\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("containerd.sock").display()
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let me = Containerd { dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(20);
        while run(me.ctr().arg("version")).status.code() != Some(0) {
            assert!(
                Instant::now() < deadline,
                "containerd did not come up: see {}",
                me.path("containerd.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        me
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ctr(&self) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address").arg(self.path("containerd.sock")).arg("--namespace").arg("glassbox-test");
        c
    }

    /// An OCI image archive of the busybox rootfs, made with podman.
    fn import_busybox(&self) -> String {
        let podman = Podman::new();
        let image = podman.import_busybox();
        let archive = self.path("busybox-oci.tar");
        ok(podman.cmd().args(["save", "--format", "oci-archive", "-o"]).arg(&archive).arg(&image));
        ok(self.ctr().args(["images", "import", "--base-name", "localhost/glassbox-busybox"]).arg(&archive));
        image
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // A test that failed half-way leaves its tasks: end them while the daemon still answers.
        let listed = |what: &str| run(self.ctr().args([what, "ls", "-q"])).stdout;
        for task in String::from_utf8_lossy(&listed("task")).split_whitespace() {
            let _ = self.ctr().args(["task", "kill", "--all", "--signal", "SIGKILL", task]).output();
            let _ = self.ctr().args(["task", "rm", "--force", task]).output();
        }
        for container in String::from_utf8_lossy(&listed("containers")).split_whitespace() {
            let _ = self.ctr().args(["containers", "rm", container]).output();
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        // The shims outlive the daemon by design; they exit once their tasks are gone.
        // Everything mounted below the temp dir (task rootfs overlays, the
        // snapshotter's), deepest first: `umount -R root` missed a rootfs
        // under state/, which is no mount point itself.
        glassbox_e2e::clean::detach_mounts_under(self.dir.path());
        // ctr puts tasks in /<namespace>/<id>; the namespace's directory is
        // made on the way (mkdir -p) and is this test's to remove.
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(hierarchy.path().join("glassbox-test"));
        }
    }
}

#[test]
fn containerd_runs_a_task_through_the_runc_shim() {
    require_root();
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let bin = glassbox_bin();

    let out = ok(ctrd.ctr().arg("run").arg("--runc-binary").arg(&bin).arg("--rm").arg(&image).arg("once").args([
        "sh",
        "-c",
        "echo answer $((6*7))",
    ]));
    assert!(out.contains("answer 42"), "{out}");
    let failing = run(ctrd
        .ctr()
        .arg("run")
        .arg("--runc-binary")
        .arg(&bin)
        .arg("--rm")
        .arg(&image)
        .arg("fails")
        .args(["sh", "-c", "exit 5"]));
    assert_eq!(failing.status.code(), Some(5), "ctr passes the task's exit code through");

    ok(ctrd.ctr().arg("run").arg("--runc-binary").arg(&bin).arg("-d").arg(&image).arg("long").args(["sleep", "300"]));
    let exec = ok(ctrd.ctr().args(["task", "exec", "--exec-id", "e1", "long", "sh", "-c", "echo from exec"]));
    assert!(exec.contains("from exec"), "{exec}");
    let ps = ok(ctrd.ctr().args(["task", "ps", "long"]));
    assert!(ps.lines().count() >= 2, "task ps lists the init: {ps}");
    ok(ctrd.ctr().args(["task", "kill", "--signal", "SIGKILL", "long"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok(ctrd.ctr().args(["task", "ls"])).contains("STOPPED") {
        assert!(Instant::now() < deadline, "the task did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    ok(ctrd.ctr().args(["task", "rm", "long"]));
    ok(ctrd.ctr().args(["containers", "rm", "long"]));
    let left = ok(ctrd.ctr().args(["task", "ls", "-q"]));
    assert!(left.trim().is_empty(), "no task left: {left}");
    assert!(!Path::new("/sys/fs/cgroup/pids/glassbox-test/long").exists());
}

/// Wait until `ctr task ls` shows `task` with `status` (RUNNING, PAUSED, STOPPED).
fn wait_task_status(ctrd: &Containerd, task: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ls = ok(ctrd.ctr().args(["task", "ls"]));
        if ls.lines().any(|l| l.split_whitespace().next() == Some(task) && l.contains(status)) {
            return;
        }
        assert!(Instant::now() < deadline, "task {task} never became {status}:\n{ls}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the engines tripped on (issue 17): SIGKILL to a paused task must
/// kill it (a frozen process cannot die until thawed), and `kill`,
/// `kill --all` and `rm --force` of a task whose process has exited must
/// succeed, as they do with runc.
#[test]
fn containerd_kills_paused_and_stopped_tasks() {
    require_root();
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let bin = glassbox_bin();
    // Unique: the shim keeps every namespace's tasks under one /run/containerd/runc/glassbox-test.
    let (done, paused) = (unique_id("done"), unique_id("paused"));
    let (done, paused) = (done.as_str(), paused.as_str());

    ok(ctrd.ctr().arg("run").arg("--runc-binary").arg(&bin).arg("-d").arg(&image).arg(done).args(["true"]));
    wait_task_status(&ctrd, done, "STOPPED");
    // The shim answers a plain kill itself, as it does with runc: the process is gone.
    let plain = run(ctrd.ctr().args(["task", "kill", "--signal", "SIGKILL", done]));
    let said = String::from_utf8_lossy(&plain.stderr);
    assert!(plain.status.success() || said.contains("process already finished"), "{said}");
    ok(ctrd.ctr().args(["task", "kill", "--all", "--signal", "SIGKILL", done]));
    ok(ctrd.ctr().args(["task", "rm", "--force", done]));
    ok(ctrd.ctr().args(["containers", "rm", done]));

    ok(ctrd.ctr().arg("run").arg("--runc-binary").arg(&bin).arg("-d").arg(&image).arg(paused).args(["sleep", "300"]));
    ok(ctrd.ctr().args(["task", "pause", paused]));
    wait_task_status(&ctrd, paused, "PAUSED");
    ok(ctrd.ctr().args(["task", "kill", "--signal", "SIGKILL", paused]));
    wait_task_status(&ctrd, paused, "STOPPED");
    ok(ctrd.ctr().args(["task", "rm", paused]));
    ok(ctrd.ctr().args(["containers", "rm", paused]));
    let left = ok(ctrd.ctr().args(["task", "ls", "-q"]));
    assert!(left.trim().is_empty(), "no task left: {left}");
    for task in [paused, done] {
        assert!(!Path::new("/sys/fs/cgroup/pids/glassbox-test").join(task).exists(), "{task}'s cgroup is gone");
        // glassbox keeps the record of each removed container beside the shim's state: these were ours.
        let _ = std::fs::remove_file(format!("/run/containerd/runc/glassbox-test/.events/{task}.jsonl"));
    }
}

/// `podman kill` of a paused container: with glassbox it used to time out
/// after 5 s (the SIGKILL waited for a resume that never came).
#[test]
fn podman_kills_a_paused_container() {
    require_root();
    let podman = Podman::new();
    let image = podman.import_busybox();
    let before = libpod_cgroups();
    ok(podman
        .cmd()
        .arg("run")
        .arg("-d")
        .arg("--name")
        .arg("gbpaused")
        .args(podman.run_args())
        .arg(&image)
        .args(["sleep", "300"]));
    ok(podman.cmd().args(["pause", "gbpaused"]));
    let started = Instant::now();
    ok(podman.cmd().args(["kill", "gbpaused"]));
    assert!(started.elapsed() < Duration::from_secs(4), "podman kill took {:?}", started.elapsed());
    let state = ok(podman.cmd().args(["inspect", "--format", "{{.State.Status}}", "gbpaused"]));
    assert!(matches!(state.trim(), "exited" | "stopped"), "{state}");
    ok(podman.cmd().args(["rm", "gbpaused"]));
    assert_eq!(libpod_cgroups(), before, "podman's container cgroups are gone");
}

/// podman reads the runtime's message to choose its own exit status: 127
/// for "executable file not found in" / "no such file or directory", 126
/// for "permission denied". With runc a missing command gives 127 and a
/// file that is not executable 126, for `podman run` and `podman exec`.
#[test]
fn podman_exits_127_or_126_when_the_program_cannot_be_run() {
    require_root();
    let podman = Podman::new();
    let image = podman.import_busybox();
    let cases = [("nosuch", 127), ("/no/such/file", 127), ("/etc/passwd", 126)];
    for (program, want) in cases {
        let out = run(podman.cmd().arg("run").arg("--rm").args(podman.run_args()).arg(&image).arg(program));
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "podman run {program}: {said}");
    }
    ok(podman
        .cmd()
        .arg("run")
        .arg("-d")
        .arg("--name")
        .arg("gbnoexec")
        .args(podman.run_args())
        .arg(&image)
        .args(["sleep", "300"]));
    for (program, want) in cases {
        let out = run(podman.cmd().args(["exec", "gbnoexec", program]));
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "podman exec {program}: {said}");
    }
    ok(podman.cmd().args(["rm", "--force", "--time", "0", "gbnoexec"]));
}
