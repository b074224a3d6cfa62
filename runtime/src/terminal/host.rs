//! The user's side of `glassbox run` with `process.terminal: true` in the
//! foreground: the host terminal in raw mode, bytes copied both ways, and the
//! window size following the user's window (man7 termios(3), ioctl_tty(2)).
//!
//! Raw mode is needed because there are now two terminals in a row. The
//! container's pty already does line editing, echo and Ctrl-C → SIGINT for the
//! program inside; if the host terminal did them too, every key would be
//! echoed twice and Ctrl-C would hit glassbox instead of the container.

use std::io;
use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::{isatty, read, write};

use super::{ioctls, TerminalError};

/// Puts a terminal in raw mode and restores its previous settings when
/// dropped, even when `glassbox run` leaves through an error.
pub struct RawModeGuard<'fd> {
    fd: BorrowedFd<'fd>,
    saved: Termios,
}

impl<'fd> RawModeGuard<'fd> {
    /// Raw mode for `fd` (normally stdin) if it is a terminal; `None` when it
    /// is a pipe or file, where there is nothing to change.
    pub fn new(fd: BorrowedFd<'fd>) -> Result<Option<Self>, TerminalError> {
        if !isatty(fd).unwrap_or(false) {
            return Ok(None);
        }
        let saved = tcgetattr(fd).map_err(|source| TerminalError::RawMode { action: "read", source })?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).map_err(|source| TerminalError::RawMode { action: "set", source })?;
        Ok(Some(RawModeGuard { fd, saved }))
    }
}

impl Drop for RawModeGuard<'_> {
    fn drop(&mut self) {
        // TCSAFLUSH would throw away what the user typed meanwhile; keep it.
        let _ = tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Copy what one read returns from `from` to `to` (all of it), for a poll(2)
/// loop that calls this when `from` is readable. Returns the bytes copied; 0
/// means end of input. A pty master reports EIO once every slave fd is
/// closed (the container's process exited): that is end of input too.
pub fn copy_available(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<usize> {
    let mut buf = [0u8; 16 * 1024];
    let n = loop {
        match read(from, &mut buf) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EIO) => return Ok(0),
            Err(e) => return Err(e.into()),
            Ok(n) => break n,
        }
    };
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        match write(to, rest) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(w) => rest = &rest[w..],
        }
    }
    Ok(n)
}

/// Give the pty the host terminal's size (on start, and on each SIGWINCH);
/// the kernel then sends SIGWINCH to the container's foreground process.
pub fn set_winsize_from(host: BorrowedFd<'_>, pty: BorrowedFd<'_>) -> Result<(), TerminalError> {
    let ws = ioctls::get_winsize(host)?;
    ioctls::set_winsize(pty, &ws)
}
