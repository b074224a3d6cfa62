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

/// Host terminal in raw mode while it lives (foreground `run` with a tty).
pub struct RawModeGuard;

impl RawModeGuard {
    pub fn new(_fd: std::os::fd::BorrowedFd) -> Result<Option<RawModeGuard>, TerminalError> {
        Ok(None)
    }
}

/// One read and write_all, for a poll loop.
pub fn copy_available(_from: std::os::fd::BorrowedFd, _to: std::os::fd::BorrowedFd) -> std::io::Result<usize> {
    Ok(0)
}

/// Copy the host window size to the pty.
pub fn set_winsize_from(_host: std::os::fd::BorrowedFd, _pty: std::os::fd::BorrowedFd) {}

/// For `exec` with a tty: a pty from the container's devpts, no /dev/console.
pub fn open_pty_in_container(_size: Option<oci_spec::runtime::Box>) -> Result<Console, TerminalError> {
    Err(TerminalError::Other("not yet".into()))
}
