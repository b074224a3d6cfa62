//! The container's filesystem (config.md "Mounts", config-linux.md
//! "Devices", "Masked Paths", "Readonly Paths"): what the process sees in
//! /proc/self/mounts, and that nothing leaks onto the host's mount table.

use std::path::Path;

use glassbox_e2e::*;
use serde_json::json;

fn mounts_line<'a>(mounts: &'a str, target: &str) -> Option<&'a str> {
    mounts.lines().find(|l| l.split_whitespace().nth(1) == Some(target))
}

#[test]
fn tmpfs_mount_with_its_options_and_a_created_destination() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/mounts"]);
    assert!(!bundle.rootfs().join("scratch").exists());
    bundle.config_mut(|v| {
        spec::add_mount(
            v,
            json!({ "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=755"] }),
        );
    });
    let rt = Runtime::new();
    let id = rt.id("tmpfs");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    let mounts = stdout(&out);
    let line = mounts_line(&mounts, "/scratch").unwrap_or_else(|| panic!("no /scratch in:\n{mounts}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[2], "tmpfs", "{line}");
    let opts: Vec<&str> = fields[3].split(',').collect();
    for want in ["nosuid", "nodev", "noexec", "size=1024k", "mode=755"] {
        assert!(opts.contains(&want), "{want} missing from {line}");
    }
    rt.assert_clean(&id, &bundle);
}

#[test]
fn read_only_bind_mount_of_a_host_directory() {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("hello"), "from the host\n").unwrap();
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /hostdir/hello; if touch /hostdir/new 2>/dev/null; then echo WROTE; else echo DENIED; fi",
    ]);
    bundle.config_mut(|v| {
        spec::add_mount(
            v,
            json!({ "destination": "/hostdir", "type": "bind",
                    "source": host.path(), "options": ["rbind", "ro"] }),
        );
    });
    let rt = Runtime::new();
    let id = rt.id("bindro");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out), "from the host\nDENIED\n");
    assert!(!host.path().join("new").exists());
    rt.assert_clean(&id, &bundle);
    assert!(clean::mountinfo_lines_mentioning(host.path()).is_empty(), "the bind source is still mounted");
}

#[test]
fn read_write_bind_mount_writes_through() {
    let host = tempfile::tempdir().unwrap();
    let bundle = Bundle::busybox(&["sh", "-c", "echo inside > /hostdir/out"]);
    bundle.config_mut(|v| {
        spec::add_mount(
            v,
            json!({ "destination": "/hostdir", "type": "bind", "source": host.path(), "options": ["rbind", "rw"] }),
        );
    });
    let rt = Runtime::new();
    let id = rt.id("bindrw");
    assert_ok(&rt.run(&id, &bundle));
    assert_eq!(std::fs::read_to_string(host.path().join("out")).unwrap(), "inside\n");
    rt.assert_clean(&id, &bundle);
}

/// rootfs/evil -> /etc must never let a mount land on the host's /etc: the
/// runtime either refuses, naming the destination, or resolves the link
/// inside the rootfs (as runc's securejoin does).
/// `evil -> link_target`, and a mount onto /evil/x-glassbox-e2e. An
/// absolute link means what it means inside the container (the mount lands
/// in the rootfs's /etc); a `..` link climbing out of the rootfs is refused
/// with an error naming the destination. Either way nothing reaches the host.
fn symlink_escape(link_target: &str, refused: bool) {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    std::os::unix::fs::symlink(link_target, bundle.rootfs().join("evil")).unwrap();
    let host_x = Path::new("/etc/x-glassbox-e2e");
    assert!(!host_x.exists());
    bundle.config_mut(|v| {
        spec::add_mount(v, json!({ "destination": "/evil/x-glassbox-e2e", "type": "tmpfs", "source": "tmpfs" }));
    });
    let rt = Runtime::new();
    let id = rt.id("symlink");
    let out = rt.create(&id, &bundle);
    let escaped = std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(" /etc/x-glassbox-e2e ");
    let created_on_host = host_x.exists();
    if !refused {
        assert_ok(&out);
        let pid = rt.pid(&id);
        let inside = std::fs::read_to_string(format!("/proc/{pid}/mounts")).unwrap_or_default();
        assert_ok(&rt.delete_force(&id));
        assert!(
            mounts_line(&inside, "/etc/x-glassbox-e2e").is_some(),
            "create succeeded, so the mount should be at /etc/x-glassbox-e2e inside the rootfs:\n{inside}"
        );
        assert!(bundle.rootfs().join("etc/x-glassbox-e2e").is_dir());
    } else {
        let err = assert_fails(&out);
        assert!(err.contains("/evil/x-glassbox-e2e"), "the error should name the destination: {err}");
    }
    let _ = std::fs::remove_dir(host_x);
    assert!(!escaped, "a mount escaped onto the host at /etc/x-glassbox-e2e");
    assert!(!created_on_host, "the runtime created /etc/x-glassbox-e2e on the host");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn absolute_symlink_resolves_inside_the_rootfs() {
    symlink_escape("/etc", false);
}

#[test]
fn relative_symlink_climbing_out_of_the_rootfs_is_refused() {
    symlink_escape("../../../../../../../../etc", true);
}

/// This kernel has no /proc/kcore; /proc/timer_list (a file) and /proc/irq
/// (a directory) have content on the host, so masking them is visible.
#[test]
fn masked_paths_read_empty() {
    assert!(std::fs::read("/proc/timer_list").map(|b| !b.is_empty()).unwrap_or(false));
    assert!(std::fs::read_dir("/proc/irq").map(|mut d| d.next().is_some()).unwrap_or(false));
    let bundle = Bundle::busybox(&["sh", "-c", "wc -c < /proc/timer_list; ls /proc/irq | wc -l"]);
    bundle.config_mut(|v| v["linux"]["maskedPaths"] = json!(["/proc/timer_list", "/proc/irq", "/proc/kcore"]));
    let rt = Runtime::new();
    let id = rt.id("masked");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    let text = stdout(&out);
    let nums: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(nums, ["0", "0"], "timer_list bytes, then /proc/irq entries: {text}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn readonly_path_refuses_writes_even_with_cap_sys_admin() {
    // With CAP_SYS_ADMIN in its own UTS namespace root could write the
    // hostname sysctl; only the read-only bind stops it.
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "if echo changed > /proc/sys/kernel/hostname 2>/dev/null; then echo WROTE; else echo DENIED; fi; hostname",
    ]);
    bundle.config_mut(|v| {
        v["hostname"] = json!("ro-test");
        spec::set_namespace(v, "uts", None);
        v["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
        spec::set_all_caps(v, &["CAP_SYS_ADMIN"]);
    });
    let rt = Runtime::new();
    let id = rt.id("ropath");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out), "DENIED\nro-test\n");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn readonly_root_refuses_writes() {
    let probe = "if touch /newfile 2>/dev/null; then echo WROTE; else echo DENIED; fi";
    let rt = Runtime::new();

    let ro = Bundle::busybox(&["sh", "-c", probe]);
    ro.config_mut(|v| v["root"]["readonly"] = json!(true));
    let id = rt.id("roroot");
    let out = rt.run(&id, &ro);
    assert_ok(&out);
    assert_eq!(stdout(&out), "DENIED\n");
    rt.assert_clean(&id, &ro);

    let rw = Bundle::busybox(&["sh", "-c", probe]);
    rw.config_mut(|v| v["root"]["readonly"] = json!(false));
    let id = rt.id("rwroot");
    let out = rt.run(&id, &rw);
    assert_ok(&out);
    assert_eq!(stdout(&out), "WROTE\n");
    assert!(rw.rootfs().join("newfile").exists());
    rt.assert_clean(&id, &rw);
}

#[test]
fn default_devices_are_character_devices() {
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "for d in null zero full random urandom tty; do test -c /dev/$d && echo $d; done; echo x > /dev/null && echo writable",
    ]);
    let rt = Runtime::new();
    let id = rt.id("devices");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out), "null\nzero\nfull\nrandom\nurandom\ntty\nwritable\n");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn linux_devices_entry_creates_the_node() {
    let bundle = Bundle::busybox(&["stat", "-c", "%F %t %T %a %u %g", "/dev/glassbox-null"]);
    bundle.config_mut(|v| {
        v["linux"]["devices"] = json!([{ "path": "/dev/glassbox-null", "type": "c", "major": 1, "minor": 3,
                                          "fileMode": 438, "uid": 0, "gid": 0 }]);
    });
    let rt = Runtime::new();
    let id = rt.id("devnode");
    let out = rt.run(&id, &bundle);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "character special file 1 3 666 0 0");
    rt.assert_clean(&id, &bundle);
}
