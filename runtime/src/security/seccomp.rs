//! Loading the seccomp filter planned in `seccomp_plan.rs`: libseccomp
//! compiles the rules to a BPF program and installs it with seccomp(2)
//! (man7.org/linux/man-pages/man2/seccomp.2.html).
//!
//! A filter is for life: it cannot be removed, and children and execve'd
//! programs inherit it. libseccomp would normally also set no_new_privs when
//! loading (its SCMP_FLTATR_CTL_NNP attribute); glassbox turns that off,
//! because `process.noNewPrivileges` is the caller's decision, made in its own
//! step. Without no_new_privs the kernel demands CAP_SYS_ADMIN to load a
//! filter, which is why the caller loads it before dropping capabilities then.

use libseccomp::error::SeccompError;
use libseccomp::{ScmpFilterContext, ScmpSyscall};

use super::seccomp_plan::{action_name, SeccompPlan};
use super::SecurityError;

const FIELD: &str = "linux.seccomp";

fn fail(field: &str, what: String, hint: &'static str) -> impl FnOnce(SeccompError) -> SecurityError {
    let field = field.to_string();
    move |source| SecurityError::Seccomp { field, what, source, hint }
}

pub(crate) fn load(plan: &SeccompPlan) -> Result<(), SecurityError> {
    let mut ctx = ScmpFilterContext::new(plan.default_action).map_err(fail(
        "linux.seccomp.defaultAction",
        format!("creating a filter with default {}", action_name(plan.default_action)),
        "is this action supported by libseccomp and the kernel?",
    ))?;
    ctx.set_ctl_nnp(false).map_err(fail(
        FIELD,
        "turning off libseccomp's own no_new_privs".into(),
        "see seccomp_attr_set(3)",
    ))?;
    // Ask for the kernel's own errno when loading fails, not libseccomp's summary.
    let _ = ctx.set_api_sysrawrc(true);
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
    ctx.load().map_err(fail(
        FIELD,
        format!("loading the filter ({plan})"),
        "without no_new_privs loading needs CAP_SYS_ADMIN: load before dropping capabilities, or set process.noNewPrivileges",
    ))
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
