//! The container's terminal: a pseudo-terminal pair made inside the container
//! when `process.terminal` is true (man7 pty(7), pts(4), ioctl_tty(2)).
//!
//! A pty is two file descriptors joined by the kernel's line discipline: the
//! *slave* (`/dev/pts/N`) behaves like a real terminal and becomes the
//! container process's stdin, stdout, stderr and controlling terminal; the
//! *master* is held by whoever plays the keyboard and screen. The pair is made
//! in the container's init after pivot_root, so it comes from the container's
//! own devpts instance (its `/dev/ptmx`) and its number means something inside.
//! The master then leaves the container: over the runtime's internal socket
//! ([`send_fd`]/[`recv_fd`], man7 unix(7) SCM_RIGHTS), and from the runtime
//! either to the `--console-socket` of podman/containerd
//! ([`send_to_console_socket`]) or, for `glassbox run` in the foreground, to a
//! copy loop between the user's terminal and the pty ([`host`]).
//!
//! Inside the container:
//! ```text
//!  open /dev/ptmx ─▶ grantpt/unlockpt ─▶ ptsname = /dev/pts/0 ─▶ open slave
//!  bind /dev/pts/0 onto /dev/console ─▶ TIOCSWINSZ (process.consoleSize)
//!  … later, after setsid(): TIOCSCTTY on the slave, dup2 onto 0 1 2
//! ```

mod fdpass;
pub mod host;

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, ptsname_r, unlockpt, PtyMaster, Winsize};
use nix::sys::stat::Mode;

pub use fdpass::{recv_fd, send_fd, send_to_console_socket, CONSOLE_SOCKET_PAYLOAD};
pub use host::{copy_available, set_winsize_from, RawModeGuard};

/// The size of the terminal `fd` is, if it is one.
pub fn window_size(fd: std::os::fd::BorrowedFd<'_>) -> Option<nix::pty::Winsize> {
    ioctls::get_winsize(fd).ok()
}

/// Where the container's pty multiplexer is: a symlink to `pts/ptmx` (what
/// runc and glassbox make) or a device node; either way it must lead to the
/// container's own devpts, or the new pty would belong to the host's.
pub const PTMX: &str = "/dev/ptmx";
/// Programs (and the kernel's idea of "the system console") write here; in a
/// container it is the pty's slave, bind-mounted.
pub const CONSOLE: &str = "/dev/console";

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("could not open {PTMX} in the container: {0}; the rootfs needs devpts mounted at /dev/pts (newinstance, ptmxmode=0666) and /dev/ptmx -> pts/ptmx")]
    OpenPtmx(#[source] Errno),
    #[error("{step} on the new pty failed: {source}; is {PTMX} really a pty multiplexer?")]
    Unlock { step: &'static str, source: Errno },
    #[error("could not open the pty slave {path}: {source}")]
    OpenSlave { path: PathBuf, source: std::io::Error },
    #[error("could not {action} {CONSOLE} for the pty {slave}: {source}")]
    Console { action: &'static str, slave: PathBuf, source: std::io::Error },
    #[error("{CONSOLE} in the container is {found}, not the container's terminal; glassbox does not mount the terminal through a symlink of the image")]
    ConsoleInTheWay { found: String },
    #[error("process.consoleSize.{field} is {value}: a terminal's size must fit in 16 bits (0-65535)")]
    SizeTooLarge { field: &'static str, value: u64 },
    #[error("ioctl {request} on the terminal failed: {source}")]
    Ioctl { request: &'static str, source: Errno },
    #[error("could not make the pty the controlling terminal (TIOCSCTTY): {0}; the process must be a session leader without one (call setsid first)")]
    ControllingTerminal(#[source] Errno),
    #[error("could not dup the pty onto fd {fd}: {source}")]
    Dup { fd: i32, source: Errno },
    #[error("could not connect to the console socket {path}: {source}; the program that passed --console-socket must be listening on it")]
    ConnectConsoleSocket { path: PathBuf, source: std::io::Error },
    #[error("could not send the pty master over the console socket {path}: {source}")]
    SendConsoleSocket { path: PathBuf, source: Errno },
    #[error("a file descriptor is passed with at least one byte of data (unix(7)); the payload was empty")]
    EmptyPayload,
    #[error("sending a file descriptor (SCM_RIGHTS) failed: {0}")]
    SendFd(#[source] Errno),
    #[error("receiving a file descriptor (SCM_RIGHTS) failed: {0}")]
    RecvFd(#[source] Errno),
    #[error("expected a file descriptor on the socket, but the peer closed it first")]
    PeerClosed,
    #[error("expected a file descriptor on the socket, but got {bytes} bytes of data without one")]
    NoFdReceived { bytes: usize },
    #[error("the file descriptor message was truncated (MSG_CTRUNC): the peer sent more than one fd or the fd limit was hit")]
    Truncated,
    #[error("could not {action} the host terminal's attributes: {source}")]
    RawMode { action: &'static str, source: Errno },
}

/// Pseudo-terminal pair made inside the container.
pub struct Console {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// process.consoleSize → the kernel's window size. Pure, so checkable early.
pub fn winsize_for(size: &oci_spec::runtime::Box) -> Result<Winsize, TerminalError> {
    let fit = |field, value: u64| u16::try_from(value).map_err(|_| TerminalError::SizeTooLarge { field, value });
    Ok(Winsize {
        ws_row: fit("height", size.height())?,
        ws_col: fit("width", size.width())?,
        ws_xpixel: 0,
        ws_ypixel: 0,
    })
}

/// In the init, after pivot_root: open /dev/ptmx (the container's devpts),
/// unlock the slave, bind it over /dev/console, set the window size.
pub fn open_console_in_container(size: Option<oci_spec::runtime::Box>) -> Result<Console, TerminalError> {
    let (console, slave_path) = open_pty(size)?;
    bind_console(&console.slave, &slave_path)?;
    Ok(console)
}

/// For `glassbox exec --tty`: a new pty from the container's devpts, without
/// touching /dev/console (which belongs to the container's init).
pub fn open_pty_in_container(size: Option<oci_spec::runtime::Box>) -> Result<Console, TerminalError> {
    open_pty(size).map(|(console, _)| console)
}

/// Open a pty pair from /dev/ptmx; returns it and the slave's path.
fn open_pty(size: Option<oci_spec::runtime::Box>) -> Result<(Console, PathBuf), TerminalError> {
    let winsize = size.as_ref().map(winsize_for).transpose()?;
    // O_NOCTTY: the init is not yet in its final session; the pty becomes its
    // controlling terminal later, on purpose, with TIOCSCTTY.
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let fd = open(PTMX, flags, Mode::empty()).map_err(TerminalError::OpenPtmx)?;
    // SAFETY: the fd was just opened from /dev/ptmx; if that is not a pty
    // multiplexer the calls below fail with ENOTTY, which we report.
    let master = unsafe { PtyMaster::from_owned_fd(fd) };
    // glibc's grantpt is a formality with devpts (the slave is already owned
    // by us), unlockpt clears the lock that keeps the slave from being opened.
    grantpt(&master).map_err(|source| TerminalError::Unlock { step: "grantpt", source })?;
    unlockpt(&master).map_err(|source| TerminalError::Unlock { step: "unlockpt", source })?;
    let slave_path =
        PathBuf::from(ptsname_r(&master).map_err(|source| TerminalError::Unlock { step: "ptsname", source })?);
    // The slave straight from the master (TIOCGPTPEER), not by its name:
    // /dev/pts may be the image's own directory rather than our devpts, and
    // whatever sits at /dev/pts/N there is the image's to choose.
    // O_CLOEXEC: dup2 onto 0-2 clears it there.
    let peer_flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes open(2) flags and returns a new descriptor or -1.
    let raw = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, peer_flags) };
    if raw < 0 {
        let source = std::io::Error::last_os_error();
        return Err(TerminalError::OpenSlave { path: slave_path, source });
    }
    // SAFETY: a descriptor the kernel just gave us, owned by nothing else.
    let slave = unsafe { OwnedFd::from_raw_fd(raw) };
    let master: OwnedFd = master.into();
    if let Some(ws) = winsize {
        ioctls::set_winsize(master.as_fd(), &ws)?;
    }
    Ok((Console { master, slave }, slave_path))
}

/// Make /dev/console the pty slave, so programs that open "the console"
/// (getty, systemd, some init scripts) write to the same terminal. The
/// target is taken as it is, never through a symlink of the image
/// (CVE-2025-52565's pattern: a /dev/console pointing into /proc), the
/// source is the slave's own descriptor, and afterwards /dev/console must
/// be that very terminal.
fn bind_console(slave: &OwnedFd, slave_path: &Path) -> Result<(), TerminalError> {
    let err = |action| move |source| TerminalError::Console { action, slave: slave_path.to_path_buf(), source };
    let console = Path::new(CONSOLE);
    let opened = || crate::rootfs::in_root::InRoot::open(console).map_err(|e| err("open")(e.into()));
    let target = match opened()? {
        Some(target) if target.is_symlink() => {
            let found = target.describe(console);
            return Err(TerminalError::ConsoleInTheWay { found });
        }
        Some(target) => target,
        None => {
            // A bind mount needs a target of the same kind: an empty file.
            // O_EXCL|O_NOFOLLOW: a symlink put there meanwhile is not followed.
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o666)
                .open(CONSOLE)
                .map_err(err("create"))?;
            opened()?.ok_or_else(|| err("open")(std::io::ErrorKind::NotFound.into()))?
        }
    };
    let source = PathBuf::from(format!("/proc/self/fd/{}", slave.as_raw_fd()));
    mount(Some(&source), &target.proc_path(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| err("bind-mount onto")(std::io::Error::from(e)))?;
    let slave_rdev = nix::sys::stat::fstat(slave).map_err(|e| err("stat")(e.into()))?.st_rdev;
    let now = opened()?;
    if !now.as_ref().is_some_and(|c| c.kind() == nix::sys::stat::SFlag::S_IFCHR && c.stat.st_rdev == slave_rdev) {
        let found = now.map_or_else(|| "gone".into(), |c| c.describe(console));
        return Err(TerminalError::ConsoleInTheWay { found });
    }
    Ok(())
}

/// Make `slave` the controlling terminal (the caller already called setsid)
/// and the process's stdin, stdout and stderr.
pub fn make_controlling_terminal(slave: OwnedFd) -> Result<(), TerminalError> {
    ioctls::set_controlling_terminal(slave.as_fd())?;
    let dup_err = |fd| move |source| TerminalError::Dup { fd, source };
    nix::unistd::dup2_stdin(&slave).map_err(dup_err(0))?;
    nix::unistd::dup2_stdout(&slave).map_err(dup_err(1))?;
    nix::unistd::dup2_stderr(&slave).map_err(dup_err(2))?;
    if slave.as_raw_fd() <= 2 {
        // The slave already sits on one of 0-2: closing it would close that too.
        let _ = slave.into_raw_fd();
    }
    Ok(())
}

/// The three terminal ioctls this module needs (man7 ioctl_tty(2)).
mod ioctls {
    use super::TerminalError;
    use nix::pty::Winsize;
    use std::os::fd::{AsRawFd, BorrowedFd};

    nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, Winsize);
    nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, Winsize);
    nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);

    pub fn set_winsize(fd: BorrowedFd<'_>, ws: &Winsize) -> Result<(), TerminalError> {
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer we pass.
        unsafe { tiocswinsz(fd.as_raw_fd(), ws) }
            .map(drop)
            .map_err(|source| TerminalError::Ioctl { request: "TIOCSWINSZ", source })
    }

    pub fn get_winsize(fd: BorrowedFd<'_>) -> Result<Winsize, TerminalError> {
        let mut ws = Winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes one winsize into the pointer we pass.
        unsafe { tiocgwinsz(fd.as_raw_fd(), &mut ws) }
            .map_err(|source| TerminalError::Ioctl { request: "TIOCGWINSZ", source })?;
        Ok(ws)
    }

    pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> Result<(), TerminalError> {
        // 0: do not steal the terminal from another session.
        // SAFETY: TIOCSCTTY takes an int argument, no pointer.
        unsafe { tiocsctty(fd.as_raw_fd(), 0) }.map(drop).map_err(TerminalError::ControllingTerminal)
    }
}

#[cfg(test)]
mod tests;
