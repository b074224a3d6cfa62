//! `--trace` on create and run, with and without a hub: the kernel's side of
//! a container (eBPF) lands in its record beside the runtime's stages, and a
//! foreground run prints both as one timeline. As root; these tests fail
//! (never skip) when tracing is unavailable: the command then exits 1 with
//! "tracing is unavailable: …", which the assertions print.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use glassbox_e2e::*;
use glassbox_events::{Event, Kind, ProcessChange, Source};

fn kernel(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| e.source == Source::Kernel).collect()
}

fn syscalls_named<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| matches!(&e.kind, Kind::Syscall { name: n, .. } if n == name)).collect()
}

fn execs(events: &[Event]) -> Vec<(i32, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Process { change: ProcessChange::Exec, filename, .. } => Some((e.pid, filename.clone()?)),
            _ => None,
        })
        .collect()
}

/// The runtime's pid: the one its first stage was recorded under.
fn runtime_pid(events: &[Event]) -> i32 {
    events.iter().find(|e| matches!(e.kind, Kind::StageBegin { .. })).expect("a stage").pid
}

/// Live (not zombie) processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// No tracer or printer process stays behind once its session is over.
fn assert_no_tracer_left(rt: &Runtime) {
    let root = rt.root().to_string_lossy().into_owned();
    let gone = clean::wait_until(Duration::from_secs(5), || processes_mentioning(&root).is_empty());
    assert!(gone, "glassbox processes for {root} are still running: {:?}", processes_mentioning(&root));
}

fn run_traced(rt: &Runtime, id: &str, bundle: &Bundle, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run".to_string(), id.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--bundle".to_string(), bundle.path().to_string_lossy().into_owned()]);
    rt.cmd_os(args)
}

#[test]
fn run_trace_writes_the_kernels_side_into_the_kept_record() {
    let rt = Runtime::new();
    let id = rt.id("trace-run");
    let bundle = Bundle::busybox(&["/bin/sh", "-c", "/bin/true"]);
    let out = run_traced(&rt, &id, &bundle, &["--trace"]);
    assert_ok(&out);
    let events = record_of(rt.root(), &id);
    let kernel_events = kernel(&events);
    assert!(kernel_events.len() > 50, "few kernel events ({}):\n{}", kernel_events.len(), stderr(&out));

    let runtime = runtime_pid(&events);
    let forks: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e.kind, Kind::Process { change: ProcessChange::Fork, ppid: Some(p), .. } if p == runtime))
        .collect();
    assert!(!forks.is_empty(), "no fork by the runtime (pid {runtime}) in the record");
    let clones = [syscalls_named(&events, "clone"), syscalls_named(&events, "clone3")].concat();
    assert!(clones.iter().any(|e| e.pid == runtime), "the runtime's clone of the init is missing");
    let init = forks[0].pid;
    assert!(execs(&events).contains(&(init, "/bin/sh".into())), "no exec of /bin/sh by the init {init}");
    assert!(syscalls_named(&events, "execve").iter().any(|e| e.pid == init), "the init's execve syscall is missing");
    // A call decoded from its numbers alone (no detail record comes with
    // unshare) keeps its decoded arguments in the record, as with a detail.
    let unshares = syscalls_named(&events, "unshare");
    assert!(
        unshares.iter().any(|e| matches!(&e.kind,
            Kind::Syscall { decoded: Some(d), .. } if d.get("flags").and_then(|f| f.as_str()) == Some("CLONE_NEWCGROUP"))),
        "no unshare(CLONE_NEWCGROUP) with decoded flags in the record: {unshares:?}"
    );

    let mut seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let n = seqs.len();
    seqs.dedup();
    assert_eq!(seqs.len(), n, "sequence numbers repeat across runtime and kernel lines");
    assert_eq!(seqs.last().copied(), Some(n as u64 - 1), "sequence numbers have gaps");

    let err = stderr(&out);
    assert!(err.contains("▶ namespaces"), "the timeline has no stages:\n{err}");
    assert!(err.contains("exec /bin/sh"), "the timeline has no exec:\n{err}");
    assert!(!err.contains("lost"), "{err}");
    clean::assert_clean(rt.root(), &id, Some(bundle.path()));
    assert_no_tracer_left(&rt);
}

#[test]
fn a_list_prints_only_those_syscalls() {
    let rt = Runtime::new();
    let id = rt.id("trace-list");
    let bundle = Bundle::busybox(&["/bin/true"]);
    let out = run_traced(&rt, &id, &bundle, &["--trace=execve"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("execve("), "no execve line:\n{err}");
    assert!(err.contains("▶ mounts"), "stage lines are missing:\n{err}");
    for line in err.lines() {
        let is_syscall = line.contains(") = ");
        assert!(!is_syscall || line.contains(" execve("), "a syscall line --trace=execve should not print: {line}");
        let process_line = [" fork → ", "] exec /", "] exit ", "] namespaces "].iter().any(|p| line.contains(p));
        assert!(!process_line, "--trace=execve should not print process lines: {line}");
    }
    // The record keeps everything.
    assert!(!syscalls_named(&record_of(rt.root(), &id), "mount").is_empty());
    assert_no_tracer_left(&rt);
}

#[test]
fn an_unknown_syscall_name_fails_before_anything_is_made() {
    let rt = Runtime::new();
    let id = rt.id("trace-bad");
    let bundle = Bundle::busybox(&["/bin/true"]);
    let out = run_traced(&rt, &id, &bundle, &["--trace=execve,frobnicate"]);
    let err = assert_fails(&out);
    assert!(err.contains("\"frobnicate\""), "the error should name the unknown syscall: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(record_path(rt.root(), &id).is_none(), "a record was made for a refused run");
    assert!(!rt.root().join(&id).exists());
}

#[test]
fn create_trace_follows_the_container_after_create_returns() {
    let rt = Runtime::new();
    let id = rt.id("trace-create");
    let bundle = Bundle::busybox(&["/bin/sh", "-c", "sleep 0.2; /bin/echo done"]);
    let started = std::time::Instant::now();
    let out = rt.create_with(&id, &bundle, &["--trace"]);
    assert_ok(&out);
    assert!(started.elapsed() < Duration::from_secs(3), "create --trace waited for the container");
    assert_ok(&rt.start(&id));
    let echoed = clean::wait_until(Duration::from_secs(5), || {
        record_path(rt.root(), &id).is_some() && execs(&record_of(rt.root(), &id)).iter().any(|(_, f)| f == "/bin/echo")
    });
    assert!(echoed, "the container's exec of /bin/echo never reached the record");
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    clean::assert_clean(rt.root(), &id, Some(bundle.path()));
    assert_no_tracer_left(&rt);
}

#[test]
fn exec_trace_adds_the_joining_process_to_the_record() {
    let rt = Runtime::new();
    let id = rt.id("trace-exec");
    let bundle = Bundle::busybox(&["/bin/sleep", "10"]);
    assert_ok(&rt.run_detached(&id, &bundle));
    let out = rt.cmd(&["exec", "--trace=execve", &id, "/bin/echo", "hi"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("execve("), "no execve line:\n{err}");
    assert!(!err.contains("status: created"), "exec's timeline shows what came before it:\n{err}");
    let events = record_of(rt.root(), &id);
    assert!(execs(&events).iter().any(|(_, f)| f == "/bin/echo"), "no exec of /bin/echo in the record");
    assert_ok(&rt.kill(&id, "KILL"));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    clean::assert_clean(rt.root(), &id, Some(bundle.path()));
    assert_no_tracer_left(&rt);
}

/// The hub — `glassbox hub`, another name for `glassbox dashboard` — on its
/// own pin directory, socket and port, stopped (SIGINT) at drop.
struct Hub {
    child: Child,
    dir: PathBuf,
    out: PathBuf,
}

impl Hub {
    fn start(rt: &Runtime) -> Hub {
        let scratch = rt.scratch();
        let dir = PathBuf::from(format!("/sys/fs/bpf/glassbox-test-{}", unique_id("hub")));
        let out = scratch.join("hub.out");
        let child = Command::new(glassbox_bin())
            .args(["hub", "--hub"])
            .arg(scratch.join("hub.sock"))
            .args(["--listen", "127.0.0.1:0", "--root"])
            .arg(rt.root())
            .arg("--pin-dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&out).unwrap())
            .spawn()
            .expect("starting glassbox hub");
        let mut hub = Hub { child, dir, out };
        let up = clean::wait_until(Duration::from_secs(10), || hub.dir.join("OWNERS").exists());
        if !up {
            let _ = hub.child.wait();
            panic!("the hub did not pin its maps: {}", hub.said());
        }
        hub
    }

    /// What the dashboard said (on stderr).
    fn said(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stop(&mut self) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn with_a_hub_run_only_registers_and_the_hub_writes_the_record() {
    let rt = Runtime::new();
    let mut hub = Hub::start(&rt);
    let id = rt.id("trace-hub");
    let bundle = Bundle::busybox(&["/bin/sh", "-c", "/bin/true"]);
    let pin = hub.dir.to_string_lossy().into_owned();
    let out = rt.cmd_os([
        "--debug",
        "run",
        &id,
        "--trace=execve",
        "--pin-dir",
        &pin,
        "--bundle",
        &bundle.path().to_string_lossy(),
    ]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("following through the hub"), "the runtime did not use the hub:\n{err}");
    assert!(!err.contains("loading the eBPF probes"), "the runtime loaded the probes itself:\n{err}");
    assert!(err.contains("execve("), "no execve line:\n{err}");
    let events = record_of(rt.root(), &id);
    assert!(execs(&events).iter().any(|(_, f)| f == "/bin/sh"), "no exec of /bin/sh in the record");
    assert!(!syscalls_named(&events, "mount").is_empty(), "no mount syscalls in the record");
    let ended = clean::wait_until(Duration::from_secs(5), || hub.said().contains(&format!("ended: container {id}")));
    assert!(ended, "the hub did not see the session end:\n{}", hub.said());
    assert!(hub.said().contains(&format!("container {id} (runtime pid")), "{}", hub.said());

    hub.stop();
    assert!(!hub.dir.exists(), "the hub left its pins in {}", hub.dir.display());
    assert!(hub.said().contains("pins removed"), "{}", hub.said());
    clean::assert_clean(rt.root(), &id, Some(bundle.path()));
    assert_no_tracer_left(&rt);
}

#[test]
fn a_process_outside_the_container_is_never_attributed() {
    let rt = Runtime::new();
    let mut busy = Command::new("dd")
        .args(["if=/dev/zero", "of=/dev/null", "bs=1", "count=100000000"])
        .stderr(Stdio::null())
        .spawn()
        .expect("starting dd");
    let id = rt.id("trace-outsider");
    let bundle = Bundle::busybox(&["/bin/sh", "-c", "sleep 0.2; /bin/true"]);
    let out = run_traced(&rt, &id, &bundle, &["--trace"]);
    let _ = busy.kill();
    let _ = busy.wait();
    assert_ok(&out);
    let events = record_of(rt.root(), &id);
    assert!(!kernel(&events).is_empty(), "the record holds no kernel events at all");
    let outsider = events.iter().filter(|e| e.pid == busy.id() as i32).count();
    assert_eq!(outsider, 0, "dd (pid {}) is outside the container but is in its record", busy.id());
    assert_no_tracer_left(&rt);
}
