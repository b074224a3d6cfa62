//! Compiling and loading the seccomp filter planned in `seccomp_plan.rs`:
//! libseccomp compiles the rules to a BPF program, and glassbox installs that
//! program itself with seccomp(2)
//! (man7.org/linux/man-pages/man2/seccomp.2.html).
//!
//! Compiling and loading are two steps because they happen at two moments.
//! The kernel refuses a program longer than [`BPF_MAXINSNS`] instructions, and
//! how long a profile's program is depends on how libseccomp lays out its
//! rules (10,000 conditions on one syscall's argument make 10,053
//! instructions; 10,000 rules without conditions on one syscall make a
//! handful). So the init compiles before it reports `Ready`, where a profile
//! the kernel would refuse still fails `create`, and loads the program when
//! its time comes, possibly after `start`. Compiling once costs what
//! libseccomp's own seccomp_load(3) did (it compiles too): about 1.5 ms for
//! 370 rules on one architecture, ten times that on three.
//!
//! A filter is for life: it cannot be removed, and children and execve'd
//! programs inherit it. `process.noNewPrivileges` is the caller's decision,
//! made in its own step; without no_new_privs the kernel demands
//! CAP_SYS_ADMIN to load a filter, which is why the caller loads it before
//! dropping capabilities then.

use std::io::{Read, Seek};
use std::os::fd::FromRawFd;

use libseccomp::error::SeccompError;
use libseccomp::{ScmpFilterContext, ScmpSyscall};

use super::seccomp_plan::{action_name, SeccompPlan};
use super::SecurityError;

const FIELD: &str = "linux.seccomp";

/// The longest filter program the kernel takes, in instructions
/// (`BPF_MAXINSNS`, include/uapi/linux/bpf_common.h); a longer one is refused
/// with EINVAL.
pub const BPF_MAXINSNS: usize = 4096;

/// A compiled filter, ready for seccomp(2).
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    program: Vec<libc::sock_filter>,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2).
    flags: libc::c_ulong,
    /// The plan, said in one line, for errors.
    summary: String,
}

impl CompiledFilter {
    /// Its length in BPF instructions.
    pub fn instructions(&self) -> usize {
        self.program.len()
    }
}

fn fail(field: &str, what: String, hint: &'static str) -> impl FnOnce(SeccompError) -> SecurityError {
    let field = field.to_string();
    move |source| SecurityError::Seccomp { field, what, source, hint }
}

/// Compile `plan` to BPF and check that the kernel will take its length.
pub(crate) fn compile(plan: &SeccompPlan) -> Result<CompiledFilter, SecurityError> {
    let ctx = filter_context(plan)?;
    let program = export(&ctx)?;
    if program.len() > BPF_MAXINSNS {
        return Err(SecurityError::SeccompTooLong { rules: plan.rules.len(), length: program.len() });
    }
    let flag = |on: bool, bit: libc::c_ulong| if on { bit } else { 0 };
    let flags = flag(plan.tsync, libc::SECCOMP_FILTER_FLAG_TSYNC)
        | flag(plan.log, libc::SECCOMP_FILTER_FLAG_LOG)
        | flag(plan.spec_allow, libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW)
        | flag(plan.wait_killable_recv, libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
    Ok(CompiledFilter { program, flags, summary: plan.to_string() })
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program).
pub(crate) fn load(filter: &CompiledFilter) -> Result<(), SecurityError> {
    let prog =
        libc::sock_fprog { len: filter.program.len() as libc::c_ushort, filter: filter.program.as_ptr().cast_mut() };
    // SAFETY: `prog` points at `filter.program`, alive for the call; the kernel copies it.
    let rc = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, filter.flags, &prog) };
    if rc == 0 {
        return Ok(());
    }
    let source = nix::Error::last();
    let hint = match source {
        nix::Error::EACCES => "without no_new_privs loading needs CAP_SYS_ADMIN: load before dropping capabilities, or set process.noNewPrivileges",
        nix::Error::EINVAL => "is every flag in linux.seccomp.flags supported by this kernel?",
        _ => "see seccomp(2)",
    };
    Err(SecurityError::SeccompLoad { summary: filter.summary.clone(), source, hint })
}

/// libseccomp 2.5 exports only to a descriptor; an anonymous memory file
/// takes the program, which is then read back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SecurityError> {
    let io = |source| SecurityError::SeccompExport { source };
    // SAFETY: a valid C string; the new descriptor is owned by the File at once.
    let fd = unsafe { libc::memfd_create(c"seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by memfd_create and belongs to nothing else.
    let mut memfd = unsafe { std::fs::File::from_raw_fd(fd) };
    ctx.export_bpf(&memfd).map_err(fail(FIELD, "compiling the filter to BPF".into(), "see seccomp_export_bpf(3)"))?;
    let mut bytes = Vec::new();
    memfd.rewind().map_err(io)?;
    memfd.read_to_end(&mut bytes).map_err(io)?;
    // struct sock_filter: u16 code, u8 jt, u8 jf, u32 k, in this machine's byte order.
    Ok(bytes
        .chunks_exact(8)
        .map(|i| libc::sock_filter {
            code: u16::from_ne_bytes([i[0], i[1]]),
            jt: i[2],
            jf: i[3],
            k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
        })
        .collect())
}

fn filter_context(plan: &SeccompPlan) -> Result<ScmpFilterContext, SecurityError> {
    let mut ctx = ScmpFilterContext::new(plan.default_action).map_err(fail(
        "linux.seccomp.defaultAction",
        format!("creating a filter with default {}", action_name(plan.default_action)),
        "is this action supported by libseccomp and the kernel?",
    ))?;
    // Asked here so that a flag this libseccomp or kernel lacks is named
    // now; the flags themselves go to seccomp(2) in `load`.
    set_flags(&mut ctx, plan)?;
    for arch in &plan.architectures {
        let present = ctx.is_arch_present(*arch).unwrap_or(false);
        if !present {
            ctx.add_arch(*arch).map_err(fail(
                "linux.seccomp.architectures",
                format!("adding {arch:?}"),
                "libseccomp may not support that architecture",
            ))?;
        }
    }
    for rule in &plan.rules {
        let what = format!("adding {} for {}", action_name(rule.action), rule.name);
        let hint = "check the action and the argument conditions against seccomp_rule_add(3)";
        let syscall: ScmpSyscall = rule.syscall;
        if rule.conditions.is_empty() {
            ctx.add_rule(rule.action, syscall).map_err(fail(&rule.field, what, hint))?;
        } else {
            ctx.add_rule_conditional(rule.action, syscall, &rule.conditions).map_err(fail(&rule.field, what, hint))?;
        }
    }
    Ok(ctx)
}

fn set_flags(ctx: &mut ScmpFilterContext, plan: &SeccompPlan) -> Result<(), SecurityError> {
    let hint = "this libseccomp or kernel may not support the flag";
    let field = "linux.seccomp.flags";
    if plan.log {
        ctx.set_ctl_log(true).map_err(fail(field, "SECCOMP_FILTER_FLAG_LOG".into(), hint))?;
    }
    if plan.tsync {
        ctx.set_ctl_tsync(true).map_err(fail(field, "SECCOMP_FILTER_FLAG_TSYNC".into(), hint))?;
    }
    if plan.spec_allow {
        ctx.set_ctl_ssb(true).map_err(fail(field, "SECCOMP_FILTER_FLAG_SPEC_ALLOW".into(), hint))?;
    }
    if plan.wait_killable_recv {
        ctx.set_ctl_waitkill(true).map_err(fail(
            field,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".into(),
            "it needs libseccomp >= 2.6 and Linux >= 5.19",
        ))?;
    }
    Ok(())
}
