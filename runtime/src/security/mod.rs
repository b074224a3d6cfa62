//! Dropping privileges: everything the container's init does to *itself*
//! between "the root filesystem is ready" and `execve` of the user's program.
//!
//! The init process starts as root (in its own namespaces) with every
//! capability the runtime had. That power is needed to set things up, and then
//! it is given away, piece by piece. The order is not a matter of taste: each
//! step needs a privilege that a later step takes away.
//!
//! 1. **Process attributes** ([`apply_process_attributes`]): rlimits
//!    (setrlimit(2)), `oomScoreAdj` (proc(5)), `ioPriority` (ioprio_set(2)),
//!    `scheduler` (sched_setattr(2)), `linux.personality` (personality(2)).
//!    Raising limits or priorities needs CAP_SYS_RESOURCE / CAP_SYS_NICE, so
//!    this comes first, while we still hold them.
//! 2. **seccomp, if `noNewPrivileges` is false** ([`load_seccomp`]). Without
//!    no_new_privs the kernel only lets a process with CAP_SYS_ADMIN install a
//!    filter — and CAP_SYS_ADMIN is about to go. The price: the filter also
//!    judges the runtime's own last syscalls (setuid, capset, execve), so a
//!    profile must allow those.
//! 3. **Bounding set** ([`drop_bounding_set`]): PR_CAPBSET_DROP needs
//!    CAP_SETPCAP, which the user switch below would clear from the effective set.
//! 4. **User switch** ([`switch_user`]): setgroups → setgid → setuid. Changing
//!    uid from 0 normally empties the permitted set; PR_SET_KEEPCAPS keeps it so
//!    that step 5 still has something to choose from.
//! 5. **Capability sets** ([`apply_capabilities`]): effective, inheritable,
//!    permitted, then ambient (capabilities(7)).
//! 6. **no_new_privs** ([`set_no_new_privileges`]): from here on execve can
//!    never grant more (no setuid bits, no file capabilities).
//! 7. **seccomp, if `noNewPrivileges` is true**: as late as possible, so the
//!    filter only has to allow the `execve` that follows and the program itself.
//!
//! Then the caller execs the user's program. `glassbox exec` runs the same
//! steps for a process that joins a running container.
//!
//! Each file here owns one concept and splits *deciding* (a pure plan, unit
//! tested as any user) from *doing* (the syscalls). The plans are public so the
//! narrator and the event log can show what is about to happen, including the
//! notes (capabilities this kernel does not know, syscall names libseccomp does
//! not know on this architecture) that are skipped rather than fatal.

mod capabilities;
mod capability_sets;
mod memory_policy;
mod no_new_privs;
mod process_attrs;
mod rlimits;
mod scheduler;
mod seccomp;
mod seccomp_plan;
mod user;

#[cfg(test)]
mod root_tests;

pub use capabilities::{
    known_capabilities, plan_capabilities, to_kernel_capability, BoundingChange, CapabilityPlan, SkippedCapability,
};
pub use capability_sets::{bounding_set, prepare_names as prepare_capability_names, BoundingSet, CapabilitySets};
pub use memory_policy::{
    parse_nodes, plan_memory_policy, MemoryPolicyPlan, FLAGS as MEMORY_POLICY_FLAGS, MODES as MEMORY_POLICY_MODES,
};
pub use process_attrs::{ioprio_value, personality_value, IOPRIO_WHO_PROCESS};
pub use rlimits::{plan_rlimits, rlimit_name, rlimit_resource, RlimitSetting};
pub use scheduler::{plan_scheduler, SchedAttr};
use seccomp::CompiledFilter;
pub use seccomp::BPF_MAXINSNS;
use seccomp_plan::action_name;
pub use seccomp_plan::{check_seccomp_profile, plan_seccomp, SeccompPlan, SeccompRule, UnknownSyscall};
pub use user::{home_dir_from_passwd, home_for_uid, DEFAULT_UMASK};

use oci_spec::runtime::{LinuxCapabilities, LinuxSeccomp, Process, User};

use crate::recorder::step;

/// Everything that can go wrong while the init process gives up its
/// privileges. Each message names the config.json field and the value, the
/// kernel's answer, and what to check.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{field}: {name} soft limit {soft} is above its hard limit {hard}; the soft limit must be at most the hard limit")]
    RlimitSoftAboveHard { field: String, name: &'static str, soft: String, hard: String },

    #[error("{field}: {name} hard {hard} refused by the kernel (EPERM): raising a hard limit above the current one ({current}) needs CAP_SYS_RESOURCE, which this runtime does not have; lower the value or run with CAP_SYS_RESOURCE")]
    RlimitRaiseRefused { field: String, name: &'static str, hard: String, current: String },

    #[error("{field}: setrlimit({name}, soft {soft}, hard {hard}) failed: {source}; {hint}")]
    Rlimit { field: String, name: &'static str, soft: String, hard: String, source: nix::Error, hint: &'static str },

    #[error("process.oomScoreAdj: {value} is outside the kernel's range -1000..=1000")]
    OomScoreAdjOutOfRange { value: i32 },

    #[error("process.oomScoreAdj: writing {value} to {path} failed: {source}; {hint}")]
    OomScoreAdj { value: i32, path: &'static str, source: std::io::Error, hint: &'static str },

    #[error("process.ioPriority: priority {priority} is outside 0..=7 (0 is the highest level within a class)")]
    IoPriorityOutOfRange { priority: i64 },

    #[error("process.ioPriority: ioprio_set(class {class}, priority {priority}) failed: {source}; {hint}")]
    IoPriority { class: String, priority: i64, source: nix::Error, hint: &'static str },

    #[error("process.scheduler.{field}: {reason}")]
    SchedulerInvalid { field: &'static str, reason: String },

    #[error("process.scheduler: sched_setattr(policy {policy}) failed: {source}; {hint}")]
    Scheduler { policy: String, source: nix::Error, hint: &'static str },

    #[error("linux.personality.domain: personality({domain}) failed: {source}; check that this kernel can run that execution domain (LINUX32 needs 32-bit compat support)")]
    Personality { domain: String, source: nix::Error },

    #[error("{field}: {what} {cap} failed: {source}; {hint}")]
    Capability {
        field: &'static str,
        what: &'static str,
        cap: String,
        source: caps::errors::CapsError,
        hint: &'static str,
    },

    #[error("process.capabilities.effective: {cap} is not in process.capabilities.permitted; a capability can only be effective if it is permitted (capabilities(7))")]
    EffectiveNotPermitted { cap: String },

    #[error("process.user: {what} failed: {source}; {hint}")]
    User { what: String, source: nix::Error, hint: &'static str },

    #[error("process.user: prctl(PR_SET_KEEPCAPS, {value}) failed: {source}")]
    KeepCaps { value: bool, source: nix::Error },

    #[error("process.noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS, 1) failed: {source}")]
    NoNewPrivs { source: nix::Error },

    #[error("{field}: {value}: {reason}")]
    SeccompInvalid { field: String, value: String, reason: String },

    #[error("{field}: {value:?}: {reason}")]
    InvalidValue { field: String, value: String, reason: String },

    #[error("linux.memoryPolicy: set_mempolicy({mode}, nodes {nodes:?}) failed: {source}; {hint}")]
    MemoryPolicy { mode: String, nodes: String, source: nix::Error, hint: &'static str },

    #[error("{field}: SCMP_ACT_NOTIFY hands syscalls to a supervisor listening on linux.seccomp.listenerPath, which glassbox does not support yet; use another action")]
    SeccompNotify { field: String },

    #[error("linux.seccomp.syscalls: {rules} rules compile to a BPF program of {length} instructions; the kernel takes at most 4096 (BPF_MAXINSNS) and would refuse it with EINVAL: merge rules or drop some")]
    SeccompTooLong { rules: usize, length: usize },

    #[error("linux.seccomp: an anonymous memory file to compile the filter into: {source}")]
    SeccompExport { source: std::io::Error },

    #[error("linux.seccomp: loading the filter ({summary}) failed: {source}; {hint}")]
    SeccompLoad { summary: String, source: nix::Error, hint: &'static str },

    #[error("{field}: {what} failed: {source}; {hint}")]
    Seccomp { field: String, what: String, source: libseccomp::error::SeccompError, hint: &'static str },
}

/// What `linux` adds to a process's own attributes: the personality (the
/// init's only: `exec` never had it) and the NUMA memory policy (the
/// container's, for every process in it).
#[derive(Debug, Clone, Copy, Default)]
pub struct LinuxAttributes<'a> {
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    pub memory_policy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
}

/// rlimits, oomScoreAdj, ioPriority, scheduler (and personality and memory
/// policy from linux), then the umask: each one a step with the values given.
pub fn apply_process_attributes(process: &Process, linux: LinuxAttributes) -> Result<(), SecurityError> {
    let rlimits = plan_rlimits(process.rlimits().as_deref().unwrap_or_default())?;
    rlimits::apply_rlimits(&rlimits)?;
    if let Some(value) = process.oom_score_adj() {
        process_attrs::set_oom_score_adj(value)?;
        step("oom_score_adj", |a| {
            a.int("value", value.into());
        });
    }
    if let Some(io) = process.io_priority() {
        process_attrs::set_io_priority(io)?;
        step("ioprio", |a| {
            a.display("class", io.class()).int("priority", io.priority());
        });
    }
    if let Some(sched) = process.scheduler() {
        scheduler::set_scheduler(&plan_scheduler(sched)?)?;
        // The values given, as config.json spells them (policy, nice, priority, …).
        step("scheduler", |a| {
            if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(sched) {
                a.fields(&fields);
            }
        });
    }
    if let Some(p) = linux.personality {
        process_attrs::set_personality(p)?;
        step("personality", |a| {
            a.display("domain", p.domain());
        });
    }
    if let Some(policy) = linux.memory_policy {
        let plan = plan_memory_policy(policy)?;
        memory_policy::set_memory_policy(&plan)?;
        step("memory_policy", |a| {
            if !plan.flag_names.is_empty() {
                a.strs("flags", plan.flag_names.iter());
            }
            a.str("mode", &plan.mode_name).str("nodes", &plan.nodes);
        });
    }
    let mask = user::set_umask(process.user())?;
    step("umask", |a| {
        a.display("value", format_args!("{mask:04o}"));
    });
    Ok(())
}

/// `process.capabilities` as this kernel (the capabilities `bounding`
/// found it knows) will see them, planned once for both
/// [`drop_bounding_set`] and [`apply_capabilities`].
pub fn capability_plan(
    caps: Option<&LinuxCapabilities>,
    bounding: &BoundingSet,
) -> Result<CapabilityPlan, SecurityError> {
    plan_capabilities(caps, &known_capabilities(bounding.known))
}

/// Remove from the bounding set (`bounding`, as read before) every
/// capability the plan does not keep.
pub fn drop_bounding_set(plan: &CapabilityPlan, bounding: &BoundingSet) -> Result<BoundingChange, SecurityError> {
    capabilities::drop_bounding(plan, bounding.present)
}

/// setgroups(additionalGids) → setgid → setuid, keeping the permitted
/// capabilities across the uid change.
pub fn switch_user(user: &User) -> Result<(), SecurityError> {
    user::switch_user(user)?;
    let gids: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    step("set_user", |a| {
        a.value("additional_gids", &gids.into()).uint("gid", user.gid().into()).uint("uid", user.uid().into());
    });
    Ok(())
}

/// Set the effective, permitted, inheritable and ambient sets.
pub fn apply_capabilities(plan: &CapabilityPlan) -> Result<(), SecurityError> {
    capabilities::apply_sets(plan)
}

/// prctl(PR_SET_NO_NEW_PRIVS, 1).
pub fn set_no_new_privileges() -> Result<(), SecurityError> {
    no_new_privs::set()?;
    step("no_new_privs", |a| {
        a.bool("value", true);
    });
    Ok(())
}

/// Compile the OCI seccomp profile with libseccomp and load it. `when`
/// says at which point ("before dropping capabilities", "last, just before
/// execve") for the `load` step, recorded *before* loading: a profile may
/// forbid the write(2) that records it.
pub fn load_seccomp(profile: &LinuxSeccomp, when: &str) -> Result<(), SecurityError> {
    load_seccomp_filter(&compile_seccomp(profile)?, when)
}

/// Plan and compile the profile without loading it: a program longer than
/// the kernel takes ([`BPF_MAXINSNS`]) is refused here.
pub fn compile_seccomp(profile: &LinuxSeccomp) -> Result<SeccompFilter, SecurityError> {
    let plan = plan_seccomp(profile)?;
    let spelled = |v: serde_json::Result<serde_json::Value>| {
        v.ok().filter(|v| !v.is_null()).unwrap_or_else(|| serde_json::json!([]))
    };
    Ok(SeccompFilter {
        compiled: seccomp::compile(&plan)?,
        architectures: spelled(serde_json::to_value(profile.architectures())),
        default_action: action_name(plan.default_action),
        flags: spelled(serde_json::to_value(profile.flags())),
        rules: plan.rules.len(),
    })
}

/// Load a filter [`compile_seccomp`] made; `when` as for [`load_seccomp`].
pub fn load_seccomp_filter(filter: &SeccompFilter, when: &str) -> Result<(), SecurityError> {
    step("load", |a| {
        a.value("architectures", &filter.architectures)
            .str("default_action", &filter.default_action)
            .value("flags", &filter.flags)
            .uint("rules", filter.rules as u64)
            .str("when", when);
    });
    seccomp::load(&filter.compiled)
}

/// A compiled profile and what the `load` step says of it.
#[derive(Debug, Clone)]
pub struct SeccompFilter {
    compiled: CompiledFilter,
    architectures: serde_json::Value,
    default_action: String,
    flags: serde_json::Value,
    rules: usize,
}

impl SeccompFilter {
    /// Its length in BPF instructions.
    pub fn instructions(&self) -> usize {
        self.compiled.instructions()
    }
}
