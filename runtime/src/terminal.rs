//! The container's terminal (STUB — being written; interface is fixed).

use std::os::fd::OwnedFd;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("{0}")]
    Other(String),
}

/// Pseudo-terminal pair made inside the container.
pub struct Console {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// In the init, after pivot_root: open /dev/ptmx (the container's devpts),
/// unlock the slave, bind it over /dev/console, set the window size.
pub fn open_console_in_container(
    _size: Option<oci_spec::runtime::Box>,
) -> Result<Console, TerminalError> {
    Err(TerminalError::Other("not yet".into()))
}

/// Make `slave` the controlling terminal (the caller already called setsid)
/// and the process's stdin, stdout and stderr.
pub fn make_controlling_terminal(_slave: OwnedFd) -> Result<(), TerminalError> {
    Ok(())
}

/// Send the pty master over the unix socket at `socket` (SCM_RIGHTS).
pub fn send_to_console_socket(_socket: &Path, _master: &OwnedFd) -> Result<(), TerminalError> {
    Ok(())
}
