//! `glassbox trace` around a container runtime, as root: the kernel's view
//! of how a container is made, with the arguments the probes decode (clone
//! flags, mount source/target/fstype, pivot_root, sethostname, capset, the
//! seccomp filter, the container's execve) and the namespaces the
//! container's init ends up in. Run once around glassbox itself and once
//! around runc (1.1.5), whose pivot_root is the same syscall. These tests
//! fail (never skip) when tracing is unavailable: `glassbox trace` then
//! exits 1 with "tracing is unavailable: …", which the assertions print.

use std::path::Path;
use std::process::Command;

use glassbox_e2e::clean::assert_clean;
use glassbox_e2e::trace::{pid_of, trace};
use glassbox_e2e::{assert_ok, glassbox_bin, host_ns, stderr, Bundle, Runtime};
use serde_json::json;

/// A busybox bundle running `/bin/sh -c true` with a hostname, a tmpfs at
/// /tmp and a small seccomp filter, so each of those makes its syscall.
fn container_bundle() -> Bundle {
    let bundle = Bundle::busybox(&["/bin/sh", "-c", "true"]);
    bundle.config_mut(|v| {
        v["hostname"] = json!("tracebox");
        v["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}));
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    bundle
}

/// The index of the first line at or after `from` that `matches`, or a
/// panic naming `what` with the whole trace.
fn find(lines: &[&str], from: usize, what: &str, matches: impl Fn(&str) -> bool) -> usize {
    lines[from..]
        .iter()
        .position(|l| matches(l))
        .map(|i| from + i)
        .unwrap_or_else(|| panic!("no {what} after line {from} of the trace:\n{}", lines.join("\n")))
}

#[test]
fn glassbox_run_shows_the_container_being_made_in_order() {
    let rt = Runtime::new();
    let id = rt.id("trace-ctr");
    let bundle = container_bundle();
    let rootfs = bundle.rootfs();
    let rootfs = rootfs.to_str().unwrap();
    let bin = glassbox_bin();
    let out = trace(&[
        "--",
        bin.to_str().unwrap(),
        "--root",
        rt.root().to_str().unwrap(),
        "run",
        "-b",
        bundle.path().to_str().unwrap(),
        &id,
    ]);
    assert_ok(&out);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();

    let clone = find(&lines, 0, "clone with namespace flags", |l| {
        (l.contains(" clone(") || l.contains(" clone3({flags="))
            && ["CLONE_NEWNS", "CLONE_NEWPID", "CLONE_NEWUTS"].iter().all(|f| l.contains(f))
    });
    let proc =
        find(&lines, clone, "mount of proc", |l| l.contains(&format!(r#"mount("proc", "{rootfs}/proc", "proc", "#)));
    let tmpfs = find(&lines, proc, "mount of the tmpfs", |l| {
        l.contains(&format!(r#"mount("tmpfs", "{rootfs}/tmp", "tmpfs", MS_NOSUID|MS_NODEV"#))
    });
    let pivot = find(&lines, tmpfs, "pivot_root", |l| l.contains(" pivot_root(\"") && l.contains(") = 0"));
    let hostname = find(&lines, pivot, "sethostname", |l| l.contains(r#" sethostname("tracebox", …) = 0"#));
    let capset = find(&lines, hostname, "capset", |l| l.contains(" capset({") && l.contains("effective=["));
    let filter = find(&lines, capset, "the seccomp filter", |l| {
        l.contains(" seccomp(SECCOMP_SET_MODE_FILTER") || l.contains(" prctl(PR_SET_SECCOMP")
    });
    let exec = find(&lines, filter, "the container's execve", |l| {
        l.contains(r#" execve("/bin/sh", ["/bin/sh","-c","true"]) = 0"#)
    });
    let init = pid_of(lines[exec]).unwrap();
    assert_eq!(pid_of(lines[clone]).map(|p| p != init), Some(true), "init is the clone's child");
    // The init is started in its v2 cgroup (clone3, CLONE_INTO_CGROUP) and
    // writes itself into the v1 ones: writes the probes name by their cgroup
    // file (the openat that made the fd) and the value written.
    assert!(lines[clone].contains("CLONE_INTO_CGROUP"), "{}", lines[clone]);
    find(&lines, clone, "the init's write of itself into a v1 tasks file", |l| {
        pid_of(l) == Some(init) && l.contains(r#" write("/sys/fs/cgroup/"#) && l.contains(r#"/tasks" → "0""#)
    });

    // The namespaces the container's init is in after its execve: new
    // mnt, pid and uts namespaces, not the tracer's own.
    let ns = find(&lines, exec, "the init's namespaces after exec", |l| {
        pid_of(l) == Some(init) && l.contains(" namespaces (exec) ")
    });
    for kind in ["mnt", "pid", "uts"] {
        let mine = host_ns("self", kind);
        assert!(lines[ns].contains(&format!("{kind}:[")), "no {kind} in {}", lines[ns]);
        assert!(!lines[ns].contains(&format!(" {mine}")), "init's {kind} is the tracer's {mine}: {}", lines[ns]);
    }
    assert!(lines[ns].contains(&format!(" {}", host_ns("self", "user"))), "same user ns: {}", lines[ns]);
    assert!(err.contains(", 0 lost"), "{err}");
    assert_clean(rt.root(), &id, Some(bundle.path()));
}

#[test]
fn runc_run_shows_its_own_pivot_root() {
    let runc_root = tempfile::Builder::new().prefix("glassbox-e2e-runc-").tempdir().unwrap();
    let rt = Runtime::new();
    let id = rt.id("trace-runc");
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| v["hostname"] = json!("runcbox"));
    let root = runc_root.path().to_str().unwrap();
    let out = trace(&["--", "runc", "--root", root, "run", "-b", bundle.path().to_str().unwrap(), &id]);
    let _ = Command::new("runc").args(["--root", root, "delete", "-f", &id]).output();
    assert_ok(&out);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let clone = find(&lines, 0, "runc's namespaces", |l| {
        (l.contains(" clone(") || l.contains(" clone3(") || l.contains(" unshare(")) && l.contains("CLONE_NEWNS")
    });
    let pivot = find(&lines, clone, "runc's pivot_root", |l| l.contains(" pivot_root(\"") && l.contains(") = 0"));
    find(&lines, pivot, "runc's sethostname", |l| l.contains(r#" sethostname("runcbox", …) = 0"#));
    find(&lines, pivot, "the execve of /bin/true", |l| l.contains(r#" execve("/bin/true", ["/bin/true"]) = 0"#));
    assert!(!Path::new(root).join(&id).exists(), "runc left its state dir");
}
