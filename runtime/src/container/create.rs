//! `glassbox create`: make the container and leave its init waiting at the
//! exec.fifo, so `start` can run the user's program later.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{Container, ContainerError};
use crate::bundle::Bundle;
use crate::cgroups::{self, ContainerCgroup, NotDelegated};
use crate::idmap::{self, IdMapPlan};
use crate::namespaces::NamespacePlan;
use crate::paths::Paths;
use crate::process::{spawn_init, FromInit, FromRuntime, InitOptions, SpawnedInit};
use crate::recorder::{FlagNames, Recorder};
use crate::rootfs::inherited::RootfsMount;
use crate::rootless::{self, Privilege};
use crate::state::{proc_stat, ContainerDir, ContainerState, Status};
use crate::{hooks, terminal};
use glassbox_events::{Stage, StepArgs};
use oci_spec::runtime::LinuxDeviceCgroup;

/// What to do with the pty master when `process.terminal` is true.
pub enum ConsoleHandling {
    /// `--console-socket`: send it to whoever listens there (containerd, podman).
    Socket(PathBuf),
    /// `glassbox run` in the foreground keeps it and copies to/from its own stdio.
    Keep,
    /// No terminal was offered.
    None,
}

pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console: ConsoleHandling,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// Return only once the init no longer dies with this process
    /// (`Released`): the `create` verb exits next. `run` goes on to
    /// `start`, which hears from the init only after that anyway.
    pub wait_for_release: bool,
    /// `--rootless`: skip a cgroup this process may not make (`Some(true)`),
    /// never (`Some(false)`), or decide from who runs glassbox (`None`).
    pub rootless: Option<bool>,
    /// `--systemd-cgroup`: the cgroup is a transient systemd scope
    /// (cgroups::systemd), asked for over D-Bus once the init exists.
    pub systemd_cgroup: bool,
}

/// Everything a failed create must undo, undone on drop unless disarmed.
struct Undo {
    cgroup_parent: String,
    init: Option<Pid>,
    /// The mounts made in the runtime's mount namespace (no namespace of its own).
    rootfs_mount: Option<RootfsMount>,
    cgroup: Option<ContainerCgroup>,
    dir: Option<ContainerDir>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.init {
            stop_init(pid);
        }
        // Once the init is gone, nothing mounts any more.
        if let Some(mount) = &self.rootfs_mount {
            if let Err(e) = mount.detach() {
                crate::cli::log::warn(&e.to_string());
            }
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.remove(&self.cgroup_parent);
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// Stop a half-made init. The runtime's end of the channel is closed by
/// now (the init's `SpawnedInit` drops before `Undo`), so an init waiting
/// on it — for `Go`, for `HooksDone`, for `Recorded` — exits by itself,
/// its last lines written: after `MountsDone` it writes them only once it
/// has told the runtime ([`Channel::send_then_flush`](crate::process::Channel::send_then_flush)).
/// One that is not gone within 10 ms (still in a createContainer hook, or
/// released and on its way to exec.fifo when `Released` went astray) is killed.
fn stop_init(pid: Pid) {
    for _ in 0..100 {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(std::time::Duration::from_micros(100)),
            _ => return,
        }
    }
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

impl Container {
    /// Make a container; returns it (status `created`) and, with
    /// `ConsoleHandling::Keep`, the pty master.
    pub fn create(paths: &Paths, opts: &CreateOptions) -> Result<(Container, Option<OwnedFd>), ContainerError> {
        crate::state::validate_id(&opts.id)?;
        if let Some(pid_file) = &opts.pid_file {
            check_pid_file_dir(pid_file)?;
        }
        let mut undo = Undo {
            cgroup_parent: paths.cgroup_parent.clone(),
            init: None,
            rootfs_mount: None,
            cgroup: None,
            dir: Some(ContainerDir::create(paths, &opts.id)?),
        };
        crate::fault::point("create:state-dir");
        let dir_path = undo.dir.as_ref().expect("just set").path.clone();
        let rec = Recorder::open(&dir_path, &opts.id);
        let me = std::process::id() as i32;
        let bundle = rec.stage(me, Stage::Bundle, || {
            let bundle = Bundle::load(&opts.bundle)?;
            check_console_options(&bundle, &opts.console)?;
            crate::recorder::step("load", |a| load_args(a, &bundle));
            Ok::<_, ContainerError>(bundle)
        })?;

        let linux = bundle.spec.linux().as_ref().expect("bundle checked linux");
        refuse_joining_our_mount_namespace(linux)?;
        let cgroups_path = linux.cgroups_path().as_deref();
        let systemd = match opts.systemd_cgroup {
            true => {
                let text = cgroups_path.map(|p| p.to_string_lossy());
                Some(cgroups::systemd::parse_cgroups_path(text.as_deref(), &opts.id)?)
            }
            false => None,
        };
        let cgroup_path = match &systemd {
            Some(sd) => sd.path.clone(),
            None => cgroups::cgroup_path(cgroups_path, &paths.cgroup_parent, &opts.id)?,
        };
        // Without root, a cgroup only where one was delegated (rootless.rs).
        let privilege = Privilege::of_this_process();
        let rootless = opts.rootless.unwrap_or(privilege.is_rootless());
        if rootless && systemd.is_some() {
            return Err(ContainerError::Usage(
                "--systemd-cgroup without root (a scope from the user's own systemd) is not supported yet: \
                 drop the flag (podman: --cgroup-manager cgroupfs)"
                    .into(),
            ));
        }
        let no_cgroup = match rootless {
            true => cgroups::may_make_without_root(&cgroup_path).err(),
            false => None,
        };
        rootless::check(&bundle.spec, privilege, no_cgroup.is_none())?;
        let uid_maps = linux.uid_mappings().clone().unwrap_or_default();
        let gid_maps = linux.gid_mappings().clone().unwrap_or_default();
        let id_maps = IdMapPlan::new(&uid_maps, &gid_maps, privilege)?;
        // With systemd the limits go to the scope once the init exists;
        // planned now, so that a bad value fails before anything is made.
        let systemd_writes = match (&systemd, linux.resources()) {
            (Some(_), Some(resources)) => {
                cgroups::plan_resources(resources, cgroups::host_version()).map_err(cgroups::CgroupError::from)?
            }
            _ => Vec::new(),
        };
        let dir = undo.dir.as_ref().expect("still ours");
        let unit = systemd.as_ref().map(|sd| sd.unit.as_str());
        dir.record_cgroup_path(no_cgroup.is_none().then_some(cgroup_path.as_str()), unit)?;
        crate::fault::point("create:cgroup-recorded");
        let cgroup = match (&no_cgroup, &systemd) {
            (None, Some(_)) => None,
            (None, None) => {
                let cgroup = undo.cgroup.insert(rec.stage(me, Stage::Cgroup, || {
                    let cgroup = ContainerCgroup::create(&cgroup_path, &paths.cgroup_parent)?;
                    crate::recorder::step("create", |a| {
                        a.str("path", &cgroup.path).str("version", cgroup.layout_name());
                    });
                    Ok::<_, cgroups::CgroupError>(cgroup)
                })?);
                crate::fault::point("create:cgroup");
                if let Some(resources) = linux.resources() {
                    rec.stage(me, Stage::Cgroup, || {
                        let writes = cgroups::plan_resources(resources, cgroup.version())?;
                        cgroup.apply(&writes).map(drop)
                    })?;
                }
                crate::fault::point("create:limits");
                Some(&*cgroup)
            }
            (Some(why), _) => {
                rec.stage(me, Stage::Cgroup, || {
                    record_no_cgroup(why, linux);
                    Ok::<_, ContainerError>(())
                })?;
                None
            }
        };
        let cgroup_path = (cgroup.is_some() || systemd.is_some()).then_some(cgroup_path);

        let exec_fifo = dir_path.join("exec.fifo");
        make_exec_fifo(&exec_fifo)?;
        crate::fault::point("create:exec-fifo");

        let plan = NamespacePlan::from_spec(&linux.namespaces().clone().unwrap_or_default());
        if plan.shares_mount_namespace() {
            // Noted before any mount is made: delete finds them by it, even after a killed create.
            let mount = RootfsMount::note(&bundle.rootfs)?;
            undo.dir.as_ref().expect("still ours").record_rootfs_mount(&mount.to_line())?;
            undo.rootfs_mount = Some(mount);
        }
        // Into its cgroup without waiting: clone3 starts the init in the v2
        // directory, and the init writes itself into the v1 ones — unless it
        // starts in a new user namespace, where the host's cgroup files are
        // not its to write (then the runtime moves it, as into any cgroup).
        let (cgroup_v2, cgroup_v1) = cgroup.map(|c| (c.v2_dir(), c.v1_dirs())).unwrap_or_default();
        let join_v1: &[_] = if plan.new_user { &[] } else { &cgroup_v1 };
        // The clone(2) is glassbox's act (its pid): the container's own namespaces stage follows in the init.
        let init = rec.stage(me, Stage::Namespaces, || {
            let init = spawn_init(
                &InitOptions {
                    spec: &bundle.spec,
                    rootfs: &bundle.rootfs,
                    bundle: &bundle.dir,
                    cgroup_path: cgroup_path.as_deref(),
                    exec_fifo: &exec_fifo,
                    no_pivot: opts.no_pivot,
                    new_keyring: !opts.no_new_keyring,
                    preserve_fds: opts.preserve_fds,
                    recorder: &rec,
                    cgroup_v2: cgroup_v2.as_deref(),
                    join_v1,
                    privilege,
                },
                &plan,
            )?;
            rec.set_init_pid(init.pid.as_raw());
            rec.step(init.pid.as_raw(), Stage::Namespaces, "clone", |a| clone_args(a, &plan));
            // What the container shares with glassbox, one step each (the narrator says what it means).
            for t in &plan.inherited {
                rec.step(init.pid.as_raw(), Stage::Namespaces, "inherit", |a| {
                    a.str("type", crate::namespaces::proc_name(*t));
                });
            }
            Ok::<_, crate::process::ProcessError>(init)
        })?;
        undo.init = Some(init.pid);
        let pid = init.pid.as_raw();
        crate::fault::point("create:clone");

        if plan.new_user {
            rec.stage(pid, Stage::Idmap, || idmap::write_id_maps(pid, &uid_maps, &gid_maps, &id_maps))?;
        }
        if let Some(cgroup) = cgroup {
            rec.stage(pid, Stage::Cgroup, || cgroup.finish_join(pid, init.in_cgroup_v2, plan.new_user))?;
        }
        // systemd: the scope is made now, holding the init, which waits for Go.
        if let Some(sd) = &systemd {
            let version = cgroups::host_version();
            let (scope, files) = rec.stage(pid, Stage::Cgroup, || {
                cgroups::systemd::start_container_scope(sd, &opts.id, pid, &systemd_writes, version)
            })?;
            let scope = undo.cgroup.insert(scope);
            if !files.is_empty() {
                rec.stage(pid, Stage::Cgroup, || scope.apply(&files).map(drop))?;
            }
        }
        let cgroup = undo.cgroup.as_ref();
        init.channel.send_then_flush(&FromRuntime::Go)?;
        crate::fault::point("create:go");
        // The runtime waits while the init mounts the rootfs: time to clear
        // the place where this container's record goes at delete.
        rec.make_room_to_keep();

        let state = ContainerState {
            oci_version: bundle.spec.version().clone(),
            id: opts.id.clone(),
            pid,
            pid_start_time: proc_stat(pid).map(|(_, t)| t).unwrap_or(0),
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            cgroup_path: cgroup_path.clone(),
            systemd_unit: systemd.as_ref().map(|sd| sd.unit.clone()),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            owner: whoami(),
            annotations: bundle.spec.annotations().clone().unwrap_or_default(),
            hooks: bundle.spec.hooks().clone().unwrap_or_default(),
        };

        expect(&init, &opts.id, |m| matches!(m, FromInit::MountsDone))?;
        crate::fault::point("create:mounts-done");
        // Device rules only now: the init had to mknod the container's /dev first.
        let rules = linux.resources().as_ref().and_then(|r| r.devices().clone()).unwrap_or_default();
        if let (false, Some(cgroup)) = (rules.is_empty(), cgroup) {
            rec.stage(pid, Stage::Devices, || apply_device_rules(cgroup, &rules))?;
        }
        let hooks = &state.hooks;
        let creating = serde_json::to_vec(&state.to_oci_json(Status::Creating)).expect("json");
        let (prestart, create_runtime) = (hooks.prestart().clone(), hooks.create_runtime().clone());
        if prestart.is_some() || create_runtime.is_some() {
            // They run here, in glassbox, not in the container: the runtime's pid.
            rec.stage(me, Stage::Hooks, || {
                hooks::run_hooks("prestart", prestart.as_deref().unwrap_or_default(), &creating)?;
                hooks::run_hooks("createRuntime", create_runtime.as_deref().unwrap_or_default(), &creating)
            })?;
        }
        crate::fault::point("create:hooks");
        let created = serde_json::to_string(&state.to_oci_json(Status::Created)).expect("json");
        init.channel.send_then_flush(&FromRuntime::HooksDone { state_json: created })?;
        crate::fault::point("create:hooks-done");

        let mut console = None;
        if bundle.spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false) {
            let master = expect(&init, &opts.id, |m| matches!(m, FromInit::Console))?
                .ok_or_else(|| ContainerError::Usage("the init sent no pty master".into()))?;
            match &opts.console {
                ConsoleHandling::Socket(path) => terminal::send_to_console_socket(path, &master)?,
                ConsoleHandling::Keep => console = Some(master),
                ConsoleHandling::None => {}
            }
        }
        expect(&init, &opts.id, |m| matches!(m, FromInit::Ready))?;
        crate::fault::point("create:ready");

        // Until the init hears `Recorded` it dies with us (process::lifeline):
        // killed before this point, create leaves no init nobody knows of.
        let dir = undo.dir.as_ref().expect("still ours");
        dir.save(&state)?;
        crate::fault::point("create:state-json");
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        init.channel.send_then_flush(&FromRuntime::Recorded)?;
        crate::fault::point("create:recorded");
        rec.status(pid, "created");
        rec.report_drops(pid);
        if opts.wait_for_release {
            expect(&init, &opts.id, |m| matches!(m, FromInit::Released))?;
            crate::fault::point("create:released");
        }
        // Made: from here on the container is the caller's to delete.
        let dir = undo.dir.take().expect("still ours");
        undo.init = None;
        undo.rootfs_mount = None;
        let cgroup = undo.cgroup.take();
        Ok((Container { paths: paths.clone(), dir, state, cgroup }, console))
    }
}

/// `{"type": "mount", "path": "/proc/1/ns/mnt"}`, glassbox's own mount
/// namespace named by path: the init would prepare and pivot_root *there*,
/// moving the root of every process on the host. Leaving "mount" out says
/// the same thing, and that case is made safely (rootfs/inherited.rs).
fn refuse_joining_our_mount_namespace(linux: &oci_spec::runtime::Linux) -> Result<(), ContainerError> {
    use oci_spec::runtime::LinuxNamespaceType::Mount;
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let Some(path) = namespaces.iter().find(|ns| ns.typ() == Mount).and_then(|ns| ns.path().as_ref()) else {
        return Ok(());
    };
    if !crate::namespaces::is_ours(Mount, path) {
        return Ok(());
    }
    Err(crate::bundle::BundleError::Unsupported {
        field: "linux.namespaces",
        message: format!(
            "the mount namespace {} is glassbox's own: joining it, the init would pivot_root there and move the root of every process on the host; leave \"mount\" out of linux.namespaces instead: the container then shares it, and glassbox mounts only below its rootfs",
            path.display()
        ),
    }
    .into())
}

/// The `no_cgroup` step: why the container has none (`reason`, the
/// directory that refused), and how many `linux.resources.devices` rules
/// are left unenforced for want of one (rootless::check refused any limit).
fn record_no_cgroup(why: &NotDelegated, linux: &oci_spec::runtime::Linux) {
    let rules = linux.resources().as_ref().and_then(|r| r.devices().as_ref()).map_or(0, Vec::len);
    crate::recorder::step("no_cgroup", |a| {
        a.uint("device_rules_ignored", rules as u64).path("dir", &why.dir).display("reason", why);
    });
}

/// The clone(2) that made the init, as a `step` event.
fn clone_args(a: &mut StepArgs, plan: &NamespacePlan) {
    a.display("equivalent", plan.unshare_equivalent()).display("flags", FlagNames(plan.clone_flags));
}

/// The `load` step: which config.json, for which rootfs.
fn load_args(a: &mut StepArgs, bundle: &Bundle) {
    let root = bundle.spec.root().as_ref();
    a.path("config", &bundle.dir.join("config.json"))
        .str("oci_version", bundle.spec.version())
        .bool("readonly", root.and_then(|r| r.readonly()).unwrap_or(false))
        .path("rootfs", &bundle.rootfs);
}

fn apply_device_rules(cgroup: &ContainerCgroup, rules: &[LinuxDeviceCgroup]) -> Result<(), ContainerError> {
    // The same rules either way: lines for devices.allow/deny on v1, an
    // eBPF program built from those lines on v2.
    let writes = cgroups::plan_device_rules_v1(rules);
    if cgroup.version() == cgroups::CgroupVersion::V2 {
        let dir = cgroup.dir_of("devices").unwrap_or_default();
        let attached = cgroup.attach_device_filter(&writes);
        let n = attached.as_ref().copied().unwrap_or(writes.len());
        crate::recorder::step("device_filter", |a| {
            a.path("cgroup", &dir).result("result", &attached).uint("rules", n as u64);
        });
        attached?;
        return Ok(());
    }
    cgroup.apply(&writes)?;
    Ok(())
}

/// runc's rules: a terminal needs somewhere to go, and a console socket
/// without a terminal is a mistake worth reporting.
fn check_console_options(bundle: &Bundle, console: &ConsoleHandling) -> Result<(), ContainerError> {
    let terminal = bundle.spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    match (terminal, console) {
        (true, ConsoleHandling::None) => Err(ContainerError::Usage(
            "process.terminal is true but no --console-socket was given: pass one, or set terminal to false".into(),
        )),
        (false, ConsoleHandling::Socket(_)) => {
            Err(ContainerError::Usage("--console-socket was given but process.terminal is false in config.json".into()))
        }
        _ => Ok(()),
    }
}

/// Receive the next message from the init; a `Failed` becomes the error the
/// user sees, naming the stage. Returns the descriptor riding on it.
fn expect(init: &SpawnedInit, id: &str, ok: impl Fn(&FromInit) -> bool) -> Result<Option<OwnedFd>, ContainerError> {
    let failed =
        |stage: String, message: String, exit_code| ContainerError::Init { id: id.into(), stage, message, exit_code };
    match init.channel.recv::<FromInit>() {
        Ok((FromInit::Failed { stage, message, exit_code }, _)) => Err(failed(stage.name().into(), message, exit_code)),
        Ok((m, fd)) if ok(&m) => Ok(fd),
        Ok((m, _)) => Err(failed("protocol".into(), format!("unexpected message {m:?}"), 1)),
        Err(e) => Err(failed("init".into(), format!("{e}; {}", how_it_ended(init.pid)), 1)),
    }
}

/// The init vanished without a word: say how it ended. A SIGKILL while it
/// is still setting up is almost always the cgroup's memory limit.
fn how_it_ended(pid: Pid) -> String {
    match waitpid(pid, None) {
        Ok(nix::sys::wait::WaitStatus::Signaled(_, Signal::SIGKILL, _)) => {
            "it was killed by SIGKILL (often the OOM killer: is linux.resources.memory.limit too small?)".into()
        }
        Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => format!("it was killed by {sig}"),
        Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => format!("it exited with code {code}"),
        _ => "its exit status is unknown".into(),
    }
}

/// exec.fifo: the init blocks opening it for writing until `start` opens it
/// for reading. 0622 so an init that changed user can still open it.
fn make_exec_fifo(path: &Path) -> Result<(), ContainerError> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622)).map_err(|e| ContainerError::Io {
        what: "mkfifo exec.fifo",
        path: path.into(),
        source: e.into(),
    })?;
    // mkfifo applies the umask; the mode must be exactly 0622.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o622)).map_err(|source| ContainerError::Io {
        what: "chmod exec.fifo",
        path: path.into(),
        source,
    })
}

/// `--pid-file` is written only once the process exists; a directory that
/// is not there is found out before anything is made, not after.
pub(super) fn check_pid_file_dir(path: &Path) -> Result<(), ContainerError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let problem = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => "is not a directory".to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
        Err(e) => format!("cannot be looked at: {e}"),
    };
    Err(ContainerError::Usage(format!(
        "--pid-file {}: {} {problem}; make the directory first, or name a pid file in one that exists",
        path.display(),
        dir.display()
    )))
}

/// `--pid-file`: written atomically, as containerd and podman read it as soon as create returns.
pub(super) fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let io = |source| ContainerError::Io { what: "writing --pid-file", path: path.into(), source };
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let written = std::fs::write(&tmp, pid.to_string()).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A half-written or unmovable temporary file is ours to remove.
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}

fn whoami() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string())
}
