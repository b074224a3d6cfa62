//! Three small per-process attributes the spec lets a container ask for:
//! `process.oomScoreAdj` (the `/proc/self/oom_score_adj` file of proc(5)),
//! `process.ioPriority` (ioprio_set(2)) and `linux.personality`
//! (personality(2)). All are inherited across fork and execve, so the init sets
//! them on itself and the user's program keeps them.
//! (`process.scheduler` is big enough to live in `scheduler.rs`.)

use std::io::Write;

use nix::errno::Errno;
use nix::sys::personality::{self, Persona};
use oci_spec::runtime::{IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain};

use super::SecurityError;

const OOM_SCORE_ADJ: &str = "/proc/self/oom_score_adj";

/// ioprio_set(2)'s `which`: the target is one process (0 = the caller).
pub const IOPRIO_WHO_PROCESS: libc::c_int = 1;
/// The class sits above the 13 bits of per-class data (linux/ioprio.h).
const IOPRIO_CLASS_SHIFT: u32 = 13;
/// personality(2) execution domains from linux/personality.h.
const PER_LINUX: i32 = 0x0000;
const PER_LINUX32: i32 = 0x0008;

/// Write the OOM killer's bias for this process. Raising it is free; going
/// below the lowest value an ancestor set with privilege needs CAP_SYS_RESOURCE.
pub(crate) fn set_oom_score_adj(value: i32) -> Result<(), SecurityError> {
    if !(-1000..=1000).contains(&value) {
        return Err(SecurityError::OomScoreAdjOutOfRange { value });
    }
    let write = || std::fs::OpenOptions::new().write(true).open(OOM_SCORE_ADJ)?.write_all(value.to_string().as_bytes());
    write().map_err(|source| {
        let hint = match source.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                "lowering oom_score_adj below what this process inherited needs CAP_SYS_RESOURCE; use a value at or above the runtime's own"
            }
            Some(libc::ENOENT) => "is /proc mounted inside the container?",
            _ => "see proc(5), /proc/pid/oom_score_adj",
        };
        SecurityError::OomScoreAdj { value, path: OOM_SCORE_ADJ, source, hint }
    })
}

/// The number ioprio_set(2) takes: class in the top bits, level in the low ones.
pub fn ioprio_value(io: &LinuxIOPriority) -> Result<libc::c_int, SecurityError> {
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&io.priority()) {
        return Err(SecurityError::IoPriorityOutOfRange { priority: io.priority() });
    }
    Ok((class << IOPRIO_CLASS_SHIFT) | io.priority() as libc::c_int)
}

pub(crate) fn set_io_priority(io: &LinuxIOPriority) -> Result<(), SecurityError> {
    let value = ioprio_value(io)?;
    // SAFETY: ioprio_set takes three integers and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    Errno::result(rc).map(drop).map_err(|source| SecurityError::IoPriority {
        class: io.class().to_string(),
        priority: io.priority(),
        source,
        hint: match source {
            Errno::EPERM => "the real-time class (IOPRIO_CLASS_RT) needs CAP_SYS_ADMIN or CAP_SYS_NICE",
            _ => "see ioprio_set(2)",
        },
    })
}

/// The personality(2) argument for a spec domain. The spec's `flags` are
/// reserved and carry nothing today, so they are not read.
pub fn personality_value(p: &LinuxPersonality) -> i32 {
    match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    }
}

pub(crate) fn set_personality(p: &LinuxPersonality) -> Result<(), SecurityError> {
    // nix models only the flag bits; the domain is the low byte, kept as-is.
    personality::set(Persona::from_bits_retain(personality_value(p)))
        .map(drop)
        .map_err(|source| SecurityError::Personality { domain: p.domain().to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(json: &str) -> LinuxIOPriority {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn ioprio_packs_class_above_thirteen_bits() {
        assert_eq!(ioprio_value(&io(r#"{"class":"IOPRIO_CLASS_RT","priority":0}"#)).unwrap(), 1 << 13);
        assert_eq!(ioprio_value(&io(r#"{"class":"IOPRIO_CLASS_BE","priority":4}"#)).unwrap(), (2 << 13) | 4);
        assert_eq!(ioprio_value(&io(r#"{"class":"IOPRIO_CLASS_IDLE","priority":7}"#)).unwrap(), (3 << 13) | 7);
    }

    #[test]
    fn ioprio_level_out_of_range_names_the_field() {
        let err = ioprio_value(&io(r#"{"class":"IOPRIO_CLASS_BE","priority":8}"#)).unwrap_err().to_string();
        assert!(err.starts_with("process.ioPriority: priority 8"), "{err}");
    }

    #[test]
    fn personality_domains() {
        let linux: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX"}"#).unwrap();
        let linux32: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX32"}"#).unwrap();
        assert_eq!(personality_value(&linux), 0);
        assert_eq!(personality_value(&linux32), 8);
    }

    #[test]
    fn oom_score_adj_out_of_range_fails_before_writing() {
        let err = set_oom_score_adj(1001).unwrap_err().to_string();
        assert!(err.contains("process.oomScoreAdj: 1001"), "{err}");
    }
}
