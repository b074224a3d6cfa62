//! `glassbox create`: make the container and leave its init waiting at the
//! exec.fifo, so `start` can run the user's program later.

mod cgroup;
mod checks;
mod files;
mod undo;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use self::cgroup::{apply_device_rules, CgroupChoice};
use self::checks::{check_console_options, refuse_joining_our_mount_namespace};
use self::files::make_exec_fifo;
pub(super) use self::files::{check_pid_file_dir, write_pid_file};
use self::undo::Undo;
use super::{Container, ContainerError};
use crate::bundle::Bundle;
use crate::cgroups::ContainerCgroup;
use crate::idmap::{self, IdMapPlan};
use crate::namespaces::NamespacePlan;
use crate::paths::Paths;
use crate::process::{spawn_init, FromInit, FromRuntime, InitOptions, SpawnedInit};
use crate::recorder::{FlagNames, Recorder};
use crate::rootfs::inherited::RootfsMount;
use crate::rootless;
use crate::state::{proc_stat, ContainerDir, ContainerState, Status};
use crate::{hooks, terminal};
use glassbox_events::{Stage, StepArgs};

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

impl Container {
    /// Make a container; returns it (status `created`) and, with
    /// `ConsoleHandling::Keep`, the pty master. The steps, in order, as the
    /// record shows them (process/protocol.rs draws the messages):
    pub fn create(paths: &Paths, opts: &CreateOptions) -> Result<(Container, Option<OwnedFd>), ContainerError> {
        // 0. What can be checked with nothing made; then the state
        // directory, the first thing made (undone on any error from here).
        crate::state::validate_id(&opts.id)?;
        if let Some(pid_file) = &opts.pid_file {
            check_pid_file_dir(pid_file)?;
        }
        let mut undo = Undo::new(&paths.cgroup_parent, ContainerDir::create(paths, &opts.id)?);
        crate::fault::point("create:state-dir");
        let dir_path = undo.dir().path.clone();
        let rec = Recorder::open(&dir_path, &opts.id);
        let me = std::process::id() as i32;

        // 1. The bundle: config.json read and checked.
        let bundle = load_bundle(&rec, me, opts)?;
        let linux = bundle.spec.linux().as_ref().expect("bundle checked linux");
        refuse_joining_our_mount_namespace(linux)?;

        // 2. Where the cgroup goes, what a user without root may do, and
        // the uid/gid maps: all decided before the cgroup is made.
        let choice = CgroupChoice::decide(paths, opts, linux)?;
        rootless::check(&bundle.spec, choice.privilege, choice.none_because.is_none())?;
        let uid_maps = linux.uid_mappings().clone().unwrap_or_default();
        let gid_maps = linux.gid_mappings().clone().unwrap_or_default();
        let id_maps = IdMapPlan::new(&uid_maps, &gid_maps, choice.privilege)?;
        let systemd_limits = choice.plan_systemd_limits(linux)?;

        // 3. The cgroup: its path noted first (a killed create is cleaned
        // up by it), then made with its limits — on cgroupfs.
        let unit = choice.systemd.as_ref().map(|sd| sd.unit.as_str());
        undo.dir().record_cgroup_path(choice.path_if_any(), unit)?;
        crate::fault::point("create:cgroup-recorded");
        choice.make_before_clone(&rec, me, &mut undo, linux)?;

        // 4. exec.fifo, where `start` will find the init waiting.
        let exec_fifo = dir_path.join("exec.fifo");
        make_exec_fifo(&exec_fifo)?;
        crate::fault::point("create:exec-fifo");

        // 5. The init: cloned into its namespaces and its cgroup.
        let plan = NamespacePlan::from_spec(&linux.namespaces().clone().unwrap_or_default());
        if plan.shares_mount_namespace() {
            note_rootfs_mounts(&mut undo, &bundle)?;
        }
        let init = clone_init(&rec, me, opts, &bundle, &plan, &choice, undo.cgroup.as_ref(), &exec_fifo)?;
        undo.init = Some(init.pid);
        let pid = init.pid.as_raw();
        crate::fault::point("create:clone");

        // 6. Settled before it goes on: its uid/gid maps, its v1 cgroups,
        // or the systemd scope that is to hold it.
        if plan.new_user {
            rec.stage(pid, Stage::Idmap, || idmap::write_id_maps(pid, &uid_maps, &gid_maps, &id_maps))?;
        }
        if let Some(cgroup) = &undo.cgroup {
            // cgroupfs's: a systemd scope is asked for just below.
            rec.stage(pid, Stage::Cgroup, || cgroup.finish_join(pid, init.in_cgroup_v2, plan.new_user))?;
        }
        choice.start_systemd_scope(&rec, &opts.id, pid, &systemd_limits, &mut undo)?;

        // 7. Go: the init makes its root filesystem, while the runtime
        // clears the place this container's record goes at delete.
        init.channel.send_then_flush(&FromRuntime::Go)?;
        crate::fault::point("create:go");
        rec.make_room_to_keep();
        let state = container_state(opts, &bundle, pid, &choice);
        expect(&init, &opts.id, |m| matches!(m, FromInit::MountsDone))?;
        crate::fault::point("create:mounts-done");

        // 8. Device rules (only now: the init had to mknod /dev first),
        // then the hooks that run in glassbox, not in the container.
        let rules = linux.resources().as_ref().and_then(|r| r.devices().clone()).unwrap_or_default();
        if let (false, Some(cgroup)) = (rules.is_empty(), &undo.cgroup) {
            rec.stage(pid, Stage::Devices, || apply_device_rules(cgroup, &rules))?;
        }
        run_runtime_hooks(&rec, me, &state)?;
        crate::fault::point("create:hooks");
        let created = serde_json::to_string(&state.to_oci_json(Status::Created)).expect("json");
        init.channel.send_then_flush(&FromRuntime::HooksDone { state_json: created })?;
        crate::fault::point("create:hooks-done");

        // 9. The terminal, then `Ready`: the init waits at exec.fifo.
        let console = receive_console(&init, &bundle, opts)?;
        expect(&init, &opts.id, |m| matches!(m, FromInit::Ready))?;
        crate::fault::point("create:ready");

        // 10. Recorded: state.json and the pid file. Until the init hears
        // `Recorded` it dies with us (process::lifeline): killed before
        // this point, create leaves no init nobody knows of.
        undo.dir().save(&state)?;
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

/// Step 1: the `bundle` stage.
fn load_bundle(rec: &Recorder, me: i32, opts: &CreateOptions) -> Result<Bundle, ContainerError> {
    Ok(rec.stage(me, Stage::Bundle, || {
        let bundle = Bundle::load(&opts.bundle)?;
        check_console_options(&bundle, &opts.console)?;
        crate::recorder::step("load", |a| load_args(a, &bundle));
        Ok::<_, ContainerError>(bundle)
    })?)
}

/// Without a mount namespace of its own the container's mounts are made in
/// ours: noted before any is made, so that delete finds them by it, even
/// after a killed create (rootfs/inherited.rs).
fn note_rootfs_mounts(undo: &mut Undo, bundle: &Bundle) -> Result<(), ContainerError> {
    let mount = RootfsMount::note(&bundle.rootfs)?;
    undo.dir().record_rootfs_mount(&mount.to_line())?;
    undo.rootfs_mount = Some(mount);
    Ok(())
}

/// Step 5: clone the init. Into its cgroup without waiting: clone3 starts
/// it in the v2 directory, and the init writes itself into the v1 ones —
/// unless it starts in a new user namespace, where the host's cgroup files
/// are not its to write (then the runtime moves it, as into any cgroup).
#[allow(clippy::too_many_arguments)]
fn clone_init(
    rec: &Recorder,
    me: i32,
    opts: &CreateOptions,
    bundle: &Bundle,
    plan: &NamespacePlan,
    choice: &CgroupChoice,
    cgroup: Option<&ContainerCgroup>,
    exec_fifo: &Path,
) -> Result<SpawnedInit, ContainerError> {
    let (cgroup_v2, cgroup_v1) = cgroup.map(|c| (c.v2_dir(), c.v1_dirs())).unwrap_or_default();
    let join_v1: &[_] = if plan.new_user { &[] } else { &cgroup_v1 };
    // The clone(2) is glassbox's act (its pid): the container's own namespaces stage follows in the init.
    Ok(rec.stage(me, Stage::Namespaces, || {
        let init = spawn_init(
            &InitOptions {
                spec: &bundle.spec,
                rootfs: &bundle.rootfs,
                bundle: &bundle.dir,
                cgroup_path: choice.path_if_any(),
                exec_fifo,
                no_pivot: opts.no_pivot,
                new_keyring: !opts.no_new_keyring,
                preserve_fds: opts.preserve_fds,
                recorder: rec,
                cgroup_v2: cgroup_v2.as_deref(),
                join_v1,
                privilege: choice.privilege,
            },
            plan,
        )?;
        rec.set_init_pid(init.pid.as_raw());
        rec.step(init.pid.as_raw(), Stage::Namespaces, "clone", |a| clone_args(a, plan));
        // What the container shares with glassbox, one step each (the narrator says what it means).
        for t in &plan.inherited {
            rec.step(init.pid.as_raw(), Stage::Namespaces, "inherit", |a| {
                a.str("type", crate::namespaces::proc_name(*t));
            });
        }
        Ok::<_, crate::process::ProcessError>(init)
    })?)
}

/// Step 7: what state.json will say, made while the init mounts.
fn container_state(opts: &CreateOptions, bundle: &Bundle, pid: i32, choice: &CgroupChoice) -> ContainerState {
    ContainerState {
        oci_version: bundle.spec.version().clone(),
        id: opts.id.clone(),
        pid,
        pid_start_time: proc_stat(pid).map(|(_, t)| t).unwrap_or(0),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        cgroup_path: choice.path_if_any().map(str::to_string),
        systemd_unit: choice.systemd.as_ref().map(|sd| sd.unit.clone()),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        owner: whoami(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        hooks: bundle.spec.hooks().clone().unwrap_or_default(),
    }
}

/// Step 8: prestart (deprecated, same moment) and createRuntime hooks run
/// here, in glassbox, not in the container: the runtime's pid.
fn run_runtime_hooks(rec: &Recorder, me: i32, state: &ContainerState) -> Result<(), ContainerError> {
    let hooks = &state.hooks;
    let (prestart, create_runtime) = (hooks.prestart().as_deref(), hooks.create_runtime().as_deref());
    if prestart.is_none() && create_runtime.is_none() {
        return Ok(());
    }
    let creating = serde_json::to_vec(&state.to_oci_json(Status::Creating)).expect("json");
    rec.stage(me, Stage::Hooks, || {
        hooks::run_hooks("prestart", prestart.unwrap_or_default(), &creating)?;
        hooks::run_hooks("createRuntime", create_runtime.unwrap_or_default(), &creating)
    })?;
    Ok(())
}

/// Step 9: with `process.terminal`, the init sends the pty master it made
/// inside the container: passed on to `--console-socket`, or kept by `run`.
fn receive_console(
    init: &SpawnedInit,
    bundle: &Bundle,
    opts: &CreateOptions,
) -> Result<Option<OwnedFd>, ContainerError> {
    if !bundle.spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false) {
        return Ok(None);
    }
    let master = expect(init, &opts.id, |m| matches!(m, FromInit::Console))?
        .ok_or_else(|| ContainerError::Usage("the init sent no pty master".into()))?;
    match &opts.console {
        ConsoleHandling::Socket(path) => terminal::send_to_console_socket(path, &master)?,
        ConsoleHandling::Keep => return Ok(Some(master)),
        ConsoleHandling::None => {}
    }
    Ok(None)
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

fn whoami() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string())
}
