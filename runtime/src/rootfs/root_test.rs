//! The whole of [`super::prepare_mounts`], [`super::make_devices`] →
//! [`super::enter`] → [`super::finish`] for real, as root: a forked child
//! unshares its mount namespace, builds a tiny busybox rootfs, checks from
//! inside what a container would see, and reports through a pipe and its
//! exit code; the parent checks that nothing leaked into the host's mount
//! table.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{
    get_default_maskedpaths, get_default_mounts, get_default_readonly_paths, LinuxBuilder, LinuxDeviceBuilder,
    LinuxDeviceType, MountBuilder, RootBuilder, Spec, SpecBuilder,
};

use super::{enter, finish, make_devices, prepare_mounts, RootfsContext};

fn test_spec(data_dir: &Path) -> Spec {
    let mut mounts = get_default_mounts();
    mounts.push(
        MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source(data_dir)
            .options(vec!["rbind".into(), "ro".into()])
            .build()
            .unwrap(),
    );
    let fuse = LinuxDeviceBuilder::default()
        .path("/dev/fuse")
        .typ(LinuxDeviceType::C)
        .major(10)
        .minor(229)
        .file_mode(0o660u32)
        .gid(5u32)
        .build()
        .unwrap();
    let linux = LinuxBuilder::default()
        .devices(vec![fuse])
        .masked_paths(get_default_maskedpaths())
        .readonly_paths(get_default_readonly_paths())
        .build()
        .unwrap();
    let root = RootBuilder::default().path("rootfs").readonly(true).build().unwrap();
    SpecBuilder::default().mounts(mounts).linux(linux).root(root).build().unwrap()
}

/// The mounts a runc-style spec must produce: (mount point, acceptable fstypes).
const EXPECTED_MOUNTS: &[(&str, &[&str])] = &[
    ("/proc", &["proc"]),
    ("/dev", &["tmpfs"]),
    ("/dev/pts", &["devpts"]),
    ("/dev/shm", &["tmpfs"]),
    ("/dev/mqueue", &["mqueue"]),
    ("/sys", &["sysfs"]),
    ("/sys/fs/cgroup", &["cgroup2", "tmpfs"]),
    ("/data", &["tmpfs", "ext4", "xfs", "btrfs", "overlay"]),
];

/// What the container should see; runs after pivot_root, inside.
fn check_inside(host_tmp: &Path) -> Result<(), String> {
    let null = std::fs::metadata("/dev/null").map_err(|e| format!("stat /dev/null: {e}"))?;
    if !null.file_type().is_char_device() || null.rdev() != nix::sys::stat::makedev(1, 3) {
        return Err(format!("/dev/null is not char 1:3 (rdev {:x})", null.rdev()));
    }
    let fuse = std::fs::metadata("/dev/fuse").map_err(|e| format!("stat /dev/fuse: {e}"))?;
    if fuse.permissions().mode() & 0o7777 != 0o660 || fuse.gid() != 5 {
        return Err(format!("/dev/fuse mode {:o} gid {}", fuse.permissions().mode(), fuse.gid()));
    }
    let ptmx = std::fs::read_link("/dev/ptmx").map_err(|e| format!("readlink /dev/ptmx: {e}"))?;
    if ptmx != Path::new("pts/ptmx") || !Path::new("/dev/pts/ptmx").exists() {
        return Err(format!("/dev/ptmx -> {}", ptmx.display()));
    }
    if std::fs::read_link("/dev/fd").ok().as_deref() != Some(Path::new("/proc/self/fd")) {
        return Err("/dev/fd is not a link to /proc/self/fd".into());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("mountinfo: {e}"))?;
    let table = super::mountinfo::parse(&mountinfo);
    for (point, fstypes) in EXPECTED_MOUNTS {
        if !table.iter().any(|m| m.mount_point == Path::new(point) && fstypes.contains(&m.fstype.as_str())) {
            return Err(format!("no {fstypes:?} mount on {point} in:\n{mountinfo}"));
        }
    }
    if host_tmp.exists() {
        return Err(format!("the host path {} is visible inside", host_tmp.display()));
    }
    if !Path::new("/bin/busybox").exists() {
        return Err("/bin/busybox missing inside".into());
    }
    if std::fs::read_to_string("/data/hello").ok().as_deref() != Some("hi") {
        return Err("the bind mount /data does not show the host's file".into());
    }
    for (path, what) in [("/data/new", "ro bind /data"), ("/new", "root.readonly /")] {
        match std::fs::write(path, b"x") {
            Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
            other => return Err(format!("writing {path} should fail with EROFS ({what}): {other:?}")),
        }
    }
    if let Ok(m) = std::fs::metadata("/proc/kcore") {
        if !m.file_type().is_char_device() {
            return Err("/proc/kcore is not masked by /dev/null".into());
        }
    }
    match std::fs::OpenOptions::new().write(true).open("/proc/sys/kernel/hostname") {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        other => Err(format!("/proc/sys should be read-only: {other:?}")),
    }
}

fn child(rootfs: &Path, spec: &Spec, host_tmp: &Path, no_pivot: bool) -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
    let ctx = RootfsContext {
        spec,
        rootfs,
        in_user_namespace: false,
        // The test process's own cgroup is the root of each hierarchy.
        cgroup_path: None,
        shares_runtime_mounts: false,
    };
    // In the init's order: the mounts stage, then the devices stage.
    prepare_mounts(&ctx).map_err(|e| format!("prepare_mounts: {e}"))?;
    make_devices(&ctx).map_err(|e| format!("make_devices: {e}"))?;
    enter(&ctx, no_pivot).map_err(|e| format!("enter: {e}"))?;
    finish(&ctx).map_err(|e| format!("finish: {e}"))?;
    check_inside(host_tmp)
}

#[test]
fn prepare_pivot_root_finish_in_a_private_mount_namespace() {
    run_in_a_forked_child(false);
}

#[test]
fn prepare_move_chroot_finish_in_a_private_mount_namespace() {
    run_in_a_forked_child(true);
}

fn run_in_a_forked_child(no_pivot: bool) {
    assert!(nix::unistd::geteuid().is_root(), "this test makes real mounts: run it as root");
    let busybox = Path::new("/bin/busybox");
    assert!(busybox.exists(), "needs a static busybox: apt-get install -y busybox-static");

    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("hello"), "hi").unwrap();
    let spec = test_spec(&data);

    let (read_end, write_end): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only runs our code and leaves with _exit, never
    // returning into the test harness.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(read_end);
            let code = match child(&rootfs, &spec, tmp.path(), no_pivot) {
                Ok(()) => 0,
                Err(msg) => {
                    let _ = nix::unistd::write(&write_end, msg.as_bytes());
                    1
                }
            };
            // SAFETY: _exit(2) has no preconditions; the harness's state,
            // copied by fork, must not be torn down a second time here.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut report = String::new();
            let _ = std::fs::File::from(read_end).read_to_string(&mut report);
            let status = waitpid(child, None).unwrap();
            assert_eq!(status, WaitStatus::Exited(child, 0), "child failed: {report}");
        }
    }

    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<&str> = host.lines().filter(|l| l.contains(tmp.path().to_str().unwrap())).collect();
    assert!(leaked.is_empty(), "mounts leaked to the host: {leaked:#?}");
}
