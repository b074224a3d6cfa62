//! Tests that really drop privileges. Each runs its steps in a child made with
//! fork(2), so the test process keeps its own uid, capabilities and filter;
//! the child reports through its exit status and a pipe carrying the reason.
//! They need root and fail (never silently pass) without it.

use std::io::Read;
use std::os::fd::AsRawFd;

use nix::sys::resource::{getrlimit, Resource};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Uid};
use oci_spec::runtime::{LinuxCapabilities, LinuxPersonality, LinuxSeccomp, Process, User};

use super::*;

fn require_root() {
    assert!(
        Uid::effective().is_root(),
        "security root tests need root: they fork a child that changes its uid, capabilities, \
         rlimits and seccomp filter; run `cargo test` as root"
    );
}

/// Run `steps` in a forked child; Ok if it returned Ok, else its message.
fn in_child(steps: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    require_root();
    let (mut reader, writer) = nix::unistd::pipe().map(|(r, w)| (std::fs::File::from(r), w)).unwrap();
    // SAFETY: the child only runs `steps` (which touch the child alone) and _exit()s.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(reader);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(steps))
                .unwrap_or_else(|_| Err("the child panicked".into()));
            let code = match outcome {
                Ok(()) => 0,
                Err(msg) => {
                    // SAFETY: writing a live buffer to a pipe we own.
                    unsafe { libc::write(writer.as_raw_fd(), msg.as_ptr().cast(), msg.len()) };
                    1
                }
            };
            // SAFETY: leave without running the test harness's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let mut msg = String::new();
            let _ = reader.read_to_string(&mut msg);
            match waitpid(child, None).expect("waitpid") {
                WaitStatus::Exited(_, 0) => Ok(()),
                status => Err(format!("child ended with {status:?}: {msg}")),
            }
        }
    }
}

fn status_line(key: &str) -> Result<String, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .ok_or_else(|| format!("no {key} in /proc/self/status"))
}

fn expect_line(key: &str, want: &str) -> Result<(), String> {
    let got = status_line(key)?;
    if got == want {
        Ok(())
    } else {
        Err(format!("{key} is {got:?}, expected {want:?}"))
    }
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).unwrap()
}

/// What the init does first with `process.capabilities`: one read of the
/// bounding set, the plan made from it, the drop from it.
fn plan_and_drop_bounding(caps: &LinuxCapabilities) -> Result<(CapabilityPlan, BoundingChange), String> {
    let set = bounding_set();
    let plan = capability_plan(Some(caps), &set).map_err(|e| e.to_string())?;
    let change = drop_bounding_set(&plan, &set).map_err(|e| e.to_string())?;
    Ok((plan, change))
}

#[test]
fn bounding_user_switch_and_sets_leave_only_cap_kill() {
    let caps: LinuxCapabilities =
        json(r#"{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}"#);
    let user: User = json(r#"{"uid":1000,"gid":1000,"additionalGids":[10]}"#);
    in_child(|| {
        let status = std::fs::read_to_string("/proc/thread-self/status").map_err(|e| e.to_string())?;
        let bounding_line = status.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap_or_default();
        let bounding = u64::from_str_radix(bounding_line.trim(), 16).map_err(|e| e.to_string())?;
        let (plan, change) = plan_and_drop_bounding(&caps)?;
        // What the record shows: the set as the drop read it, and what is left.
        if change != (BoundingChange { before: bounding, after: 0x20 }) {
            return Err(format!("{change:x?}, expected before {bounding:#x}, after 0x20"));
        }
        switch_user(&user).map_err(|e| e.to_string())?;
        super::user::set_umask(&user).map_err(|e| e.to_string())?;
        apply_capabilities(&plan).map_err(|e| e.to_string())?;
        expect_line("Uid:", "1000\t1000\t1000\t1000")?;
        expect_line("Gid:", "1000\t1000\t1000\t1000")?;
        expect_line("Groups:", "10")?;
        expect_line("CapEff:", "0000000000000020")?;
        expect_line("CapPrm:", "0000000000000020")?;
        expect_line("CapInh:", "0000000000000000")?;
        expect_line("CapAmb:", "0000000000000000")?;
        expect_line("CapBnd:", "0000000000000020")?;
        // umask defaults to 0022 when config.json gives none.
        expect_line("Umask:", "0022")
    })
    .unwrap();
}

#[test]
fn ambient_capability_survives_as_non_root() {
    let caps: LinuxCapabilities = json(
        r#"{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_CHOWN"],
            "inheritable":["CAP_CHOWN"],"ambient":["CAP_CHOWN","CAP_KILL"]}"#,
    );
    let user: User = json(r#"{"uid":1000,"gid":1000,"umask":63}"#);
    in_child(|| {
        let (plan, _) = plan_and_drop_bounding(&caps)?;
        switch_user(&user).map_err(|e| e.to_string())?;
        super::user::set_umask(&user).map_err(|e| e.to_string())?;
        apply_capabilities(&plan).map_err(|e| e.to_string())?;
        expect_line("CapAmb:", "0000000000000001")?; // CAP_CHOWN only: CAP_KILL is not inheritable
        expect_line("CapInh:", "0000000000000001")?;
        expect_line("CapPrm:", "0000000000000021")?;
        expect_line("Groups:", "")?;
        expect_line("Umask:", "0077")
    })
    .unwrap();
}

#[test]
fn seccomp_errno_rule_makes_mkdir_fail_with_enosys() {
    let profile: LinuxSeccomp = json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
            "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("blocked");
    in_child(|| {
        load_seccomp(&profile, "test").map_err(|e| e.to_string())?;
        match std::fs::create_dir(&target) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
            other => return Err(format!("mkdir under the filter gave {other:?}, expected ENOSYS")),
        }
        // libseccomp must not have set no_new_privs on its own.
        expect_line("NoNewPrivs:", "0")
    })
    .unwrap();
    assert!(!target.exists());
}

#[test]
fn seccomp_after_no_new_privs_needs_no_cap_sys_admin() {
    let profile: LinuxSeccomp = json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
            {"names":["no_such_call"],"action":"SCMP_ACT_KILL"}]}"#,
    );
    let caps: LinuxCapabilities = json(r#"{"bounding":[],"effective":[],"permitted":[]}"#);
    let user: User = json(r#"{"uid":1000,"gid":1000}"#);
    in_child(|| {
        let (plan, _) = plan_and_drop_bounding(&caps)?;
        switch_user(&user).map_err(|e| e.to_string())?;
        apply_capabilities(&plan).map_err(|e| e.to_string())?;
        set_no_new_privileges().map_err(|e| e.to_string())?;
        load_seccomp(&profile, "test").map_err(|e| e.to_string())?;
        expect_line("NoNewPrivs:", "1")?;
        expect_line("Seccomp:", "2")?;
        // Through syscall(2): glibc's getppid "cannot fail" and would not set errno.
        // SAFETY: getppid has no arguments.
        let rc = unsafe { libc::syscall(libc::SYS_getppid) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        if rc != -1 || errno != Some(libc::EPERM) {
            return Err(format!("getppid gave {rc} / {errno:?}, expected -1 / EPERM"));
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn rlimits_apply_and_a_raised_hard_limit_is_explained() {
    let process: Process =
        json(r#"{"user":{"uid":0,"gid":0},"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","soft":100,"hard":200}]}"#);
    in_child(|| {
        apply_process_attributes(&process, LinuxAttributes::default()).map_err(|e| e.to_string())?;
        match getrlimit(Resource::RLIMIT_NOFILE) {
            Ok((100, 200)) => Ok(()),
            other => Err(format!("RLIMIT_NOFILE is {other:?}, expected (100, 200)")),
        }
    })
    .unwrap();

    let (_, current) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let too_high = current.max(29_999) + 1;
    let process: Process = json(&format!(
        r#"{{"user":{{"uid":0,"gid":0}},"cwd":"/","rlimits":[{{"type":"RLIMIT_NOFILE","soft":1024,"hard":{too_high}}}]}}"#
    ));
    let has_sys_resource = caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE).unwrap();
    in_child(|| {
        let outcome = apply_process_attributes(&process, LinuxAttributes::default());
        match (outcome, has_sys_resource) {
            (Ok(()), true) => Ok(()),
            (Err(e), false) => {
                let want = format!(
                    "process.rlimits[0]: RLIMIT_NOFILE hard {too_high} refused by the kernel (EPERM): raising a hard \
                     limit above the current one ({current}) needs CAP_SYS_RESOURCE"
                );
                if e.to_string().starts_with(&want) {
                    Ok(())
                } else {
                    Err(format!("got {e}\nwant {want}…"))
                }
            }
            (other, _) => Err(format!("unexpected {other:?} (CAP_SYS_RESOURCE: {has_sys_resource})")),
        }
    })
    .unwrap();
}

#[test]
fn oom_ionice_scheduler_and_personality_apply() {
    let process: Process = json(
        r#"{"user":{"uid":0,"gid":0},"cwd":"/","oomScoreAdj":500,
            "ioPriority":{"class":"IOPRIO_CLASS_BE","priority":6},
            "scheduler":{"policy":"SCHED_BATCH","nice":7}}"#,
    );
    let personality: LinuxPersonality = json(r#"{"domain":"LINUX"}"#);
    in_child(|| {
        apply_process_attributes(&process, LinuxAttributes { personality: Some(&personality), memory_policy: None })
            .map_err(|e| e.to_string())?;
        let oom = std::fs::read_to_string("/proc/self/oom_score_adj").map_err(|e| e.to_string())?;
        if oom.trim() != "500" {
            return Err(format!("oom_score_adj is {oom}"));
        }
        // SAFETY: integer-only syscalls.
        let (prio, policy) =
            unsafe { (libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0), libc::sched_getscheduler(0)) };
        if prio != (2 << 13) | 6 || policy != libc::SCHED_BATCH {
            return Err(format!("ioprio {prio:#x}, policy {policy}"));
        }
        // Going below what we inherited without CAP_SYS_RESOURCE must be explained.
        let lower: Process = json(r#"{"user":{"uid":0,"gid":0},"cwd":"/","oomScoreAdj":-500}"#);
        match apply_process_attributes(&lower, LinuxAttributes::default()) {
            Err(e) if e.to_string().contains("process.oomScoreAdj: writing -500") => Ok(()),
            Ok(())
                if caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE)
                    .unwrap_or(false) =>
            {
                Ok(())
            }
            other => Err(format!("lowering oomScoreAdj gave {other:?}")),
        }
    })
    .unwrap();
}

/// linux.memoryPolicy: the thread's policy as get_mempolicy(2) reads it
/// back, and as /proc/self/numa_maps shows it (node 0 exists everywhere).
#[test]
fn memory_policy_binds_the_process_to_its_nodes() {
    let process: Process = json(r#"{"user":{"uid":0,"gid":0},"cwd":"/"}"#);
    let policy: oci_spec::runtime::LinuxMemoryPolicy =
        json(r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES"]}"#);
    in_child(|| {
        let attributes = LinuxAttributes { personality: None, memory_policy: Some(&policy) };
        apply_process_attributes(&process, attributes).map_err(|e| e.to_string())?;
        let (mut mode, mut mask) = (-1i32, [0u64; 1]);
        // SAFETY: the kernel writes one int and one word of mask, both ours.
        let rc = unsafe {
            libc::syscall(libc::SYS_get_mempolicy, &mut mode as *mut i32, mask.as_mut_ptr(), 65u64, 0usize, 0u64)
        };
        if rc != 0 || mode != 2 | 1 << 15 || mask[0] != 1 {
            return Err(format!("get_mempolicy: rc {rc}, mode {mode:#x}, mask {:#x}", mask[0]));
        }
        let maps = std::fs::read_to_string("/proc/self/numa_maps").map_err(|e| e.to_string())?;
        match maps.lines().next() {
            Some(line) if line.contains(" bind=static:0 ") => Ok(()),
            other => Err(format!("numa_maps: {other:?}")),
        }
    })
    .unwrap();
}
