//! The container's init, from clone(2) to execve(2): an ordered list of
//! named steps, each a small function, readable top to bottom.
//!
//! This code runs in the child. It reports failure to the runtime over the
//! channel (naming the stage) and exits; it never returns to the runtime's
//! code, and it never panics across the clone boundary.
//!
//! A failure names the stage the record shows it in: inside a
//! `rec.stage(pid, Stage::…, …)` the recorder attaches that stage, so the
//! steps never name it; the few calls between stages (the handshakes with
//! the runtime, the terminal, getting ready to exec) name theirs with
//! [`InStage::in_stage`], and the record gets their error line when the
//! init reports them.

use std::convert::Infallible;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use glassbox_events::Stage;
use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process, Spec};

use crate::recorder::{step, Recorder, Staged};

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

/// What went wrong in a step of making a process, before it is known in
/// which stage: the message the runtime passes on, and the status the
/// failing process exits with.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    /// The shell's 127 or 126 when the program cannot be run
    /// ([`program`](super::program)), else 1.
    pub exit_code: i32,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), exit_code: 1 }
    }

    pub fn with_exit_code(self, exit_code: i32) -> Failure {
        Failure { exit_code, ..self }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

/// Any error of the modules the steps call (nix's, the rootfs's, …) is a
/// failure, for `?`. `Failure` is itself no `std::error::Error`, which is
/// what lets one impl take all of them.
impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::new(e.to_string())
    }
}

/// A failed step: the stage it failed in, as the record shows it, and what
/// went wrong. There is no way to make one without a stage, so a failure
/// between stages does not compile until it is given one ([`InStage`]).
pub type StepError = Staged<Failure>;

/// A stage whose work failed with one of the modules' own errors.
impl<E: std::error::Error> From<Staged<E>> for StepError {
    fn from(failed: Staged<E>) -> StepError {
        Staged { stage: failed.stage, error: failed.error.into(), recorded: failed.recorded }
    }
}

/// The stage of a failure found between stages (inside one, the recorder
/// attaches it).
pub trait InStage<T> {
    fn in_stage(self, stage: Stage) -> Result<T, StepError>;
}

impl<T, E: Into<Failure>> InStage<T> for Result<T, E> {
    fn in_stage(self, stage: Stage) -> Result<T, StepError> {
        self.map_err(|e| Staged::between_stages(stage, e.into()))
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
        // A panic in a stage skipped its error line too.
        Err(_) => Staged::between_stages(panicked_in(), Failure::new("the init panicked (a glassbox bug)")),
    };
    // The record first: once the runtime hears of the failure it removes the state dir.
    let rec = ctx.opts.recorder;
    if start.is_some() || runtime_listens(ctx.channel) {
        rec.error(rec.init_pid(), &err);
    }
    rec.flush();
    let Staged { stage, error, .. } = err;
    let message = bounded_line(&error.message);
    match start {
        Some(fifo) => tell_start(fifo, stage, &message),
        None => drop(ctx.channel.send(&FromInit::Failed { stage, message, exit_code: error.exit_code })),
    }
    error.exit_code as isize
}

/// Whether the runtime still listens on `channel`. One that gave up on the
/// container (its own error is on record) has closed its end, and a
/// failure the child then meets — the channel closed under it — is no one's
/// to hear, and not its to record: the line would blame the child for the
/// runtime's giving up. A peek that does not wait: end-of-file is a closed
/// end.
pub(super) fn runtime_listens(channel: &Channel) -> bool {
    use nix::sys::socket::{recv, MsgFlags};
    let mut byte = [0u8; 1];
    !matches!(recv(channel.raw_fd(), &mut byte, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT), Ok(0))
}

/// The stage a panic broke: the one running, whose end was never reached.
/// Between stages there is no telling; most of what runs there gets the
/// exec ready, so a panic there is put down to exec.
fn panicked_in() -> Stage {
    crate::recorder::running_stage().unwrap_or(Stage::Exec)
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
fn tell_start(mut fifo: std::fs::File, stage: Stage, message: &str) {
    let _ = fifo.write_all(format!("{}\n{message}", stage.name()).as_bytes());
}

/// The order in which a container is made, from the inside.
fn make_container(ctx: &InitContext, start: &mut Option<std::fs::File>) -> Result<Infallible, StepError> {
    let spec = ctx.opts.spec;
    let process = spec.process().as_ref().expect("bundle checked process");
    let linux = spec.linux().as_ref().expect("bundle checked linux");
    let seccomp = linux.seccomp().as_ref();

    // 1. Namespaces: who we are and what we can see of the system. Until
    // Go, the record shows the runtime's side of them (clone, the maps).
    reset_signals().in_stage(Stage::Namespaces)?;
    wait_for_go(ctx.channel).in_stage(Stage::Namespaces)?;
    if ctx.opts.dumpable_until_go(ctx.plan) {
        // The maps are written: from now on nothing may open our /proc files (spawn.rs).
        super::fds::make_unreachable().in_stage(Stage::Namespaces)?;
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
        Ok::<_, Failure>(())
    })?;

    // 2. The root filesystem, with the hooks at their points.
    let rootfs = rootfs_context(ctx);
    rec.stage(pid, Stage::Mounts, || {
        // Relative paths in config.json (bind sources) are relative to the bundle.
        nix::unistd::chdir(ctx.opts.bundle)?;
        rootfs::prepare_mounts(&rootfs)?;
        Ok::<_, Failure>(())
    })?;
    rec.stage(pid, Stage::Devices, || rootfs::make_devices(&rootfs))?;
    // The handshake around the runtime's own hooks, next to this one's.
    let state_json = let_runtime_run_create_hooks(ctx).in_stage(Stage::Hooks)?;
    rec.stage(pid, Stage::Hooks, || run_create_container_hooks(ctx, &state_json))?;
    rec.stage(pid, Stage::PivotRoot, || rootfs::enter(&rootfs, ctx.opts.no_pivot))?;
    // The console is one more device, made in the container's devpts.
    set_up_terminal(ctx.channel, process, terminal::open_console_in_container).in_stage(Stage::Devices)?;
    rec.stage(pid, Stage::Hostname, || set_hostname(spec))?;
    // Before the masks: readonlyPaths usually makes /proc/sys read-only.
    rec.stage(pid, Stage::Sysctl, || write_sysctls(spec))?;
    rec.stage(pid, Stage::Masks, || rootfs::finish(&rootfs))?;

    // 3. Privileges, dropped for good. Whatever the runtime still needs of
    // the kernel goes before a seccomp filter, which may refuse it: the
    // sealed copy (memfd_create), close_range(2) — both for the exec.
    let sealed = SealedExec::prepare().in_stage(Stage::Exec)?;
    close_runtime_fds(ctx.opts.preserve_fds).in_stage(Stage::Exec)?;
    let attributes = security::LinuxAttributes {
        personality: linux.personality().as_ref(),
        memory_policy: linux.memory_policy().as_ref(),
    };
    drop_privileges(rec, pid, process, attributes, seccomp)?;

    // 4. Wait for `start`, then become the user's program.
    // Everything that can be found out before `Ready` is, so that it fails `create`.
    let (exec, seccomp_last) = rec.stage(pid, Stage::Exec, || {
        Ok::<_, Failure>((ExecTarget::resolve(process, &sealed)?, compile_seccomp_last(process, seccomp)?))
    })?;
    // From here on the record shows the exec stage's end, then its execve.
    super::lifeline::hand_over(ctx.channel).in_stage(Stage::Exec)?;
    // Held until execve closes it (O_CLOEXEC): `start` reads until then.
    *start = Some(wait_for_start(ctx).in_stage(Stage::Exec)?);
    // The init says it itself: it shares the sequence counter with `create`,
    // which `start`, a later process, does not.
    rec.status(pid, "running");
    rec.stage(pid, Stage::Hooks, || run_start_container_hooks(ctx, &state_json))?;
    let carry = CapsToCarry::lend().in_stage(Stage::Exec)?;
    // glassbox-exec holds on to the fifo until its own execve, and says there if that fails.
    let report = start.as_ref().and_then(|fifo| keep_open_across_exec(fifo.as_raw_fd()));
    if let Some(filter) = &seccomp_last {
        let when = "last, just before execve";
        rec.stage(pid, Stage::Seccomp, || security::load_seccomp_filter(filter, when))?;
    }
    rec.before_execve(pid, |a| exec.step_args(a));
    exec.exec(&sealed, carry.as_ref(), report).in_stage(Stage::Exec)
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
    rec.stage(pid, Stage::Rlimits, || security::apply_process_attributes(process, linux))?;
    // Before a filter that may not allow openat2(2): opened now, entered as
    // the user below, in the capabilities stage, which a bad cwd fails.
    let cwd = super::cwd::open(process.cwd()).in_stage(Stage::Capabilities)?;
    if let (Some(profile), false) = (seccomp, no_new_privs) {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: now, while we have it.
        let when = "before dropping capabilities";
        rec.stage(pid, Stage::Seccomp, || security::load_seccomp(profile, when))?;
    }
    rec.stage(pid, Stage::Capabilities, || {
        // One read of the bounding set: which capabilities this kernel knows, and which it holds.
        let bounding_set = security::bounding_set();
        let plan = security::capability_plan(process.capabilities().as_ref(), &bounding_set)?;
        let before = security::CapabilitySets::read();
        let bounding = security::drop_bounding_set(&plan, &bounding_set)?;
        security::switch_user(process.user())?;
        security::apply_capabilities(&plan)?;
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
            security::set_no_new_privileges()?;
        } else {
            step("no_new_privs", |a| {
                a.bool("value", false);
            });
        }
        Ok::<_, Failure>(())
    })?;
    Ok(())
}

/// Into the cgroup's v1 directories, first thing after `Go` and before any
/// namespace of the container: this process writes itself in (a `cgroup`
/// stage; nothing to do without v1 directories).
pub(super) fn join_v1_cgroups(rec: &Recorder, pid: i32, dirs: &[PathBuf]) -> Result<(), StepError> {
    if dirs.is_empty() {
        return Ok(());
    }
    Ok(rec.stage(pid, Stage::Cgroup, || crate::cgroups::join_self(dirs, pid))?)
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
        (Some(profile), true) => {
            Ok(rec.stage(pid, Stage::Seccomp, || security::load_seccomp(profile, "last, just before execve"))?)
        }
        _ => Ok(()),
    }
}

/// The filter to load last (with no_new_privs), compiled now: one the
/// kernel would refuse (too long) fails before `Ready`, in the exec stage.
fn compile_seccomp_last(
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
) -> Result<Option<security::SeccompFilter>, Failure> {
    match (seccomp, process.no_new_privileges().unwrap_or(false)) {
        (Some(profile), true) => Ok(Some(security::compile_seccomp(profile)?)),
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
pub(super) fn reset_signals() -> Result<(), Failure> {
    // SAFETY: restoring the default disposition installs no Rust handler.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }?;
    Ok(sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?)
}

/// The runtime writes our uid/gid maps and puts us in the cgroup first.
pub(super) fn wait_for_go(channel: &Channel) -> Result<(), Failure> {
    match channel.recv::<FromRuntime>()? {
        (FromRuntime::Go, _) => Ok(()),
        (other, _) => Err(Failure::new(format!("expected Go, got {other:?}"))),
    }
}

/// In a new user namespace we start as the overflow uid until the maps are
/// written; now that they are, become uid/gid 0 of the namespace.
fn become_root_of_user_namespace(ctx: &InitContext) -> Result<(), Failure> {
    if !ctx.plan.new_user {
        return Ok(());
    }
    let root_uid = nix::unistd::Uid::from_raw(0);
    let root_gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid)?;
    // The new uid cleared the death signal; the next message to the runtime checks it.
    super::lifeline::die_with_runtime()
}

fn join_existing_namespaces(ctx: &InitContext) -> Result<(), Failure> {
    Ok(namespaces::join_all(&ctx.plan.join_in_init)?)
}

fn enter_new_cgroup_namespace(ctx: &InitContext) -> Result<(), Failure> {
    if ctx.plan.new_cgroup {
        namespaces::unshare(LinuxNamespaceType::Cgroup)?;
    }
    Ok(())
}

/// A session of its own: the container does not share the caller's
/// controlling terminal or job control.
pub(super) fn start_new_session() -> Result<(), Failure> {
    nix::unistd::setsid()?;
    step("setsid", |_| {});
    Ok(())
}

/// A session keyring of its own (man7 keyrings(7)): otherwise the container
/// shares the caller's, and could read keys the host put there.
fn join_new_session_keyring() -> Result<(), Failure> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for a new anonymous keyring.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, std::ptr::null::<libc::c_char>()) };
    let err = std::io::Error::last_os_error();
    // Kernels without keyrings say ENOSYS: nothing to isolate then.
    if rc < 0 && err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(Failure::new(format!("keyctl(KEYCTL_JOIN_SESSION_KEYRING): {err} (use --no-new-keyring to skip)")));
    }
    if rc >= 0 {
        step("keyring", |_| {});
    }
    Ok(())
}

/// prestart and createRuntime hooks run in the runtime's namespaces, after
/// the mounts and before pivot_root: hand over and wait.
fn let_runtime_run_create_hooks(ctx: &InitContext) -> Result<String, Failure> {
    ctx.channel.send_then_flush(&FromInit::MountsDone)?;
    match ctx.channel.recv::<FromRuntime>()? {
        (FromRuntime::HooksDone { state_json }, _) => Ok(state_json),
        (other, _) => Err(Failure::new(format!("expected HooksDone, got {other:?}"))),
    }
}

fn hook_list(
    ctx: &InitContext,
    pick: fn(&oci_spec::runtime::Hooks) -> &Option<Vec<oci_spec::runtime::Hook>>,
) -> Vec<oci_spec::runtime::Hook> {
    ctx.opts.spec.hooks().as_ref().and_then(|h| pick(h).clone()).unwrap_or_default()
}

/// createContainer hooks run in the container's namespaces, before pivot_root.
fn run_create_container_hooks(ctx: &InitContext, state_json: &str) -> Result<(), hooks::HookError> {
    let list = hook_list(ctx, |h| h.create_container());
    hooks::run_hooks("createContainer", &list, state_json.as_bytes())
}

fn run_start_container_hooks(ctx: &InitContext, state_json: &str) -> Result<(), hooks::HookError> {
    let list = hook_list(ctx, |h| h.start_container());
    let running = state_json.replace("\"status\":\"created\"", "\"status\":\"running\"");
    hooks::run_hooks("startContainer", &list, running.as_bytes())
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
) -> Result<(), Failure> {
    if !process.terminal().unwrap_or(false) {
        return Ok(());
    }
    let console = open(process.console_size())?;
    channel.send_with_fd(&FromInit::Console, Some(console.master.as_raw_fd()))?;
    drop(console.master);
    Ok(terminal::make_controlling_terminal(console.slave)?)
}

fn set_hostname(spec: &Spec) -> Result<(), Failure> {
    if let Some(name) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(name)?;
        step("sethostname", |a| {
            a.str("name", name);
        });
    }
    if let Some(name) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        // SAFETY: a valid pointer and length for the duration of the call.
        let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        if rc != 0 {
            return Err(Failure::new(format!("setdomainname({name:?}): {}", std::io::Error::last_os_error())));
        }
        step("setdomainname", |a| {
            a.str("name", name);
        });
    }
    Ok(())
}

/// `linux.sysctl`: `net.ipv4.ip_forward` is the file /proc/sys/net/ipv4/ip_forward.
fn write_sysctls(spec: &Spec) -> Result<(), Failure> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(());
    };
    let mut keys: Vec<_> = sysctl.into_iter().collect();
    keys.sort();
    for (key, value) in keys {
        let file = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&file, &value).map_err(|e| Failure::new(
            format!("linux.sysctl {key:?} = {value:?}: writing {}: {e} (is it a namespaced sysctl, and is its namespace new?)", file.display()),
        ))?;
        step("write", |a| {
            a.path("file", &file).str("key", &key).str("value", &value);
        });
    }
    Ok(())
}

/// Into process.cwd without leaving the container's root ([`cwd`](super::cwd)).
fn change_to_cwd(process: &Process, dir: &std::os::fd::OwnedFd) -> Result<(), Failure> {
    let cwd = process.cwd();
    super::cwd::enter(cwd, dir)?;
    step("chdir", |a| {
        a.path("cwd", cwd);
    });
    Ok(())
}

/// Block until `glassbox start` opens exec.fifo for reading, then tell it
/// we are going. The write end stays open: execve closes it (O_CLOEXEC),
/// which `start` reads as success; a failure before that is written into it.
fn wait_for_start(ctx: &InitContext) -> Result<std::fs::File, Failure> {
    crate::recorder::flush_before_waiting();
    let path = format!("/proc/self/fd/{}", ctx.exec_fifo_fd);
    let mut fifo = OpenOptions::new().write(true).custom_flags(libc::O_CLOEXEC).open(&path).map_err(|e| {
        Failure::new(format!("reopening exec.fifo through {path}: {e} (is /proc mounted in the container?)"))
    })?;
    fifo.write_all(b"0")?;
    Ok(fifo)
}

/// Every descriptor past stdio and `--preserve-fds` closes at execve, so
/// nothing of the runtime's leaks into the container. Called before any
/// seccomp filter (a profile older than close_range(2) refuses it); what
/// the runtime opens after that is O_CLOEXEC already.
pub(super) fn close_runtime_fds(preserve_fds: i32) -> Result<(), Failure> {
    let first = 3 + preserve_fds.max(0) as u32;
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range(2) with the CLOEXEC flag only sets flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        return Err(Failure::new(format!("close_range: {}", std::io::Error::last_os_error())));
    }
    Ok(())
}
