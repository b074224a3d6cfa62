//! Checks on `process` (config.json's, or the one `glassbox exec` runs)
//! that the kernel would otherwise make at a bad moment: ids it reads as
//! "no change", more groups than setgroups(2) takes, and arguments plus
//! environment that execve(2) refuses with E2BIG — found out after `start`
//! otherwise, when the container is already made.

use oci_spec::runtime::{PosixRlimitType, Process};

use super::BundleError;

/// The largest id glassbox accepts, 2³¹−1, as runc does. uid_t is 32 bits
/// unsigned, but the kernel reads 4294967295 — (uid_t)-1 — as "leave this
/// id unchanged" in setresuid(2)/setresgid(2): a container asking for that
/// uid would keep running as root. Above 2³¹−1 ids are also negative to
/// anything that takes them as a signed int.
pub const MAX_ID: u32 = i32::MAX as u32;

/// NGROUPS_MAX (include/uapi/linux/limits.h): setgroups(2) refuses more
/// supplementary groups with EINVAL.
pub const NGROUPS_MAX: usize = 65536;

/// MAX_ARG_STRLEN (include/uapi/linux/binfmts.h): 32 pages; one argument or
/// environment string, with its NUL, may be at most this long.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// What execve(2) takes for argv + envp together, strings and pointers
/// (fs/exec.c, bprm_stack_limits): a quarter of the stack's soft limit,
/// but at most three quarters of the default 8 MiB stack (6 MiB) and at
/// least 32 pages (128 KiB).
pub fn execve_limit(stack_soft_limit: u64) -> u64 {
    (stack_soft_limit / 4).clamp(32 * 4096, 6 << 20)
}

/// Every check below; `stack_soft_limit` is RLIMIT_STACK as the process
/// will have it ([`stack_soft_limit`]).
pub fn check_process(process: &Process, stack_soft_limit: u64) -> Result<(), BundleError> {
    check_user(process)?;
    check_exec_size(process, stack_soft_limit)
}

/// process.user: every id in 0…2³¹−1, at most NGROUPS_MAX groups.
pub fn check_user(process: &Process) -> Result<(), BundleError> {
    let user = process.user();
    check_id("process.user.uid", user.uid())?;
    check_id("process.user.gid", user.gid())?;
    let groups = user.additional_gids().as_deref().unwrap_or_default();
    if groups.len() > NGROUPS_MAX {
        return Err(BundleError::Invalid {
            field: "process.user.additionalGids".into(),
            message: format!(
                "{} groups; the kernel takes at most {NGROUPS_MAX} (NGROUPS_MAX) in setgroups(2)",
                groups.len()
            ),
        });
    }
    for (i, gid) in groups.iter().enumerate() {
        check_id(&format!("process.user.additionalGids[{i}]"), *gid)?;
    }
    Ok(())
}

/// One uid or gid, named by `field`.
pub fn check_id(field: &str, id: u32) -> Result<(), BundleError> {
    if id <= MAX_ID {
        return Ok(());
    }
    let meaning = if id == u32::MAX {
        ": the kernel reads it as -1, \"leave the id unchanged\", which would keep root"
    } else {
        ""
    };
    Err(BundleError::Invalid {
        field: field.into(),
        message: format!("{id} is out of range: ids go from 0 to {MAX_ID} (2^31-1){meaning}"),
    })
}

/// The soft RLIMIT_STACK the process will run with: process.rlimits', or
/// else the one it inherits from this runtime.
pub fn stack_soft_limit(process: &Process) -> u64 {
    let given = process.rlimits().iter().flatten().find(|r| r.typ() == PosixRlimitType::RlimitStack);
    match given {
        Some(r) => r.soft(),
        None => nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_STACK)
            .map(|(soft, _)| soft)
            .unwrap_or(8 << 20),
    }
}

/// process.args and process.env, as execve(2) will count them: each string
/// at most MAX_ARG_STRLEN, and all of them with their pointers within
/// [`execve_limit`]. (The program's path and a HOME glassbox adds come on
/// top; a case that close to the limit still fails, at execve, and `start`
/// says so.)
pub fn check_exec_size(process: &Process, stack_soft_limit: u64) -> Result<(), BundleError> {
    let args = process.args().as_deref().unwrap_or_default();
    let env = process.env().as_deref().unwrap_or_default();
    let strings =
        args.iter().enumerate().map(|(i, s)| ("args", i, s)).chain(env.iter().enumerate().map(|(i, s)| ("env", i, s)));
    let mut total = 0u64;
    for (list, i, s) in strings {
        if s.len() + 1 > MAX_ARG_STRLEN {
            return Err(BundleError::Invalid {
                field: format!("process.{list}[{i}]"),
                message: format!(
                    "{} bytes; execve(2) takes at most {} per string (MAX_ARG_STRLEN) and would fail with E2BIG",
                    s.len(),
                    MAX_ARG_STRLEN - 1
                ),
            });
        }
        total += s.len() as u64 + 1;
    }
    // argv and envp themselves: one pointer per string (and one for an empty argv).
    total += (args.len().max(1) + env.len()) as u64 * std::mem::size_of::<usize>() as u64;
    let limit = execve_limit(stack_soft_limit);
    if total > limit {
        return Err(BundleError::Invalid {
            field: "process.args and process.env".into(),
            message: format!(
                "{total} bytes with their pointers; execve(2) takes at most {limit} with a soft RLIMIT_STACK of {} (a quarter of it, between 128 KiB and 6 MiB) and would fail with E2BIG: shorten them, or raise RLIMIT_STACK in process.rlimits",
                spell_limit(stack_soft_limit)
            ),
        });
    }
    Ok(())
}

fn spell_limit(bytes: u64) -> String {
    match bytes {
        u64::MAX => "unlimited".into(),
        b if b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b % 1024 == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{ProcessBuilder, UserBuilder};

    fn process(uid: u32, gid: u32, groups: Vec<u32>) -> Process {
        let user = UserBuilder::default().uid(uid).gid(gid).additional_gids(groups).build().unwrap();
        ProcessBuilder::default().user(user).args(vec!["sh".to_string()]).build().unwrap()
    }

    #[test]
    fn ids_above_two_to_the_31_minus_one_are_refused() {
        assert!(check_user(&process(0, 0, vec![])).is_ok());
        assert!(check_user(&process(MAX_ID, MAX_ID, vec![MAX_ID])).is_ok());
        let err = check_user(&process(u32::MAX, 0, vec![])).unwrap_err().to_string();
        assert!(err.starts_with("process.user.uid: 4294967295 is out of range"), "{err}");
        assert!(err.contains("unchanged"), "{err}");
        let err = check_user(&process(0, 1 << 31, vec![])).unwrap_err().to_string();
        assert!(err.starts_with("process.user.gid: 2147483648 is out of range"), "{err}");
        let err = check_user(&process(0, 0, vec![5, u32::MAX])).unwrap_err().to_string();
        assert!(err.starts_with("process.user.additionalGids[1]: 4294967295"), "{err}");
    }

    #[test]
    fn more_groups_than_ngroups_max_are_refused() {
        assert!(check_user(&process(0, 0, (0..NGROUPS_MAX as u32).collect())).is_ok());
        let err = check_user(&process(0, 0, (0..70_000).collect())).unwrap_err().to_string();
        assert!(err.starts_with("process.user.additionalGids: 70000 groups"), "{err}");
        assert!(err.contains("NGROUPS_MAX"), "{err}");
    }

    #[test]
    fn the_execve_limit_follows_the_stack_limit() {
        assert_eq!(execve_limit(8 << 20), 2 << 20);
        assert_eq!(execve_limit(u64::MAX), 6 << 20);
        assert_eq!(execve_limit(64 << 10), 128 << 10);
    }

    #[test]
    fn arguments_too_big_for_execve_are_refused() {
        let with = |args: Vec<String>, env: Vec<String>| ProcessBuilder::default().args(args).env(env).build().unwrap();
        let ok = with(vec!["sh".into()], vec!["PATH=/bin".into()]);
        assert!(check_exec_size(&ok, 8 << 20).is_ok());
        let one_long = with(vec!["echo".into(), "x".repeat(MAX_ARG_STRLEN)], vec![]);
        let err = check_exec_size(&one_long, 8 << 20).unwrap_err().to_string();
        assert!(err.starts_with("process.args[1]: 131072 bytes"), "{err}");
        // 20 strings of 120 KiB: 2.4 MiB, over the 2 MiB an 8 MiB stack gives.
        let many = with(vec!["echo".into()], (0..20).map(|i| format!("V{i}={}", "x".repeat(120 << 10))).collect());
        let err = check_exec_size(&many, 8 << 20).unwrap_err().to_string();
        assert!(err.starts_with("process.args and process.env: "), "{err}");
        assert!(err.contains("8 MiB") && err.contains("E2BIG"), "{err}");
        assert!(check_exec_size(&many, u64::MAX).is_ok(), "an unlimited stack leaves 6 MiB");
    }
}
