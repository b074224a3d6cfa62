//! `process.rlimits`: per-process resource limits, set with setrlimit(2)
//! (man7.org/linux/man-pages/man2/setrlimit.2.html).
//!
//! Every limit has a soft value (what the kernel enforces) and a hard value (the
//! ceiling the soft one may be raised to without privilege). Lowering either is
//! always allowed; raising the hard limit needs CAP_SYS_RESOURCE. Limits are
//! inherited across fork and execve, which is why the init sets them on itself.

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use super::SecurityError;

/// One setrlimit call to make, decided from config.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RlimitSetting {
    /// Where it came from, e.g. `process.rlimits[2]`, for error messages.
    pub field: String,
    pub name: &'static str,
    pub resource: Resource,
    pub soft: u64,
    pub hard: u64,
}

/// The spec's name for a limit, as written in config.json.
pub fn rlimit_name(typ: PosixRlimitType) -> &'static str {
    use PosixRlimitType::*;
    match typ {
        RlimitCpu => "RLIMIT_CPU",
        RlimitFsize => "RLIMIT_FSIZE",
        RlimitData => "RLIMIT_DATA",
        RlimitStack => "RLIMIT_STACK",
        RlimitCore => "RLIMIT_CORE",
        RlimitRss => "RLIMIT_RSS",
        RlimitNproc => "RLIMIT_NPROC",
        RlimitNofile => "RLIMIT_NOFILE",
        RlimitMemlock => "RLIMIT_MEMLOCK",
        RlimitAs => "RLIMIT_AS",
        RlimitLocks => "RLIMIT_LOCKS",
        RlimitSigpending => "RLIMIT_SIGPENDING",
        RlimitMsgqueue => "RLIMIT_MSGQUEUE",
        RlimitNice => "RLIMIT_NICE",
        RlimitRtprio => "RLIMIT_RTPRIO",
        RlimitRttime => "RLIMIT_RTTIME",
    }
}

/// The kernel resource behind a spec limit type.
pub fn rlimit_resource(typ: PosixRlimitType) -> Resource {
    use PosixRlimitType::*;
    match typ {
        RlimitCpu => Resource::RLIMIT_CPU,
        RlimitFsize => Resource::RLIMIT_FSIZE,
        RlimitData => Resource::RLIMIT_DATA,
        RlimitStack => Resource::RLIMIT_STACK,
        RlimitCore => Resource::RLIMIT_CORE,
        RlimitRss => Resource::RLIMIT_RSS,
        RlimitNproc => Resource::RLIMIT_NPROC,
        RlimitNofile => Resource::RLIMIT_NOFILE,
        RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        RlimitAs => Resource::RLIMIT_AS,
        RlimitLocks => Resource::RLIMIT_LOCKS,
        RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitNice => Resource::RLIMIT_NICE,
        RlimitRtprio => Resource::RLIMIT_RTPRIO,
        RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// RLIM_INFINITY is u64::MAX; say so instead of printing 18446744073709551615.
pub(crate) fn show_limit(value: u64) -> String {
    if value == libc::RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        value.to_string()
    }
}

/// Check every limit and turn it into a setrlimit call. Pure.
pub fn plan_rlimits(rlimits: &[PosixRlimit]) -> Result<Vec<RlimitSetting>, SecurityError> {
    rlimits
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let field = format!("process.rlimits[{i}]");
            let name = rlimit_name(r.typ());
            if r.soft() > r.hard() {
                return Err(SecurityError::RlimitSoftAboveHard {
                    field,
                    name,
                    soft: show_limit(r.soft()),
                    hard: show_limit(r.hard()),
                });
            }
            Ok(RlimitSetting { field, name, resource: rlimit_resource(r.typ()), soft: r.soft(), hard: r.hard() })
        })
        .collect()
}

/// Make the setrlimit calls, turning the kernel's terse errno into advice.
pub(crate) fn apply_rlimits(settings: &[RlimitSetting]) -> Result<(), SecurityError> {
    for s in settings {
        let Err(source) = setrlimit(s.resource, s.soft, s.hard) else {
            crate::recorder::step("setrlimit", |a| {
                a.uint("hard", s.hard).str("resource", s.name).uint("soft", s.soft);
            });
            continue;
        };
        let current_hard = getrlimit(s.resource).map(|(_, hard)| hard).ok();
        return Err(match (source, current_hard) {
            (nix::Error::EPERM, Some(current)) if s.hard > current => SecurityError::RlimitRaiseRefused {
                field: s.field.clone(),
                name: s.name,
                hard: show_limit(s.hard),
                current: show_limit(current),
            },
            _ => SecurityError::Rlimit {
                field: s.field.clone(),
                name: s.name,
                soft: show_limit(s.soft),
                hard: show_limit(s.hard),
                source,
                hint: hint_for(s.resource, source),
            },
        });
    }
    Ok(())
}

fn hint_for(resource: Resource, errno: nix::Error) -> &'static str {
    match (resource, errno) {
        (Resource::RLIMIT_NOFILE, nix::Error::EPERM | nix::Error::EINVAL) => {
            "RLIMIT_NOFILE cannot exceed /proc/sys/fs/nr_open"
        }
        (_, nix::Error::EPERM) => "raising a hard limit needs CAP_SYS_RESOURCE",
        _ => "check the value against setrlimit(2)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rlimit(json: &str) -> PosixRlimit {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_spec_name_maps_to_the_same_kernel_resource() {
        let all = [
            ("RLIMIT_CPU", Resource::RLIMIT_CPU),
            ("RLIMIT_FSIZE", Resource::RLIMIT_FSIZE),
            ("RLIMIT_DATA", Resource::RLIMIT_DATA),
            ("RLIMIT_STACK", Resource::RLIMIT_STACK),
            ("RLIMIT_CORE", Resource::RLIMIT_CORE),
            ("RLIMIT_RSS", Resource::RLIMIT_RSS),
            ("RLIMIT_NPROC", Resource::RLIMIT_NPROC),
            ("RLIMIT_NOFILE", Resource::RLIMIT_NOFILE),
            ("RLIMIT_MEMLOCK", Resource::RLIMIT_MEMLOCK),
            ("RLIMIT_AS", Resource::RLIMIT_AS),
            ("RLIMIT_LOCKS", Resource::RLIMIT_LOCKS),
            ("RLIMIT_SIGPENDING", Resource::RLIMIT_SIGPENDING),
            ("RLIMIT_MSGQUEUE", Resource::RLIMIT_MSGQUEUE),
            ("RLIMIT_NICE", Resource::RLIMIT_NICE),
            ("RLIMIT_RTPRIO", Resource::RLIMIT_RTPRIO),
            ("RLIMIT_RTTIME", Resource::RLIMIT_RTTIME),
        ];
        for (name, resource) in all {
            let r = rlimit(&format!(r#"{{"type":"{name}","hard":2,"soft":1}}"#));
            assert_eq!(rlimit_name(r.typ()), name);
            assert_eq!(rlimit_resource(r.typ()), resource, "{name}");
        }
    }

    #[test]
    fn plan_keeps_the_order_and_names_the_field() {
        let plan = plan_rlimits(&[
            rlimit(r#"{"type":"RLIMIT_NOFILE","hard":200,"soft":100}"#),
            rlimit(r#"{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":0}"#),
        ])
        .unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].field, "process.rlimits[0]");
        assert_eq!((plan[0].soft, plan[0].hard), (100, 200));
        assert_eq!(plan[1].resource, Resource::RLIMIT_CORE);
    }

    #[test]
    fn soft_above_hard_is_refused_before_any_syscall() {
        let err = plan_rlimits(&[
            rlimit(r#"{"type":"RLIMIT_CORE","hard":0,"soft":0}"#),
            rlimit(r#"{"type":"RLIMIT_NOFILE","hard":100,"soft":200}"#),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("process.rlimits[1]: RLIMIT_NOFILE soft limit 200"), "{err}");
        assert!(err.contains("hard limit 100"), "{err}");
    }

    #[test]
    fn infinity_is_shown_as_unlimited() {
        assert_eq!(show_limit(u64::MAX), "unlimited");
        assert_eq!(show_limit(20000), "20000");
    }
}
