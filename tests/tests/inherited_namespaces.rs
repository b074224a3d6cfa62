//! A namespace type linux.namespaces does not list is inherited from the
//! runtime (config-linux.md, "Namespaces"): the container shares glassbox's.
//! For the mount namespace that means one mount table with the host, so
//! these tests look at the host's mountinfo while such a container runs and
//! after it is gone: its mounts are all below its own rootfs, the host's
//! `/` keeps its propagation, a bind of a shared host directory does not
//! carry the container's mounts back into it, and delete leaves nothing.
//! (runc 1.1 makes the host's `/` a slave and leaves every mount behind.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use glassbox_e2e::*;
use serde_json::json;

const ALL: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// The fields of our mountinfo line for `/` that say how it propagates.
fn propagation_of_our_root() -> String {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = text.lines().find(|l| l.split(' ').nth(4) == Some("/")).expect("a / in mountinfo").to_string();
    let optional: Vec<&str> = line.split(" - ").next().unwrap().split(' ').skip(6).collect();
    optional.join(" ")
}

fn without_a_mount_namespace(args: &[&str]) -> Bundle {
    let bundle = Bundle::busybox(args);
    bundle.config_mut(|v| spec::remove_namespace(v, "mount"));
    bundle
}

/// The runtime-tools check (linux_ns_itype): no namespace listed at all,
/// and each of the container's is glassbox's (here: this test's).
#[test]
fn with_no_namespace_listed_the_container_shares_every_one() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    bundle.config_mut(|v| {
        v["linux"]["namespaces"] = json!([]);
        v.as_object_mut().unwrap().remove("hostname");
    });
    let rt = Runtime::new();
    let id = rt.id("inherit-all");
    assert_ok(&rt.create(&id, &bundle));
    let pid = rt.pid(&id).to_string();
    for ns in ALL {
        assert_eq!(host_ns(&pid, ns), host_ns("self", ns), "{ns}: the container's is the runtime's");
    }
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn its_mounts_stay_below_its_rootfs_and_go_at_delete() {
    let bundle = without_a_mount_namespace(&["sleep", "30"]);
    let rootfs = std::fs::canonicalize(bundle.rootfs()).unwrap();
    let before = propagation_of_our_root();
    let rt = Runtime::new();
    let id = rt.id("inherit-mnt");
    rt.start_container(&id, &bundle);
    // Made in this very mount table: the container's proc, /dev, /sys… below its rootfs.
    let made = clean::mounts_under(&rootfs);
    for wanted in ["proc", "dev", "dev/pts", "sys"] {
        assert!(made.contains(&rootfs.join(wanted)), "{wanted} is mounted for the container: {made:?}");
    }
    let lines = clean::mountinfo_lines_mentioning(&rootfs);
    assert!(lines.iter().all(|l| !l.contains(" shared:")), "none of them propagates out:\n{}", lines.join("\n"));
    assert_eq!(propagation_of_our_root(), before, "the host's / keeps its propagation");
    // Inside, / is the rootfs (chroot), read-only as root.readonly says, masks in place.
    // (exec too: its process takes the init's root. The host has /etc/os-release, the busybox rootfs not.)
    let out = rt.exec(&id, &["sh", "-c", "ls /etc/os-release 2>&1; touch /x 2>&1; wc -c < /proc/timer_list"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("No such file") && text.contains("Read-only file system"), "{text}");
    assert_eq!(text.lines().last().map(str::trim), Some("0"), "/proc/timer_list is masked: {text}");
    assert_ok(&rt.delete_force(&id));
    assert_eq!(clean::mounts_under(&rootfs), Vec::<PathBuf>::new(), "delete removed every mount");
    assert_eq!(propagation_of_our_root(), before);
    rt.assert_clean(&id, &bundle);
}

/// A host directory bound into the container while shared: a mount made on
/// top of it for the container (a tmpfs below it, from mounts[]) must not
/// appear in the host directory — the bind is made a slave first.
#[test]
fn a_bind_of_a_shared_host_directory_does_not_carry_mounts_back() {
    let host = tempfile::Builder::new().prefix("glassbox-e2e-shared-").tempdir().unwrap();
    let dir = std::fs::canonicalize(host.path()).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let _shared = SharedMount::new(&dir);
    let bundle = without_a_mount_namespace(&["sleep", "30"]);
    bundle.config_mut(|v| {
        spec::add_mount(v, json!({ "destination": "/data", "type": "bind", "source": dir, "options": ["rbind"] }));
        spec::add_mount(v, json!({ "destination": "/data/sub", "type": "tmpfs", "source": "tmpfs" }));
    });
    let rt = Runtime::new();
    let id = rt.id("inherit-shared");
    rt.start_container(&id, &bundle);
    let out = rt.exec(&id, &["sh", "-c", "grep ' /data/sub ' /proc/self/mountinfo | grep -c tmpfs"]);
    assert_eq!(stdout(&out).trim(), "1", "the container has its tmpfs on /data/sub");
    assert!(
        !clean::mounts_under(&dir).contains(&dir.join("sub")),
        "the host's {}/sub stays a plain directory",
        dir.display()
    );
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
    assert_eq!(clean::mounts_under(&dir), vec![dir.clone()], "only the test's own shared bind is left, to undo");
}

/// `mount --bind D D; mount --make-shared D`, undone on drop.
struct SharedMount(PathBuf);

impl SharedMount {
    fn new(dir: &Path) -> SharedMount {
        use nix::mount::{mount, MsFlags};
        mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        let guard = SharedMount(dir.to_path_buf());
        mount(None::<&str>, dir, None::<&str>, MsFlags::MS_SHARED, None::<&str>).unwrap();
        guard
    }
}

impl Drop for SharedMount {
    fn drop(&mut self) {
        clean::detach_mounts_under(&self.0);
    }
}

/// A create killed after the init made its mounts: delete --force finds
/// them by what create noted first (`<id>/rootfs-mount`).
#[test]
fn delete_force_after_a_killed_create_removes_the_mounts() {
    let bundle = without_a_mount_namespace(&["true"]);
    let rootfs = std::fs::canonicalize(bundle.rootfs()).unwrap();
    let rt = Runtime::new();
    let id = rt.id("inherit-killed");
    let out = rt.cmd_env(
        &[("GLASSBOX_FAULT", "create:mounts-done")],
        &["create", "--bundle", bundle.path().to_str().unwrap(), &id],
    );
    assert!(!out.status.success(), "create should have been killed at create:mounts-done");
    // The init dies with its runtime; its mounts stay until someone removes them.
    assert!(wait_until(Duration::from_secs(3), || clean::processes_in(&id).is_empty()));
    assert!(!clean::mounts_under(&rootfs).is_empty(), "the killed create left its mounts");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

/// A mount that fails half-way through: create undoes the ones made before it.
#[test]
fn a_failed_create_takes_its_mounts_away() {
    let bundle = without_a_mount_namespace(&["true"]);
    bundle.config_mut(|v| {
        spec::add_mount(
            v,
            json!({ "destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=lots"] }),
        )
    });
    let rt = Runtime::new();
    let id = rt.id("inherit-failed");
    let err = assert_fails(&rt.create(&id, &bundle));
    assert!(err.contains("mounts[7]") && err.contains("size=lots"), "{err}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn a_user_namespace_without_a_mount_namespace_is_refused() {
    let bundle = without_a_mount_namespace(&["true"]);
    bundle.config_mut(|v| spec::map_root_to(v, 100000));
    refused(&bundle, "inherit-userns", &["linux.namespaces", "user namespace", "EPERM", "\"mount\""]);
}

/// Naming glassbox's own mount namespace by path is refused: the init would
/// pivot_root in it. Run inside a throwaway mount namespace (unshare), so
/// that even a glassbox without the check could only break that one.
#[test]
fn joining_glassboxs_own_mount_namespace_by_path_is_refused() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| spec::set_namespace(v, "mount", Some("/proc/self/ns/mnt")));
    let rt = Runtime::new();
    let id = rt.id("join-own-mnt");
    let mut c = std::process::Command::new("unshare");
    c.args(["--mount", "--propagation", "unchanged", "--"]).arg(glassbox_bin()).arg("--root").arg(rt.root());
    c.args(["create", "--bundle", bundle.path().to_str().unwrap(), &id]);
    let err = assert_fails(&rt.output_of(c, std::process::Stdio::null()));
    refused::assert_names(&err, &["linux.namespaces", "glassbox's own", "leave \"mount\" out"], "create");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn the_narrator_says_what_sharing_the_mount_namespace_means() {
    let bundle = without_a_mount_namespace(&["true"]);
    let rt = Runtime::new();
    let id = rt.id("inherit-explain");
    let out = rt.cmd(&["run", "--explain", "--bundle", bundle.path().to_str().unwrap(), &id]);
    assert_ok(&out);
    let text = stderr(&out).replace('\n', " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("share glassbox's own mount namespace: one mount table with the host"), "{text}");
    assert!(text.contains("chroot(2) into"), "{text}");
    rt.assert_clean(&id, &bundle);
}
