//! Passing a file descriptor to another process over a unix socket
//! (man7 unix(7), "SCM_RIGHTS"; cmsg(3); sendmsg(2); recvmsg(2)).
//!
//! A number like 5 means nothing in another process, but the kernel can
//! *install* an open file in the receiver's fd table: the sender attaches it
//! as ancillary ("control") data to an ordinary message. This is how the pty
//! master leaves the container, and how podman's conmon or containerd's shim
//! receive it from the runtime through `--console-socket`. On a stream socket
//! the kernel only carries ancillary data alongside at least one byte, so a
//! payload is always sent; like runc, glassbox sends the master's file name.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use super::TerminalError;

/// What accompanies the master on the console socket: runc sends the name of
/// the file it opened to get the master, which is `/dev/ptmx`; receivers
/// (conmon, containerd's go-runc) read up to 4096 bytes of it and may use it
/// as the received file's name.
pub const CONSOLE_SOCKET_PAYLOAD: &[u8] = b"/dev/ptmx";

/// The most payload [`recv_fd`] accepts (runc's limit for the name, too).
const MAX_PAYLOAD: usize = 4096;

/// Send `fd` and `payload` as one message over an already-connected unix
/// socket. The receiver gets its own descriptor for the same open file.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>, payload: &[u8]) -> Result<(), TerminalError> {
    if payload.is_empty() {
        return Err(TerminalError::EmptyPayload);
    }
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(TerminalError::SendFd(e)),
            // The fd travels with the first byte; a short write could only
            // drop payload bytes, which a stream peer reads on its own.
            Ok(_) => return Ok(()),
        }
    }
}

/// Receive one descriptor and its payload (up to 4096 bytes) sent by
/// [`send_fd`] or any SCM_RIGHTS sender. The new fd is close-on-exec.
///
/// On a stream socket, call this when the fd's message is the next thing to
/// read: bytes written before it (and not yet read) would be returned as part
/// of its payload. (The kernel never joins bytes *after* it.)
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<(OwnedFd, Vec<u8>), TerminalError> {
    let mut buf = vec![0u8; MAX_PAYLOAD];
    let mut space = nix::cmsg_space!(RawFd);
    let (bytes, flags, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(TerminalError::RecvFd(e)),
            Ok(msg) => {
                let mut fds = Vec::new();
                for cmsg in msg.cmsgs().map_err(TerminalError::RecvFd)? {
                    if let ControlMessageOwned::ScmRights(raw) = cmsg {
                        // SAFETY: the kernel just installed these fds for us;
                        // owning them at once closes them on any error below.
                        fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
                    }
                }
                break (msg.bytes, msg.flags, fds);
            }
        }
    };
    if flags.contains(MsgFlags::MSG_CTRUNC) || fds.len() > 1 {
        return Err(TerminalError::Truncated);
    }
    let Some(fd) = fds.into_iter().next() else {
        return Err(if bytes == 0 { TerminalError::PeerClosed } else { TerminalError::NoFdReceived { bytes } });
    };
    buf.truncate(bytes);
    Ok((fd, buf))
}

/// Send the pty master over the unix socket at `socket` (SCM_RIGHTS).
pub fn send_to_console_socket(socket: &Path, master: &OwnedFd) -> Result<(), TerminalError> {
    let conn = connect(socket).map_err(|source| TerminalError::ConnectConsoleSocket { path: socket.into(), source })?;
    send_fd(conn.as_fd(), master.as_fd(), CONSOLE_SOCKET_PAYLOAD).map_err(|e| match e {
        TerminalError::SendFd(source) => TerminalError::SendConsoleSocket { path: socket.into(), source },
        other => other,
    })
}

/// Connect to a unix socket, even one whose path is longer than the 108
/// bytes a socket address holds: then go through the directory's fd, whose
/// /proc/self/fd path is short.
fn connect(path: &Path) -> std::io::Result<UnixStream> {
    match UnixStream::connect(path) {
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(e);
            };
            let dir = std::fs::File::open(dir)?;
            let short = Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string()).join(name);
            UnixStream::connect(short)
        }
        other => other,
    }
}
