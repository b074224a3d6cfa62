//! The remaining config.json fields and runc flags, each checked from inside
//! the container: sysctl, domainname, personality, umask, scheduler,
//! rootfsPropagation, consoleSize, startContainer hooks, --preserve-fds and
//! --no-pivot.

use std::io::Write;
use std::time::Duration;

use glassbox_e2e::*;
use serde_json::json;

/// Run the shell `script` in a fresh container with `edit` applied; returns stdout.
fn inside(name: &str, script: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    run_in_container(name, &["sh", "-c", script], edit)
}

#[test]
fn sysctls_are_written_in_the_containers_namespaces() {
    let out = inside("sysctl", "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward", |v| {
        v["linux"]["sysctl"] = json!({ "kernel.shmmni": "1234", "net.ipv4.ip_forward": "1" });
    });
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["1234", "1"], "{out}");
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    assert_ne!(host.trim(), "1234", "the host's IPC namespace is untouched");
}

#[test]
fn a_sysctl_that_would_change_the_host_is_refused() {
    let bundle = Bundle::busybox(&["/bin/true"]);
    bundle.config_mut(|v| v["linux"]["sysctl"] = json!({ "vm.swappiness": "1" }));
    let rt = Runtime::new();
    let id = rt.id("hostsysctl");
    let before = std::fs::read_to_string("/proc/sys/vm/swappiness").unwrap();
    let err = assert_fails(&rt.run(&id, &bundle));
    assert!(err.contains("linux.sysctl") && err.contains("vm.swappiness"), "{err}");
    assert_eq!(std::fs::read_to_string("/proc/sys/vm/swappiness").unwrap(), before);
    rt.assert_clean(&id, &bundle);
}

#[test]
fn domainname_is_set_in_the_uts_namespace() {
    let out = inside("domain", "cat /proc/sys/kernel/domainname", |v| v["domainname"] = json!("lab.example"));
    assert_eq!(out.trim(), "lab.example");
}

#[test]
fn personality_linux32_reports_a_32_bit_machine() {
    let out = inside("pers", "uname -m", |v| v["linux"]["personality"] = json!({ "domain": "LINUX32" }));
    assert_eq!(out.trim(), "i686", "uname(2) under PER_LINUX32 on x86_64");
}

#[test]
fn umask_comes_from_process_user() {
    let out = inside("umask", "umask", |v| v["process"]["user"]["umask"] = json!(0o077));
    assert_eq!(out.trim(), "0077");
}

#[test]
fn scheduler_policy_is_applied() {
    let out = inside("sched", "grep '^policy' /proc/self/sched", |v| {
        v["process"]["scheduler"] = json!({ "policy": "SCHED_BATCH", "nice": 5 });
    });
    assert!(out.split_whitespace().last() == Some("3"), "SCHED_BATCH is policy 3: {out}");
}

#[test]
fn rootfs_propagation_is_applied_to_the_new_root() {
    // mountinfo's optional fields: "shared:N" for a shared mount, none for a private one.
    let line_of_root = "awk '$5 == \"/\"' /proc/self/mountinfo";
    let private = inside("prop-private", line_of_root, |v| v["linux"]["rootfsPropagation"] = json!("private"));
    assert!(!private.contains("master:") && !private.contains("shared:"), "{private}");
    let shared = inside("prop-shared", line_of_root, |v| v["linux"]["rootfsPropagation"] = json!("rshared"));
    assert!(shared.contains("shared:"), "{shared}");
}

/// "unbindable": the container's `/` cannot be the source of a bind mount.
/// (The rootfs is itself bound onto itself while it is prepared, so `/` must
/// only become unbindable at the end.) Checked from inside: mountinfo's tag
/// on `/`, and a bind of `/` that the kernel refuses with EINVAL.
#[test]
fn rootfs_propagation_unbindable_makes_the_new_root_unbindable() {
    let script = "awk '$5 == \"/\"' /proc/self/mountinfo; mkdir /dev/t; \
                  mount -o rbind / /dev/t 2>&1 && echo bound || echo bind-refused";
    let out = inside("prop-unbindable", script, |v| {
        v["linux"]["rootfsPropagation"] = json!("unbindable");
        for set in ["bounding", "effective", "permitted"] {
            v["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_SYS_ADMIN"));
        }
    });
    let root_line = out.lines().next().unwrap_or_default();
    assert!(root_line.split(" - ").next().unwrap_or_default().contains("unbindable"), "{out}");
    assert!(out.contains("Invalid argument") && out.contains("bind-refused"), "{out}");
}

#[test]
fn start_container_hooks_run_inside_after_start() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| {
        v["root"]["readonly"] = json!(false);
        // The path is resolved in the container: this is the container's sh.
        spec::add_hook(v, "startContainer", "/bin/sh", &["sh", "-c", "cat > /started.json; hostname >> /started.json"]);
    });
    let rt = Runtime::new();
    let id = rt.id("startc");
    assert_ok(&rt.run(&id, &bundle));
    let text =
        std::fs::read_to_string(bundle.rootfs().join("started.json")).expect("the hook wrote in the container's /");
    assert!(text.contains(&format!("\"id\":\"{id}\"")) && text.contains("\"status\":\"running\""), "{text}");
    assert!(text.trim_end().ends_with("glassbox"), "ran in the container's UTS namespace: {text}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn console_size_sets_the_pty_window() {
    let bundle = Bundle::busybox(&["sh"]);
    bundle.config_mut(|v| {
        v["process"]["terminal"] = json!(true);
        v["process"]["consoleSize"] = json!({ "height": 40, "width": 132 });
    });
    let rt = Runtime::new();
    let id = rt.id("winsize");
    let sock = rt.scratch().join("console.sock");
    let receiver = console::listen(&sock);
    assert_ok(&rt.create_with(&id, &bundle, &["--console-socket", sock.to_str().unwrap()]));
    let master = receiver.join().unwrap().expect("pty master");
    assert_ok(&rt.start(&id));
    let mut w = std::fs::File::from(master.try_clone().unwrap());
    w.write_all(b"stty size; exit\n").unwrap();
    let seen = console::read_until(&master, "40 132", Duration::from_secs(5));
    assert!(seen.contains("40 132"), "{seen:?}");
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn preserve_fds_passes_extra_descriptors_in() {
    let bundle = Bundle::busybox(&["sh", "-c", "cat <&3; ls /proc/self/fd | tr '\\n' ' '"]);
    let rt = Runtime::new();
    let id = rt.id("fds");
    let secret = rt.scratch().join("passed-in");
    std::fs::write(&secret, "through fd 3\n").unwrap();
    // bash opens the file as fd 3, then execs glassbox with it.
    let command = format!(
        "exec 3<{}; exec {} --root {} run --preserve-fds 1 --bundle {} {id}",
        secret.display(),
        glassbox_bin().display(),
        rt.root().display(),
        bundle.path().display()
    );
    let mut c = std::process::Command::new("bash");
    c.args(["-c", &command]);
    let out = rt.output_of(c, std::process::Stdio::null());
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("through fd 3"), "{text}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn no_pivot_moves_the_rootfs_and_chroots() {
    let bundle = Bundle::busybox(&["sh", "-c", "ls /bin/busybox && cat /proc/self/mountinfo | wc -l"]);
    let rt = Runtime::new();
    let id = rt.id("nopivot");
    let out = rt.cmd_os([
        std::ffi::OsStr::new("run"),
        std::ffi::OsStr::new("--no-pivot"),
        std::ffi::OsStr::new("--bundle"),
        bundle.path().as_os_str(),
        std::ffi::OsStr::new(&id),
    ]);
    assert_ok(&out);
    assert!(stdout(&out).contains("/bin/busybox"), "{}", stdout(&out));
    rt.assert_clean(&id, &bundle);
}
