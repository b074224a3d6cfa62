//! `process.noNewPrivileges`: prctl(PR_SET_NO_NEW_PRIVS, 1) (prctl(2), and the
//! kernel's Documentation/userspace-api/no_new_privs.rst).
//!
//! Once set — and it can never be unset, and children inherit it — execve can
//! no longer raise privileges: setuid/setgid bits and file capabilities are
//! ignored. It is also what lets an unprivileged process load a seccomp filter,
//! which is why the seccomp step comes right after it when it is asked for.

use super::SecurityError;

pub(crate) fn set() -> Result<(), SecurityError> {
    nix::sys::prctl::set_no_new_privs().map_err(|source| SecurityError::NoNewPrivs { source })
}
