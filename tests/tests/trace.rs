//! `glassbox trace`: the eBPF probes seen from the command line, as root.
//! These tests fail (never skip) when tracing is unavailable: the command
//! then exits 1 with "tracing is unavailable: …", which every assertion
//! below prints.

use std::process::{Command, Stdio};

use glassbox_e2e::trace::{pid_of, trace};
use glassbox_e2e::{assert_ok, stderr};

#[test]
fn a_forked_child_is_followed_through_its_exec() {
    let out = trace(&["--", "/bin/sh", "-c", "true; /bin/true; true"]);
    assert_ok(&out);
    let err = stderr(&out);
    let exec_sh =
        err.lines().find(|l| l.ends_with("exec /bin/sh")).unwrap_or_else(|| panic!("no exec of /bin/sh:\n{err}"));
    let sh = pid_of(exec_sh).unwrap();
    let exec_true =
        err.lines().find(|l| l.ends_with("exec /bin/true")).unwrap_or_else(|| panic!("no exec of /bin/true:\n{err}"));
    let child = pid_of(exec_true).unwrap();
    assert_ne!(child, sh, "/bin/true should run in a child of the shell:\n{err}");
    assert!(err.contains(&format!("[{sh}] fork → {child}")), "the shell's fork of {child} is missing:\n{err}");
    assert!(
        err.lines().any(|l| pid_of(l) == Some(child) && l.contains(" execve(")),
        "the child's execve syscall is missing:\n{err}"
    );
    assert!(err.contains(&format!("[{child}] exit 0")), "the child's exit is missing:\n{err}");
    assert!(err.contains(", 0 lost"), "{err}");
}

#[test]
fn the_command_exit_code_is_passed_on() {
    let out = trace(&["--", "/bin/sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).lines().any(|l| l.ends_with("exit 3")), "{}", stderr(&out));
}

#[test]
fn a_process_outside_the_traced_tree_never_appears() {
    // A busy neighbour making syscalls the whole time the trace runs.
    let mut busy = Command::new("dd")
        .args(["if=/dev/zero", "of=/dev/null", "bs=1", "count=100000000"])
        .stderr(Stdio::null())
        .spawn()
        .expect("starting dd");
    let out = trace(&["--", "/bin/sh", "-c", "sleep 0.3; /bin/true"]);
    let _ = busy.kill();
    let _ = busy.wait();
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("exec /bin/true"), "{err}");
    let outsider = err.lines().filter(|l| pid_of(l) == Some(busy.id())).count();
    assert_eq!(outsider, 0, "dd (pid {}) is not in the traced tree but appears:\n{err}", busy.id());
}

#[test]
fn records_that_find_the_ring_full_are_counted_and_reported() {
    let out = trace(&["--ring-bytes", "4096", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=200000"]);
    assert_ok(&out);
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("records lost: the ring buffer (4096 bytes) was full; raise --ring-bytes"))
        .unwrap_or_else(|| panic!("no lost-records report:\n{}", tail(&err)));
    let lost: u64 = line.trim_start_matches("glassbox trace: ").split(' ').next().unwrap().parse().unwrap();
    assert!(lost > 0, "{line}");
}

#[test]
fn summary_counts_reads_and_writes() {
    let out = trace(&["--summary", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=1000"]);
    assert_ok(&out);
    let err = stderr(&out);
    let calls = |name: &str| -> u64 {
        let row = err
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in the summary:\n{err}"));
        row.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert!(calls("read") >= 1000, "{err}");
    assert!(calls("write") >= 1000, "{err}");
    assert!(!err.contains(" read(fd="), "--summary should not print one line per call:\n{}", tail(&err));
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[test]
fn summary_with_counts_only_counts_every_call_and_says_no_latency() {
    let out = trace(&["--summary", "--counts", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=1000"]);
    assert_ok(&out);
    let err = stderr(&out);
    let row = |name: &str| -> Vec<String> {
        let row = err
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in the summary:\n{err}"));
        row.split_whitespace().map(String::from).collect()
    };
    for name in ["read", "write"] {
        let cols = row(name);
        let calls: u64 = cols[1].parse().unwrap();
        assert!(calls >= 1000, "{name}: {calls} calls, dd made 1000:\n{err}");
        // No program runs on return: errors and latencies are unknown, not 0.
        assert!(cols[2..].iter().all(|c| c == "-"), "{name}: {cols:?}");
    }
    // The process records still come: the exec, and the exit with its status.
    assert!(err.contains("exec /usr/bin/dd") || err.contains("exec /bin/dd"), "{}", tail(&err));
    assert!(err.contains("exit 0"), "{}", tail(&err));
}
