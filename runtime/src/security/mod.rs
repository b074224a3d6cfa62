//! Dropping privileges (STUB — being written; interface is fixed).
//!
//! The init process calls these, in this order, after the root filesystem is
//! ready: process attributes → (seccomp if no NNP) → capabilities bounding →
//! user switch → capabilities sets → no_new_privs → (seccomp if NNP) → exec.

use oci_spec::runtime::{LinuxCapabilities, LinuxSeccomp, Process, User};

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{0}")]
    Other(String),
}

/// rlimits, oomScoreAdj, ioPriority, scheduler (and personality from linux).
pub fn apply_process_attributes(
    _process: &Process,
    _personality: Option<&oci_spec::runtime::LinuxPersonality>,
) -> Result<(), SecurityError> {
    Ok(())
}

/// Remove from the bounding set every capability not listed in `bounding`.
pub fn drop_bounding_set(_caps: Option<&LinuxCapabilities>) -> Result<(), SecurityError> {
    Ok(())
}

/// setgroups(additionalGids) → setgid → setuid, keeping the permitted
/// capabilities across the uid change; then umask.
pub fn switch_user(_user: &User) -> Result<(), SecurityError> {
    Ok(())
}

/// Set the effective, permitted, inheritable and ambient sets.
pub fn apply_capabilities(_caps: Option<&LinuxCapabilities>) -> Result<(), SecurityError> {
    Ok(())
}

/// prctl(PR_SET_NO_NEW_PRIVS, 1).
pub fn set_no_new_privileges() -> Result<(), SecurityError> {
    Ok(())
}

/// Compile the OCI seccomp profile with libseccomp and load it.
pub fn load_seccomp(_profile: &LinuxSeccomp) -> Result<(), SecurityError> {
    Ok(())
}

/// The HOME for a process whose env lacks one: the container's /etc/passwd
/// entry for `uid`, else "/".
pub fn home_dir(_uid: u32) -> String {
    "/".into()
}
