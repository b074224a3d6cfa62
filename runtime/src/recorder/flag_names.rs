//! A syscall's flags as its man page names them, for a step's arguments:
//! `MS_BIND | MS_REC`, `CLONE_NEWNS | CLONE_NEWPID`, or `0` for none.
//! Written into the line as they are displayed, without a String: the
//! steps that carry them are recorded right after their syscall, in the
//! init between two mount(2) calls and in the runtime just after clone(2),
//! where every allocation writes to memory the other process still shares.

use std::fmt;

/// The names of the flags set in `F`, joined by ` | `.
pub struct FlagNames<F>(pub F);

impl<F: bitflags::Flags> fmt::Display for FlagNames<F> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("0");
        }
        for (i, (name, _)) in self.0.iter_names().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use nix::mount::MsFlags;
    use nix::sched::CloneFlags;

    use super::FlagNames;

    #[test]
    fn flags_are_named_as_their_man_pages_name_them() {
        assert_eq!(FlagNames(MsFlags::MS_BIND | MsFlags::MS_REC).to_string(), "MS_BIND | MS_REC");
        assert_eq!(
            FlagNames(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS).to_string(),
            "CLONE_NEWNS | CLONE_NEWPID"
        );
        assert_eq!(FlagNames(MsFlags::empty()).to_string(), "0");
    }
}
