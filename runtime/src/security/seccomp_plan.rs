//! Deciding the seccomp filter: `linux.seccomp` from config.json translated
//! into libseccomp's terms (seccomp_rule_add(3),
//! man7.org/linux/man-pages/man3/seccomp_rule_add.3.html), without loading
//! anything. The plan is what the narrator shows and what the tests check.
//!
//! An OCI profile is a default action plus rules "for these syscall names,
//! when these argument conditions hold, take this action". Syscall names that
//! libseccomp does not know on this architecture are skipped, as runc does — a
//! profile written for many architectures and kernels names calls that do not
//! exist everywhere — but they are counted, so the summary can say so.

use std::fmt;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpSyscall};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};

use super::SecurityError;

/// One seccomp_rule_add call: one syscall, one action, conditions AND-ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompRule {
    /// e.g. `linux.seccomp.syscalls[3]`, for error messages.
    pub field: String,
    pub name: String,
    pub syscall: ScmpSyscall,
    pub action: ScmpAction,
    pub conditions: Vec<ScmpArgCompare>,
}

/// A syscall name this libseccomp cannot resolve for the native architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSyscall {
    pub field: String,
    pub name: String,
}

/// The whole filter, ready to be compiled and loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompPlan {
    pub default_action: ScmpAction,
    /// Extra architectures the filter also covers (the native one always is).
    pub architectures: Vec<ScmpArch>,
    /// SECCOMP_FILTER_FLAG_LOG: log every action except ALLOW.
    pub log: bool,
    /// SECCOMP_FILTER_FLAG_TSYNC: apply to every thread of the process.
    pub tsync: bool,
    /// SECCOMP_FILTER_FLAG_SPEC_ALLOW: leave Spectre store-bypass mitigation off.
    pub spec_allow: bool,
    /// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (needs libseccomp >= 2.6).
    pub wait_killable_recv: bool,
    pub rules: Vec<SeccompRule>,
    pub unknown: Vec<UnknownSyscall>,
    /// Rules whose action equals the default: libseccomp refuses them, and
    /// they change nothing, so they are left out.
    pub same_as_default: usize,
}

impl fmt::Display for SeccompPlan {
    /// e.g. `default SCMP_ACT_ERRNO(EPERM); 312 rules; 2 names unknown here (foo, bar)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "default {}; {} rules", action_name(self.default_action), self.rules.len())?;
        if !self.unknown.is_empty() {
            let names: Vec<&str> = self.unknown.iter().map(|u| u.name.as_str()).collect();
            write!(f, "; {} names unknown here ({})", names.len(), names.join(", "))?;
        }
        if self.same_as_default > 0 {
            write!(f, "; {} same as the default, left out", self.same_as_default)?;
        }
        Ok(())
    }
}

/// The OCI spelling of an action, with its errno spelled out when it is one.
pub(crate) fn action_name(a: ScmpAction) -> String {
    match a {
        ScmpAction::KillProcess => "SCMP_ACT_KILL_PROCESS".into(),
        ScmpAction::KillThread => "SCMP_ACT_KILL_THREAD".into(),
        ScmpAction::Trap => "SCMP_ACT_TRAP".into(),
        ScmpAction::Notify => "SCMP_ACT_NOTIFY".into(),
        ScmpAction::Errno(e) => format!("SCMP_ACT_ERRNO({})", nix::Error::from_raw(e)),
        ScmpAction::Trace(t) => format!("SCMP_ACT_TRACE({t})"),
        ScmpAction::Log => "SCMP_ACT_LOG".into(),
        ScmpAction::Allow => "SCMP_ACT_ALLOW".into(),
        other => format!("{other:?}"),
    }
}

fn invalid(field: impl Into<String>, value: impl fmt::Display, reason: impl Into<String>) -> SecurityError {
    SecurityError::SeccompInvalid { field: field.into(), value: value.to_string(), reason: reason.into() }
}

/// OCI action + errnoRet → libseccomp action. ERRNO and TRACE default to EPERM.
fn to_action(
    field: &str,
    errno_field: &str,
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
) -> Result<ScmpAction, SecurityError> {
    let data = errno_ret.unwrap_or(libc::EPERM as u32);
    // The kernel keeps 16 bits of data, and errno values stop at 4095.
    if data > 4095 {
        return Err(invalid(errno_field, data, "errnoRet must be in 0..=4095 (the kernel's largest errno)"));
    }
    Ok(match action {
        // The spec's SCMP_ACT_KILL is libseccomp's historical name for KILL_THREAD.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(data as i32),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(data as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => return Err(SecurityError::SeccompNotify { field: field.to_string() }),
    })
}

fn to_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn to_condition(field: &str, arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, SecurityError> {
    if arg.index() > 5 {
        return Err(invalid(format!("{field}.index"), arg.index(), "a syscall has six arguments, numbered 0..=5"));
    }
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // (arg & value) == valueTwo: `value` is the mask.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return Ok(ScmpArgCompare::new(
                arg.index() as u32,
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            ))
        }
    };
    Ok(ScmpArgCompare::new(arg.index() as u32, op, arg.value()))
}

/// The condition groups of one syscalls[] entry: each group becomes one rule.
/// Several conditions on *different* arguments must all hold (one rule).
/// Several conditions all on the *same* argument cannot be AND-ed by
/// libseccomp; like runc, glassbox OR-s them (one rule each).
fn condition_groups(field: &str, args: &[LinuxSeccompArg]) -> Result<Vec<Vec<ScmpArgCompare>>, SecurityError> {
    let conditions = args
        .iter()
        .enumerate()
        .map(|(i, a)| to_condition(&format!("{field}.args[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut indices: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indices.sort_unstable();
    indices.dedup();
    if args.len() > 1 && indices.len() == 1 {
        return Ok(conditions.into_iter().map(|c| vec![c]).collect());
    }
    if indices.len() != args.len() {
        return Err(invalid(
            format!("{field}.args"),
            format!("{} conditions on arguments {:?}", args.len(), args.iter().map(|a| a.index()).collect::<Vec<_>>()),
            "libseccomp cannot AND two conditions on the same argument; split this entry into several",
        ));
    }
    Ok(vec![conditions])
}

/// The default action, checked.
fn default_action(profile: &LinuxSeccomp) -> Result<ScmpAction, SecurityError> {
    to_action(
        "linux.seccomp.defaultAction",
        "linux.seccomp.defaultErrnoRet",
        profile.default_action(),
        profile.default_errno_ret(),
    )
}

/// `linux.seccomp.syscalls[index]`, checked: its field name, action and
/// condition groups.
fn entry_plan(
    index: usize,
    entry: &LinuxSyscall,
) -> Result<(String, ScmpAction, Vec<Vec<ScmpArgCompare>>), SecurityError> {
    let field = format!("linux.seccomp.syscalls[{index}]");
    let action =
        to_action(&format!("{field}.action"), &format!("{field}.errnoRet"), entry.action(), entry.errno_ret())?;
    let groups = condition_groups(&field, entry.args().as_deref().unwrap_or_default())?;
    Ok((field, action, groups))
}

/// Every mistake [`plan_seccomp`] would find in the profile's own words —
/// actions, errno values, argument indices and conditions — and a relative
/// `listenerPath`, without resolving syscall names (which costs a look-up
/// per name): cheap enough to run on every `create`, before anything is made.
pub fn check_seccomp_profile(profile: &LinuxSeccomp) -> Result<(), SecurityError> {
    if let Some(path) = profile.listener_path().as_deref().filter(|p| !p.is_absolute()) {
        return Err(invalid(
            "linux.seccomp.listenerPath",
            format!("{:?}", path.display().to_string()),
            "must be an absolute path (the unix socket a seccomp supervisor listens on)",
        ));
    }
    default_action(profile)?;
    for (i, entry) in profile.syscalls().iter().flatten().enumerate() {
        entry_plan(i, entry)?;
    }
    Ok(())
}

/// Translate the profile and resolve every syscall name. Loads nothing; needs
/// no privilege (it only asks libseccomp's tables).
pub fn plan_seccomp(profile: &LinuxSeccomp) -> Result<SeccompPlan, SecurityError> {
    let default_action = default_action(profile)?;
    let flags = profile.flags().clone().unwrap_or_default();
    let has = |flag| flags.contains(&flag);
    let mut plan = SeccompPlan {
        default_action,
        architectures: profile.architectures().iter().flatten().map(|a| to_arch(*a)).collect(),
        log: has(LinuxSeccompFilterFlag::SeccompFilterFlagLog),
        tsync: has(LinuxSeccompFilterFlag::SeccompFilterFlagTsync),
        spec_allow: has(LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow),
        wait_killable_recv: has(LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv),
        rules: Vec::new(),
        unknown: Vec::new(),
        same_as_default: 0,
    };
    for (i, entry) in profile.syscalls().iter().flatten().enumerate() {
        let (field, action, groups) = entry_plan(i, entry)?;
        for name in entry.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                plan.unknown.push(UnknownSyscall { field: field.clone(), name: name.clone() });
                continue;
            };
            if action == default_action {
                plan.same_as_default += 1;
                continue;
            }
            for conditions in &groups {
                plan.rules.push(SeccompRule {
                    field: field.clone(),
                    name: name.clone(),
                    syscall,
                    action,
                    conditions: conditions.clone(),
                });
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn small_profile_plans_one_rule_per_name() {
        let plan = plan_seccomp(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        ))
        .unwrap();
        assert_eq!(plan.default_action, ScmpAction::Allow);
        assert_eq!(plan.architectures, vec![ScmpArch::X8664, ScmpArch::X86]);
        assert!(plan.log && !plan.tsync);
        assert_eq!(plan.rules.len(), 2);
        assert_eq!(plan.rules[0].name, "mkdir");
        assert_eq!(plan.rules[0].action, ScmpAction::Errno(libc::ENOSYS));
        assert!(plan.unknown.is_empty());
        assert_eq!(plan.to_string(), "default SCMP_ACT_ALLOW; 2 rules");
    }

    #[test]
    fn unknown_names_are_counted_not_fatal() {
        let plan = plan_seccomp(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO",
                "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["no_such_syscall_here","exit"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        assert_eq!(plan.default_action, ScmpAction::Errno(libc::EPERM));
        assert_eq!(plan.rules.len(), 3);
        assert_eq!(
            plan.unknown,
            vec![UnknownSyscall { field: "linux.seccomp.syscalls[1]".into(), name: "no_such_syscall_here".into() }]
        );
        assert_eq!(
            plan.to_string(),
            "default SCMP_ACT_ERRNO(EPERM: Operation not permitted); 3 rules; 1 names unknown here (no_such_syscall_here)"
        );
    }

    #[test]
    fn rules_equal_to_the_default_are_left_out() {
        let plan = plan_seccomp(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        assert_eq!((plan.rules.len(), plan.same_as_default), (0, 1));
    }

    #[test]
    fn conditions_on_one_argument_are_or_ed_on_several_and_ed() {
        let plan = plan_seccomp(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                 "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                {"names":["clone"],"action":"SCMP_ACT_ALLOW",
                 "args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"},
                         {"index":1,"value":0,"op":"SCMP_CMP_NE"}]}]}"#,
        ))
        .unwrap();
        assert_eq!(plan.rules.len(), 3);
        assert_eq!(plan.rules[0].conditions, vec![ScmpArgCompare::new(0, ScmpCompareOp::Equal, 0)]);
        assert_eq!(plan.rules[1].conditions, vec![ScmpArgCompare::new(0, ScmpCompareOp::Equal, 8)]);
        assert_eq!(
            plan.rules[2].conditions,
            vec![
                ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(2114060288), 0),
                ScmpArgCompare::new(1, ScmpCompareOp::NotEqual, 0),
            ]
        );
    }

    #[test]
    fn mistakes_name_the_field() {
        let err = |j: &str| plan_seccomp(&profile(j)).unwrap_err().to_string();
        assert!(
            err(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#).starts_with("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY")
        );
        assert!(err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":5000}]}"#)
            .starts_with("linux.seccomp.syscalls[0].errnoRet: 5000"));
        assert!(err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#)
            .starts_with("linux.seccomp.syscalls[0].args[0].index: 6"));
        assert!(err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","args":[
            {"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#)
            .starts_with("linux.seccomp.syscalls[0].args: 3 conditions"));
    }

    #[test]
    fn the_profile_check_finds_mistakes_without_resolving_names() {
        let check = |j: &str| check_seccomp_profile(&profile(j)).map_err(|e| e.to_string());
        assert!(check(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_call"],"action":"SCMP_ACT_LOG"}]}"#
        )
        .is_ok());
        let err = check(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","args":[{"index":9,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#).unwrap_err();
        assert!(err.starts_with("linux.seccomp.syscalls[0].args[0].index: 9: "), "{err}");
        let err = check(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"run/seccomp.sock"}"#).unwrap_err();
        assert!(err.starts_with("linux.seccomp.listenerPath: \"run/seccomp.sock\": must be an absolute path"), "{err}");
        assert!(check(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/seccomp.sock"}"#).is_ok());
        let err =
            check(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}"#)
                .unwrap_err();
        assert!(err.starts_with("linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY"), "{err}");
    }

    #[test]
    fn a_program_longer_than_the_kernel_takes_is_refused_when_compiled() {
        // What fails with 10,000 rules is not their number but the program's
        // length: 10,000 conditions on getpid's first argument make 10,053
        // instructions; the same rules without conditions merge into one.
        let rules = |args: bool| {
            let entries: Vec<_> = (0..10_000)
                .map(|i| {
                    let mut e = serde_json::json!({"names": ["getpid"], "action": "SCMP_ACT_ERRNO"});
                    if args {
                        e["args"] = serde_json::json!([{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]);
                    }
                    e
                })
                .collect();
            serde_json::from_value::<LinuxSeccomp>(
                serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": entries}),
            )
            .unwrap()
        };
        let merged = crate::security::compile_seccomp(&rules(false)).unwrap();
        assert!(merged.instructions() < 20, "{}", merged.instructions());
        let err = crate::security::compile_seccomp(&rules(true)).unwrap_err().to_string();
        assert!(
            err.starts_with("linux.seccomp.syscalls: 10000 rules compile to a BPF program of 10053 instructions"),
            "{err}"
        );
        assert!(err.contains("BPF_MAXINSNS"), "{err}");
    }

    #[test]
    fn kill_is_kill_thread_and_trace_keeps_its_number() {
        assert_eq!(to_action("f", "e", LinuxSeccompAction::ScmpActKill, None).unwrap(), ScmpAction::KillThread);
        assert_eq!(to_action("f", "e", LinuxSeccompAction::ScmpActTrace, Some(7)).unwrap(), ScmpAction::Trace(7));
        assert_eq!(to_action("f", "e", LinuxSeccompAction::ScmpActLog, None).unwrap(), ScmpAction::Log);
    }
}
