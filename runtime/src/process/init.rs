//! The container's init, from clone(2) to execve(2): an ordered list of
//! named steps, each a small function, readable top to bottom.
//!
//! This code runs in the child. It reports failure to the runtime over the
//! channel (naming the stage) and exits; it never returns to the runtime's
//! code, and it never panics across the clone boundary.

use std::convert::Infallible;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use glassbox_events::Stage;
use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process, Spec};

use crate::recorder::{step, Recorder};

use super::init_options::InitOptions;
use super::program::ExecTarget;
use super::protocol::{Channel, FromInit, FromRuntime};
use super::sealed_exec::{keep_open_across_exec, CapsToCarry, SealedExec};
use crate::namespaces::{self, NamespacePlan};
use crate::{hooks, rootfs, security, terminal};

/// Everything the init reads; it lives in the child's copy of the runtime's memory.
pub struct InitContext<'a> {
    pub opts: &'a InitOptions<'a>,
    pub plan: &'a NamespacePlan,
    pub channel: &'a Channel,
    pub exec_fifo_fd: RawFd,
}

/// A failed step: the stage it belongs to and what went wrong.
#[derive(Debug)]
pub struct StepError {
    pub stage: &'static str,
    pub message: String,
    /// The status the failing process exits with: the shell's 127 or 126
    /// when the program cannot be run ([`program`](super::program)), else 1.
    pub exit_code: i32,
}

impl StepError {
    pub fn new(stage: &'static str, message: impl Into<String>) -> StepError {
        StepError { stage, message: message.into(), exit_code: 1 }
    }

    pub fn with_exit_code(self, exit_code: i32) -> StepError {
        StepError { exit_code, ..self }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

/// Attach a stage name to any error, for `?` inside the steps.
pub trait InStage<T> {
    fn in_stage(self, stage: &'static str) -> Result<T, StepError>;
}

impl<T, E: std::fmt::Display> InStage<T> for Result<T, E> {
    fn in_stage(self, stage: &'static str) -> Result<T, StepError> {
        self.map_err(|e| StepError::new(stage, e.to_string()))
    }
}

/// The clone(2) entry point. Returns only as the child's exit code.
pub fn container_init(ctx: &InitContext) -> isize {
    // Before anything can fail: the error path below writes this process's
    // unwritten lines, and the copies of the runtime's are not ours to write.
    crate::recorder::start_in_child();
    keep_only_what_the_init_needs(ctx);
    // exec.fifo's write end, once `start` has opened the other: who to tell of a failure from then on.
    let mut start = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make_container(ctx, &mut start)));
    let err = match outcome {
        Ok(Err(e)) => e,
        Ok(Ok(never)) => match never {},
        Err(_) => StepError::new("init", "the init panicked (a glassbox bug)"),
    };
    // The record first: once the runtime hears of the failure it removes the state dir.
    ctx.opts.recorder.flush();
    let message = bounded_line(&err.message);
    match start {
        Some(fifo) => tell_start(fifo, err.stage, &message),
        None => {
            let failed = FromInit::Failed { stage: err.stage.into(), message, exit_code: err.exit_code };
            drop(ctx.channel.send(&failed))
        }
    }
    err.exit_code as isize
}

/// Nothing of the host may stay open in a process that will enter the
/// container (see [`fds`](super::fds)): the channel, exec.fifo, the event
/// sinks and the caller's `--preserve-fds` stay; the cgroup directory that
/// clone3(2) was given, the caller's other descriptors and the runtime's
/// lock go — a copy of the lock here would keep the container locked after
/// a runtime killed once the init was recorded (`start` and `delete` would
/// wait for this process forever).
fn keep_only_what_the_init_needs(ctx: &InitContext) {
    let mut keep = vec![ctx.channel.raw_fd(), ctx.exec_fifo_fd];
    keep.extend(super::fds::preserved(ctx.opts.preserve_fds));
    keep.extend(crate::recorder::sink_descriptors());
    super::fds::close_all_but(&keep);
}

/// A failure's message as one line of at most 4000 bytes: it must fit a
/// channel message, and one atomic write (PIPE_BUF, 4096) into exec.fifo.
/// (70,000 additionalGids once made a setgroups message too big to send.)
fn bounded_line(message: &str) -> String {
    let mut line = message.replace('\n', " ");
    if line.len() > 4000 {
        let mut end = 3997;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line
}

/// After `start` opened exec.fifo, `start` is the one waiting to hear how
/// the exec went: the failed stage and why, on the fifo, after the "0".
fn tell_start(mut fifo: std::fs::File, stage: &str, message: &str) {
    let _ = fifo.write_all(format!("{stage}\n{message}").as_bytes());
}

/// The order in which a container is made, from the inside.
fn make_container(ctx: &InitContext, start: &mut Option<std::fs::File>) -> Result<Infallible, StepError> {
    let spec = ctx.opts.spec;
    let process = spec.process().as_ref().expect("bundle checked process");
    let linux = spec.linux().as_ref().expect("bundle checked linux");
    let seccomp = linux.seccomp().as_ref();

    // 1. Namespaces: who we are and what we can see of the system.
    reset_signals()?;
    wait_for_go(ctx.channel)?;
    if ctx.opts.dumpable_until_go(ctx.plan) {
        // The maps are written: from now on nothing may open our /proc files (spawn.rs).
        super::fds::make_unreachable().in_stage("namespaces")?;
    }
    let rec = ctx.opts.recorder;
    let pid = rec.init_pid();
    join_v1_cgroups(rec, pid, ctx.opts.join_v1)?;
    rec.stage(pid, Stage::Namespaces, || {
        become_root_of_user_namespace(ctx)?;
        join_existing_namespaces(ctx)?;
        enter_new_cgroup_namespace(ctx)?;
        start_new_session()?;
        if ctx.opts.new_keyring {
            join_new_session_keyring()?;
        }
        Ok::<_, StepError>(())
    })?;

    // 2. The root filesystem, with the hooks at their points.
    let rootfs = rootfs_context(ctx);
    rec.stage(pid, Stage::Mounts, || {
        // Relative paths in config.json (bind sources) are relative to the bundle.
        nix::unistd::chdir(ctx.opts.bundle).in_stage("mounts")?;
        rootfs::prepare_mounts(&rootfs).in_stage("mounts")
    })?;
    rec.stage(pid, Stage::Devices, || rootfs::make_devices(&rootfs).in_stage("devices"))?;
    let state_json = let_runtime_run_create_hooks(ctx)?;
    rec.stage(pid, Stage::Hooks, || run_create_container_hooks(ctx, &state_json))?;
    rec.stage(pid, Stage::PivotRoot, || rootfs::enter(&rootfs, ctx.opts.no_pivot).in_stage("pivot_root"))?;
    set_up_terminal(ctx.channel, process, terminal::open_console_in_container)?;
    rec.stage(pid, Stage::Hostname, || set_hostname(spec))?;
    // Before the masks: readonlyPaths usually makes /proc/sys read-only.
    rec.stage(pid, Stage::Sysctl, || write_sysctls(spec))?;
    rec.stage(pid, Stage::Masks, || rootfs::finish(&rootfs).in_stage("masks"))?;

    // 3. Privileges, dropped for good. Whatever the runtime still needs of
    // the kernel goes before a seccomp filter, which may refuse it: the
    // sealed copy (memfd_create), close_range(2).
    let sealed = SealedExec::prepare().in_stage("exec")?;
    close_runtime_fds(ctx.opts.preserve_fds)?;
    let attributes = security::LinuxAttributes {
        personality: linux.personality().as_ref(),
        memory_policy: linux.memory_policy().as_ref(),
    };
    drop_privileges(rec, pid, process, attributes, seccomp)?;

    // 4. Wait for `start`, then become the user's program.
    // Everything that can be found out before `Ready` is, so that it fails `create`.
    let (exec, seccomp_last) = rec.stage(pid, Stage::Exec, || {
        Ok::<_, StepError>((ExecTarget::resolve(process, &sealed)?, compile_seccomp_last(process, seccomp)?))
    })?;
    super::lifeline::hand_over(ctx.channel)?;
    // Held until execve closes it (O_CLOEXEC): `start` reads until then.
    *start = Some(wait_for_start(ctx)?);
    // The init says it itself: it shares the sequence counter with `create`,
    // which `start`, a later process, does not.
    rec.status(pid, "running");
    rec.stage(pid, Stage::Hooks, || run_start_container_hooks(ctx, &state_json))?;
    let carry = CapsToCarry::lend().in_stage("exec")?;
    // glassbox-exec holds on to the fifo until its own execve, and says there if that fails.
    let report = start.as_ref().and_then(|fifo| keep_open_across_exec(fifo.as_raw_fd()));
    if let Some(filter) = &seccomp_last {
        let when = "last, just before execve";
        rec.stage(pid, Stage::Seccomp, || security::load_seccomp_filter(filter, when).in_stage("seccomp"))?;
    }
    rec.before_execve(pid, |a| exec.step_args(a));
    exec.exec(&sealed, carry.as_ref(), report)
}

/// rlimits and other process attributes, seccomp if it must come early,
/// then capabilities, user, cwd and no_new_privs: the order in which both a
/// container's init and a process joining it (`exec`) give up privileges.
pub(super) fn drop_privileges(
    rec: &Recorder,
    pid: i32,
    process: &Process,
    linux: security::LinuxAttributes,
    seccomp: Option<&LinuxSeccomp>,
) -> Result<(), StepError> {
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    rec.stage(pid, Stage::Rlimits, || security::apply_process_attributes(process, linux).in_stage("rlimits"))?;
    // Before a filter that may not allow openat2(2): opened now, entered as the user below.
    let cwd = super::cwd::open(process.cwd()).in_stage("exec")?;
    if let (Some(profile), false) = (seccomp, no_new_privs) {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: now, while we have it.
        let when = "before dropping capabilities";
        rec.stage(pid, Stage::Seccomp, || security::load_seccomp(profile, when).in_stage("seccomp"))?;
    }
    rec.stage(pid, Stage::Capabilities, || {
        // One read of the bounding set: which capabilities this kernel knows, and which it holds.
        let bounding_set = security::bounding_set();
        let plan =
            security::capability_plan(process.capabilities().as_ref(), &bounding_set).in_stage("capabilities")?;
        let before = security::CapabilitySets::read();
        let bounding = security::drop_bounding_set(&plan, &bounding_set).in_stage("capabilities")?;
        security::switch_user(process.user()).in_stage("capabilities")?;
        security::apply_capabilities(&plan).in_stage("capabilities")?;
        let after = security::CapabilitySets::read();
        step("capabilities", |a| {
            for (key, sets, bounding) in [("after", after, bounding.after), ("before", before, bounding.before)] {
                match sets {
                    Some(sets) => a.object(key, |o| sets.write(o, bounding)),
                    None => a.null(key),
                };
            }
        });
        change_to_cwd(process, &cwd)?;
        if no_new_privs {
            security::set_no_new_privileges().in_stage("capabilities")?;
        } else {
            step("no_new_privs", |a| {
                a.bool("value", false);
            });
        }
        Ok(())
    })
}

/// Into the cgroup's v1 directories, first thing after `Go` and before any
/// namespace of the container: this process writes itself in (a `cgroup`
/// stage; nothing to do without v1 directories).
pub(super) fn join_v1_cgroups(rec: &Recorder, pid: i32, dirs: &[PathBuf]) -> Result<(), StepError> {
    if dirs.is_empty() {
        return Ok(());
    }
    rec.stage(pid, Stage::Cgroup, || crate::cgroups::join_self(dirs, pid).in_stage("cgroup"))
}

/// With no_new_privs the filter loads unprivileged, and last, so it only has
/// to allow execve, not our own set-up calls.
pub(super) fn load_seccomp_last(
    rec: &Recorder,
    pid: i32,
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
) -> Result<(), StepError> {
    match (seccomp, process.no_new_privileges().unwrap_or(false)) {
        (Some(profile), true) => rec.stage(pid, Stage::Seccomp, || {
            security::load_seccomp(profile, "last, just before execve").in_stage("seccomp")
        }),
        _ => Ok(()),
    }
}

/// The filter to load last (with no_new_privs), compiled now: one the
/// kernel would refuse (too long) fails before `Ready`.
fn compile_seccomp_last(
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
) -> Result<Option<security::SeccompFilter>, StepError> {
    match (seccomp, process.no_new_privileges().unwrap_or(false)) {
        (Some(profile), true) => security::compile_seccomp(profile).map(Some).in_stage("seccomp"),
        _ => Ok(None),
    }
}

fn rootfs_context<'a>(ctx: &InitContext<'a>) -> rootfs::RootfsContext<'a> {
    let joins_user = ctx.plan.join_in_init.iter().any(|(t, _)| *t == LinuxNamespaceType::User);
    // Root of someone else's user namespace (rootless podman) is in one already.
    let runtime_in_one = ctx.opts.privilege == crate::rootless::Privilege::RootOfUserNamespace;
    rootfs::RootfsContext {
        spec: ctx.opts.spec,
        rootfs: ctx.opts.rootfs,
        in_user_namespace: ctx.plan.new_user || joins_user || runtime_in_one,
        cgroup_path: ctx.opts.cgroup_path,
        shares_runtime_mounts: ctx.plan.shares_mount_namespace(),
    }
}

/// Rust ignores SIGPIPE, and an ignored signal stays ignored across execve;
/// a shell pipeline in the container must die of SIGPIPE as usual. The
/// runtime may also have blocked signals it forwards.
pub(super) fn reset_signals() -> Result<(), StepError> {
    // SAFETY: restoring the default disposition installs no Rust handler.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.in_stage("init")?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).in_stage("init")
}

/// The runtime writes our uid/gid maps and puts us in the cgroup first.
pub(super) fn wait_for_go(channel: &Channel) -> Result<(), StepError> {
    match channel.recv::<FromRuntime>().in_stage("namespaces")? {
        (FromRuntime::Go, _) => Ok(()),
        (other, _) => Err(StepError::new("namespaces", format!("expected Go, got {other:?}"))),
    }
}

/// In a new user namespace we start as the overflow uid until the maps are
/// written; now that they are, become uid/gid 0 of the namespace.
fn become_root_of_user_namespace(ctx: &InitContext) -> Result<(), StepError> {
    if !ctx.plan.new_user {
        return Ok(());
    }
    let root_uid = nix::unistd::Uid::from_raw(0);
    let root_gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).in_stage("idmap")?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid).in_stage("idmap")?;
    // The new uid cleared the death signal; the next message to the runtime checks it.
    super::lifeline::die_with_runtime()
}

fn join_existing_namespaces(ctx: &InitContext) -> Result<(), StepError> {
    namespaces::join_all(&ctx.plan.join_in_init).in_stage("namespaces")
}

fn enter_new_cgroup_namespace(ctx: &InitContext) -> Result<(), StepError> {
    if ctx.plan.new_cgroup {
        namespaces::unshare(LinuxNamespaceType::Cgroup).in_stage("namespaces")?;
    }
    Ok(())
}

/// A session of its own: the container does not share the caller's
/// controlling terminal or job control.
pub(super) fn start_new_session() -> Result<(), StepError> {
    nix::unistd::setsid().map(drop).in_stage("namespaces")?;
    step("setsid", |_| {});
    Ok(())
}

/// A session keyring of its own (man7 keyrings(7)): otherwise the container
/// shares the caller's, and could read keys the host put there.
fn join_new_session_keyring() -> Result<(), StepError> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for a new anonymous keyring.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, std::ptr::null::<libc::c_char>()) };
    let err = std::io::Error::last_os_error();
    // Kernels without keyrings say ENOSYS: nothing to isolate then.
    if rc < 0 && err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(StepError::new(
            "namespaces",
            format!("keyctl(KEYCTL_JOIN_SESSION_KEYRING): {err} (use --no-new-keyring to skip)"),
        ));
    }
    if rc >= 0 {
        step("keyring", |_| {});
    }
    Ok(())
}

/// prestart and createRuntime hooks run in the runtime's namespaces, after
/// the mounts and before pivot_root: hand over and wait.
fn let_runtime_run_create_hooks(ctx: &InitContext) -> Result<String, StepError> {
    ctx.channel.send_then_flush(&FromInit::MountsDone).in_stage("hooks")?;
    match ctx.channel.recv::<FromRuntime>().in_stage("hooks")? {
        (FromRuntime::HooksDone { state_json }, _) => Ok(state_json),
        (other, _) => Err(StepError::new("hooks", format!("expected HooksDone, got {other:?}"))),
    }
}

fn hook_list(
    ctx: &InitContext,
    pick: fn(&oci_spec::runtime::Hooks) -> &Option<Vec<oci_spec::runtime::Hook>>,
) -> Vec<oci_spec::runtime::Hook> {
    ctx.opts.spec.hooks().as_ref().and_then(|h| pick(h).clone()).unwrap_or_default()
}

/// createContainer hooks run in the container's namespaces, before pivot_root.
fn run_create_container_hooks(ctx: &InitContext, state_json: &str) -> Result<(), StepError> {
    let list = hook_list(ctx, |h| h.create_container());
    hooks::run_hooks("createContainer", &list, state_json.as_bytes()).in_stage("hooks")
}

fn run_start_container_hooks(ctx: &InitContext, state_json: &str) -> Result<(), StepError> {
    let list = hook_list(ctx, |h| h.start_container());
    let running = state_json.replace("\"status\":\"created\"", "\"status\":\"running\"");
    hooks::run_hooks("startContainer", &list, running.as_bytes()).in_stage("hooks")
}

/// With `process.terminal`, the pty is made inside the container (its own
/// devpts) and the master goes to the runtime, which hands it on.
///
/// `open` makes the pty: the init's also becomes /dev/console, an exec'd
/// process's does not.
pub(super) fn set_up_terminal(
    channel: &Channel,
    process: &Process,
    open: fn(Option<oci_spec::runtime::Box>) -> Result<terminal::Console, terminal::TerminalError>,
) -> Result<(), StepError> {
    if !process.terminal().unwrap_or(false) {
        return Ok(());
    }
    let console = open(process.console_size()).in_stage("terminal")?;
    channel.send_with_fd(&FromInit::Console, Some(console.master.as_raw_fd())).in_stage("terminal")?;
    drop(console.master);
    terminal::make_controlling_terminal(console.slave).in_stage("terminal")
}

fn set_hostname(spec: &Spec) -> Result<(), StepError> {
    if let Some(name) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(name).in_stage("hostname")?;
        step("sethostname", |a| {
            a.str("name", name);
        });
    }
    if let Some(name) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        // SAFETY: a valid pointer and length for the duration of the call.
        let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        if rc != 0 {
            return Err(StepError::new(
                "hostname",
                format!("setdomainname({name:?}): {}", std::io::Error::last_os_error()),
            ));
        }
        step("setdomainname", |a| {
            a.str("name", name);
        });
    }
    Ok(())
}

/// `linux.sysctl`: `net.ipv4.ip_forward` is the file /proc/sys/net/ipv4/ip_forward.
fn write_sysctls(spec: &Spec) -> Result<(), StepError> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(());
    };
    let mut keys: Vec<_> = sysctl.into_iter().collect();
    keys.sort();
    for (key, value) in keys {
        let file = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&file, &value).map_err(|e| StepError::new(
            "sysctl",
            format!("linux.sysctl {key:?} = {value:?}: writing {}: {e} (is it a namespaced sysctl, and is its namespace new?)", file.display()),
        ))?;
        step("write", |a| {
            a.path("file", &file).str("key", &key).str("value", &value);
        });
    }
    Ok(())
}

/// Into process.cwd without leaving the container's root ([`cwd`](super::cwd)).
fn change_to_cwd(process: &Process, dir: &std::os::fd::OwnedFd) -> Result<(), StepError> {
    let cwd = process.cwd();
    super::cwd::enter(cwd, dir).in_stage("exec")?;
    step("chdir", |a| {
        a.path("cwd", cwd);
    });
    Ok(())
}

/// Block until `glassbox start` opens exec.fifo for reading, then tell it
/// we are going. The write end stays open: execve closes it (O_CLOEXEC),
/// which `start` reads as success; a failure before that is written into it.
fn wait_for_start(ctx: &InitContext) -> Result<std::fs::File, StepError> {
    crate::recorder::flush_before_waiting();
    let path = format!("/proc/self/fd/{}", ctx.exec_fifo_fd);
    let mut fifo = OpenOptions::new().write(true).custom_flags(libc::O_CLOEXEC).open(&path).map_err(|e| {
        StepError::new("exec", format!("reopening exec.fifo through {path}: {e} (is /proc mounted in the container?)"))
    })?;
    fifo.write_all(b"0").in_stage("exec")?;
    Ok(fifo)
}

/// Every descriptor past stdio and `--preserve-fds` closes at execve, so
/// nothing of the runtime's leaks into the container. Called before any
/// seccomp filter (a profile older than close_range(2) refuses it); what
/// the runtime opens after that is O_CLOEXEC already.
pub(super) fn close_runtime_fds(preserve_fds: i32) -> Result<(), StepError> {
    let first = 3 + preserve_fds.max(0) as u32;
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range(2) with the CLOEXEC flag only sets flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        return Err(StepError::new("exec", format!("close_range: {}", std::io::Error::last_os_error())));
    }
    Ok(())
}
