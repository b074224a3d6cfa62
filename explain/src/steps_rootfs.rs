//! Narrations of the rootfs stages: mounts (mount(2)), devices (mknod(2),
//! the device cgroup), pivot_root (pivot_root(2), umount2(2)) and masks.
//! Mount targets are shown as recorded: a path inside the container for
//! `mounts[]`, a host path for the steps around the rootfs.

use glassbox_events::Stage;

use super::args::{c_flags, flag_list};
use super::steps::{cgroup_write, outcome, Step};
use super::Narration;

pub fn narrate(stage: Stage, step: &Step) -> Option<Narration> {
    match (stage, step.action) {
        (Stage::Mounts, "mount") => mount(step),
        (Stage::Devices, "device") => device(step),
        (Stage::Devices, "write") => cgroup_write(step),
        (Stage::Devices, "device_filter") => device_filter(step),
        (Stage::PivotRoot, "pivot_root") => pivot_root(step),
        (Stage::PivotRoot, "umount") => umount(step),
        (Stage::PivotRoot, "chroot") => chroot(step),
        (Stage::Masks, "mask") => mask(step),
        (Stage::Masks, "readonly") => readonly(step),
        _ => None,
    }
}

/// Where to look at the container's mount table from the host.
fn mount_check(step: &Step, path: Option<&str>) -> Option<String> {
    let pid = step.container_pid?;
    Some(match path {
        Some(path) => format!("findmnt -N {pid} {path}"),
        None => format!("findmnt -N {pid}  (or: cat /proc/{pid}/mountinfo)"),
    })
}

fn what_it_is(fstype: &str) -> &'static str {
    match fstype {
        "proc" => ": a /proc that lists the container's own processes",
        "sysfs" => ": the kernel's view of devices and drivers",
        "tmpfs" => ": a filesystem in memory",
        "devpts" => ": pseudo-terminals of the container's own",
        "mqueue" => ": the POSIX message queues of its IPC namespace",
        "cgroup2" => ": the cgroup tree, from the container's cgroup down",
        "cgroup" => ": a cgroup v1 hierarchy",
        "overlay" => ": layers stacked into one tree",
        _ => "",
    }
}

fn mount(step: &Step) -> Option<Narration> {
    let target = step.args.text("target")?;
    let source = step.args.text("source");
    let fstype = step.args.text("fstype");
    let recorded = step.args.text("flags").unwrap_or_default();
    let flags = flag_list(&recorded);
    let has = |name: &str| flags.iter().any(|f| f == name);
    let propagation = ["MS_PRIVATE", "MS_SLAVE", "MS_SHARED", "MS_UNBINDABLE"].into_iter().find(|f| has(f));
    let recursive = if has("MS_REC") { " (and every mount below it)" } else { "" };
    let mut why = format!("mounts[] destination {target}");
    let headline = if has("MS_MOVE") {
        format!("move the mount at {} to {target}", source.as_deref().unwrap_or("?"))
    } else if let Some(kind) = propagation {
        let (word, effect) = match kind {
            "MS_PRIVATE" => ("private", "mount events no longer pass between it and the host"),
            "MS_SLAVE" => ("a slave", "mount events come in from the host but never go back"),
            "MS_SHARED" => ("shared", "mount events pass both ways"),
            _ => ("unbindable", "it cannot be bind-mounted"),
        };
        why = match kind {
            _ if target == "/" => "linux.rootfsPropagation".into(),
            "MS_SLAVE" => "so that what is mounted for the container never propagates back to the host".into(),
            _ => "pivot_root(2) refuses a new root whose parent mount is shared".into(),
        };
        format!("make {target}{recursive} {word}: {effect}")
    } else if has("MS_REMOUNT") {
        let ro = if has("MS_RDONLY") { " read-only" } else { "" };
        format!("remount {target}{ro}, changing only its flags")
    } else if has("MS_BIND") && source.as_deref() == Some(target.as_str()) {
        why = "root.path: the container's root becomes a mount of its own (pivot_root(2) needs one; in the host's mount namespace, it holds every mount made for the container)".into();
        format!("bind {target} onto itself, so it becomes a mount point")
    } else if has("MS_BIND") {
        format!("bind-mount {} onto {target}", source.as_deref().unwrap_or("?"))
    } else {
        let fs = fstype.as_deref().unwrap_or("?");
        format!("mount {fs} on {target}{}", what_it_is(fs))
    };
    let quoted = |v: &Option<String>| v.as_ref().map_or("NULL".to_string(), |s| format!("\"{s}\""));
    let syscall = format!(
        "mount({}, \"{target}\", {}, {}, {})",
        quoted(&source),
        quoted(&fstype),
        c_flags(&recorded),
        quoted(&step.args.text("data"))
    );
    let mut narration =
        Narration::new(outcome(step, headline)).why(why).syscall(syscall).check_opt(mount_check(step, None));
    narration.shell = step.args.text("equivalent");
    Some(narration)
}

/// The devices every container gets (runtime-spec, "Default Devices").
const DEFAULT_DEVICES: [&str; 6] = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"];

fn device(step: &Step) -> Option<Narration> {
    let equivalent = step.args.text("equivalent")?;
    let words: Vec<&str> = equivalent.split_whitespace().collect();
    let device_why = |path: &str| {
        if DEFAULT_DEVICES.contains(&path) {
            "the default devices every container gets".to_string()
        } else {
            format!("linux.devices[] path {path}")
        }
    };
    let (headline, why, syscall) = match words.as_slice() {
        ["mknod", "-m", mode, path, kind, major, minor, ..] => (
            format!("create the device node {path} ({} {major}:{minor}, mode {mode})", kind_name(kind)),
            device_why(path),
            "mknod(2), then chmod(2), as the umask would trim the mode",
        ),
        ["mknod", "-m", mode, path, "p", ..] => {
            (format!("create the named pipe {path} (mode {mode})"), device_why(path), "mknod(2) with S_IFIFO")
        }
        ["touch", path, ..] => (
            format!("bind the host's {path} over an empty file: in a user namespace mknod(2) is refused"),
            device_why(path),
            "open(2) with O_CREAT, then mount(2) with MS_BIND",
        ),
        ["ln", _, target, link] => {
            let why = if *link == "/dev/ptmx" { "mounts[] devpts on /dev/pts" } else { "the default /dev symlinks" };
            (format!("link {link} → {target}"), why.to_string(), "symlink(2)")
        }
        _ => return None,
    };
    let check = step.container_pid.map(|p| format!("ls -l /proc/{p}/root/dev  (once pivot_root is done)"));
    Some(Narration::new(outcome(step, headline)).why(why).syscall(syscall).shell(equivalent).check_opt(check))
}

fn kind_name(kind: &str) -> &'static str {
    match kind {
        "c" => "char device",
        "b" => "block device",
        _ => "device",
    }
}

fn device_filter(step: &Step) -> Option<Narration> {
    let cgroup = step.args.text("cgroup")?;
    let rules = step.args.int("rules").map(|n| format!("{n} rules")).unwrap_or_else(|| "the rules".into());
    Some(
        Narration::new(outcome(
            step,
            format!("attach an eBPF program with {rules} to {cgroup}: cgroup v2 has no devices.allow file"),
        ))
        .why("linux.resources.devices[]")
        .syscall("bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE), then bpf(BPF_PROG_ATTACH)")
        .check(format!("bpftool cgroup list {cgroup}")),
    )
}

fn pivot_root(step: &Step) -> Option<Narration> {
    let new_root = step.args.text("new_root")?;
    let put_old = step.args.text("put_old")?;
    Some(
        Narration::new(format!("pivot_root: {new_root} becomes /, the old root moves to {put_old}"))
            .why("root.path")
            .syscall(format!("pivot_root(\"{new_root}\", \"{put_old}\")"))
            .shell(format!("cd {new_root} && pivot_root . {}", relative_to(&put_old, &new_root)))
            .check_opt(step.container_pid.map(|p| format!("ls /proc/{p}/root/"))),
    )
}

/// `path` as seen from `dir` when it lies inside it (put_old usually does).
fn relative_to(path: &str, dir: &str) -> String {
    match path.strip_prefix(dir.trim_end_matches('/')).and_then(|rest| rest.strip_prefix('/')) {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => path.to_string(),
    }
}

fn umount(step: &Step) -> Option<Narration> {
    let target = step.args.text("target")?;
    let flags = step.args.text("flags").unwrap_or_else(|| "MNT_DETACH".into());
    let lazy = flags.contains("MNT_DETACH");
    let headline = if lazy {
        format!("detach the old root at {target}: the host's files are now out of reach")
    } else {
        format!("unmount {target}")
    };
    Some(
        Narration::new(headline)
            .why("root.path")
            .syscall(format!("umount2(\"{target}\", {})", c_flags(&flags)))
            .shell(format!("umount{} {target}", if lazy { " -l" } else { "" }))
            .check_opt(mount_check(step, None)),
    )
}

fn chroot(step: &Step) -> Option<Narration> {
    let path = step.args.text("path")?;
    if step.args.text("mount_namespace").is_some() {
        return Some(
            Narration::new(format!(
                "chroot(2) into {path}: the container shares glassbox's mount namespace, where pivot_root(2) would move the root of every process on the host"
            ))
            .why("linux.namespaces[] has no \"mount\" entry")
            .syscall(format!("chdir(\"{path}\"); chroot(\".\")"))
            .shell(format!("cd {path} && chroot ."))
            .check_opt(step.container_pid.map(|p| format!("ls /proc/{p}/root/  (and findmnt | grep {path}: its mounts, on the host)"))),
        );
    }
    Some(
        Narration::new(format!(
            "--no-pivot: move {path} over / and chroot(2) into it (weaker than pivot_root: the host's root stays mounted underneath)"
        ))
        .why("glassbox's --no-pivot flag (not config.json)")
        .syscall(format!("mount(\"{path}\", \"/\", NULL, MS_MOVE, NULL); chroot(\".\")"))
        .shell(format!("cd {path} && mount --move . / && chroot ."))
        .check_opt(step.container_pid.map(|p| format!("ls /proc/{p}/root/"))),
    )
}

fn mask(step: &Step) -> Option<Narration> {
    let path = step.args.text("path")?;
    let how = step.args.text("how").unwrap_or_default();
    let (headline, syscall, shell) = if how.contains("tmpfs") {
        (
            format!("hide {path} under an empty read-only tmpfs"),
            format!("mount(\"tmpfs\", \"{path}\", \"tmpfs\", MS_RDONLY, NULL)"),
            format!("mount -t tmpfs -o ro tmpfs {path}"),
        )
    } else {
        (
            format!("hide {path} behind /dev/null: reading it gives nothing"),
            format!("mount(\"/dev/null\", \"{path}\", NULL, MS_BIND, NULL)"),
            format!("mount --bind /dev/null {path}"),
        )
    };
    Some(
        Narration::new(outcome(step, headline))
            .why("linux.maskedPaths[]")
            .syscall(syscall)
            .shell(shell)
            .check_opt(mount_check(step, Some(&path))),
    )
}

fn readonly(step: &Step) -> Option<Narration> {
    let path = step.args.text("path")?;
    Some(
        Narration::new(outcome(step, format!("make {path} read-only: bind it onto itself, then remount it ro")))
            .why("linux.readonlyPaths[]")
            .syscall(format!(
                "mount(\"{path}\", \"{path}\", NULL, MS_BIND | MS_REC, NULL), then again with MS_REMOUNT | MS_RDONLY"
            ))
            .shell(format!("mount --rbind {path} {path} && mount -o remount,bind,ro {path}"))
            .check_opt(mount_check(step, Some(&path))),
    )
}
