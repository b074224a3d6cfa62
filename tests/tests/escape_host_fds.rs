//! A hostile container reaches for a host descriptor (issue 16): a working
//! directory through `/proc/self/fd/N` — in config.json, through an image's
//! symlink, with `exec --cwd` (CVE-2024-21626's pattern) — and another
//! process of the container reaching into `glassbox exec`'s child while it
//! still runs glassbox's code. Checked from the host: a secret file the
//! container must not read, a file it must not write.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use glassbox_e2e::attack::{attack_bundle, HostSecret};
use glassbox_e2e::*;
use serde_json::json;

/// The descriptors an attacker tries: every one a runtime of this kind has
/// open at once, and a few more.
const FDS: std::ops::RangeInclusive<i32> = 3..=12;

/// `run`, then `create` + `start` (the descriptors differ between them):
/// the container must fail to start or start somewhere harmless.
fn run_both_ways(rt: &Runtime, bundle: &Bundle, secret: &HostSecret, how: &str) {
    let id = rt.id("esc-run");
    let _ = rt.run(&id, bundle);
    secret.assert_untouched(&bundle.rootfs(), &format!("{how} (run)"));
    rt.assert_clean(&id, bundle);

    let id = rt.id("esc-create");
    if rt.create(&id, bundle).status.success() {
        assert_ok(&rt.start(&id));
        assert!(wait_until(Duration::from_secs(5), || rt.status(&id).as_deref() == Some("stopped")));
    }
    secret.assert_untouched(&bundle.rootfs(), &format!("{how} (create, start)"));
    let _ = rt.delete_force(&id);
    rt.assert_clean(&id, bundle);
}

#[test]
fn a_cwd_through_a_descriptor_does_not_reach_the_host() {
    let secret = HostSecret::plant();
    let rt = Runtime::new();
    for fd in FDS {
        let cwd = format!("/proc/self/fd/{fd}");
        let bundle = attack_bundle(&secret.attack(), |v| v["process"]["cwd"] = json!(cwd));
        run_both_ways(&rt, &bundle, &secret, &format!("process.cwd {cwd}"));
    }
}

#[test]
fn an_image_symlink_to_a_descriptor_as_cwd_does_not_reach_the_host() {
    let secret = HostSecret::plant();
    let rt = Runtime::new();
    for fd in FDS {
        let bundle = attack_bundle(&secret.attack(), |v| v["process"]["cwd"] = json!("/app"));
        std::os::unix::fs::symlink(format!("/proc/self/fd/{fd}"), bundle.rootfs().join("app")).unwrap();
        run_both_ways(&rt, &bundle, &secret, &format!("cwd /app -> /proc/self/fd/{fd}"));
    }
}

#[test]
fn exec_with_a_cwd_through_a_descriptor_does_not_reach_the_host() {
    let secret = HostSecret::plant();
    let rt = Runtime::new();
    let bundle = attack_bundle("sleep 30", |_| {});
    let id = rt.id("esc-exec");
    rt.start_container(&id, &bundle);
    for fd in FDS {
        let cwd = format!("/proc/self/fd/{fd}");
        let _ = rt.exec(&id, &["--cwd", &cwd, "sh", "-c", &secret.attack()]);
        secret.assert_untouched(&bundle.rootfs(), &format!("exec --cwd {cwd}"));
    }
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

/// `glassbox exec --step ID …` held before one of its stages: the child is
/// in the container, still running glassbox's code.
struct HeldExec {
    child: Child,
    stderr: PathBuf,
}

impl HeldExec {
    /// Enter through the stages before `stage`, then hold it there. The
    /// `exec` stage is the one that matters: by then the child has joined
    /// the container's namespaces and dropped its capabilities (so the
    /// kernel no longer shields it as a more privileged process, see
    /// ptrace(2) "ptrace access mode checking"), and it has not exec'd yet.
    fn hold_before(rt: &Runtime, id: &str, stage: &str, args: &[&str]) -> HeldExec {
        let stderr = rt.scratch().join(format!("{}.held", unique_id("exec")));
        let child = Command::new(glassbox_bin())
            .arg("--root")
            .arg(rt.root())
            .args(["exec", "--step", id])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut held = HeldExec { child, stderr };
        let mut seen = 0;
        loop {
            // --step says "next stage: <name>" each time it holds one.
            let waited = wait_until(Duration::from_secs(5), || held.said().matches("next stage: ").count() > seen);
            assert!(waited, "exec --step never held the {stage} stage:\n{}", held.said());
            seen = held.said().matches("next stage: ").count();
            let said = held.said();
            let last = said.rsplit("next stage: ").next().unwrap_or("");
            if last.starts_with(&format!("{stage} ")) {
                return held;
            }
            held.child.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
        }
    }

    fn said(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `c` + Enter: stop pausing and let it finish.
    fn release(mut self) {
        let _ = self.child.stdin.take().unwrap().write_all(b"c\n");
        assert!(runtime::wait_bounded(&mut self.child, Duration::from_secs(10)).is_some(), "exec finished");
    }
}

/// The processes in container `id`'s cgroups still running glassbox, from
/// the host (not `ps`: the held exec holds the container's lock).
fn glassbox_processes_in(id: &str) -> Vec<i32> {
    clean::processes_in(id).into_iter().filter(|(_, status)| status.contains("glassbox")).map(|(p, _)| p).collect()
}

#[test]
fn the_exec_child_holds_no_host_directory_and_is_closed_to_the_container() {
    let secret = HostSecret::plant();
    // The container's init looks at every other process it can see, over
    // and over: its descriptors (walking `..` from each), its executable.
    let prober = format!(
        "while :; do for d in /proc/[0-9]*; do p=${{d#/proc/}}; [ $p = 1 ] && continue; \
         readlink $d/fd/0 >/dev/null 2>&1 && echo \"descriptors of $p\" >> /tmp/report; \
         cat $d/exe >/dev/null 2>&1 && echo \"exe of $p\" >> /tmp/report; \
         for f in $d/fd/*; do cat $f/{up}{dir}/secret >> /tmp/stolen 2>/dev/null; done; done; \
         echo round >> /tmp/report; sleep 0.05; done",
        up = "../".repeat(24),
        dir = secret.dir.path().display()
    );
    let bundle = attack_bundle(&prober, |_| {});
    let rt = Runtime::new();
    let id = rt.id("esc-held");
    rt.start_container(&id, &bundle);

    let held = HeldExec::hold_before(&rt, &id, "exec", &["true"]);
    let child = glassbox_processes_in(&id);
    assert_eq!(child.len(), 1, "one exec child waits in the container: {child:?}");
    // From the host: it holds no directory.
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{}/fd", child[0])).unwrap().flatten() {
        if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            problems.push(format!("it holds a directory: fd {:?} -> {}", entry.file_name(), target.display()));
        }
    }
    // From the inside: a few rounds of probing while it waits.
    let report = || std::fs::read_to_string(bundle.rootfs().join("tmp/report")).unwrap_or_default();
    let before = report().matches("round").count();
    assert!(wait_until(Duration::from_secs(5), || report().matches("round").count() >= before + 3), "the prober runs");
    held.release();
    problems.extend(report().lines().filter(|l| *l != "round").map(|l| format!("the container could read the {l}")));
    let stolen = std::fs::read_to_string(bundle.rootfs().join("tmp/stolen")).unwrap_or_default();
    if stolen.contains(&secret.token) {
        problems.push("the container read the host's file through one of its descriptors".into());
    }
    assert!(problems.is_empty(), "the exec child was open to the container: {problems:#?}");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

/// `--preserve-fds` larger than what the caller has: the numbers it keeps
/// may be the runtime's own. None of them may be a host directory in the
/// init (seen from the host while it waits for `start`).
#[test]
fn a_large_preserve_fds_keeps_no_host_directory_in_the_init() {
    let bundle = attack_bundle("true", |_| {});
    let rt = Runtime::new();
    let id = rt.id("esc-preserve");
    assert_ok(&rt.create_with(&id, &bundle, &["--preserve-fds", "40"]));
    let pid = rt.pid(&id);
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        assert!(!is_dir, "the init holds a directory: fd {:?} -> {}", entry.file_name(), target.display());
    }
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}
