//! The line to the narrator. With `--explain` or `--step`, the runtime runs
//! the narrator on a thread of its own; every process that records — the
//! runtime, the container's init after clone(2), a process joining with
//! `exec` — hands it each event over one SOCK_SEQPACKET socketpair (one
//! event per message, see unix(7)) and waits for a one-byte answer.
//!
//! Waiting is the point: the narration of a step is printed before the
//! step's effects (before the user's program writes its first line), and
//! `--step` can hold a stage until Enter is pressed. When the narrator is
//! gone (`create --explain` has returned while the init waits for `start`),
//! the send fails at once and the event goes to the other sinks only.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

/// The recorders' end; the narrator thread holds the other.
pub struct NarratorLink {
    fd: OwnedFd,
}

impl NarratorLink {
    /// A connected pair: (the recorders' end, the narrator's end). Both are
    /// close-on-exec, so neither reaches the user's program.
    pub fn pair() -> std::io::Result<(NarratorLink, OwnedFd)> {
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
            .map_err(std::io::Error::from)?;
        READER_FD.store(theirs.as_raw_fd(), Ordering::SeqCst);
        Ok((NarratorLink { fd: ours }, theirs))
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// Hand over one event line and wait until the narrator has told it.
    pub fn tell(&self, line: &[u8]) {
        if send(self.fd.as_raw_fd(), line, MsgFlags::MSG_NOSIGNAL).is_err() {
            return;
        }
        let mut answer = [0u8; 1];
        let _ = recv(self.fd.as_raw_fd(), &mut answer, MsgFlags::empty());
    }
}

/// The narrator's end, as a number a cloned child can close.
static READER_FD: AtomicI32 = AtomicI32::new(-1);

/// In a process cloned from the runtime (the init, an exec'd process):
/// close the copy of the narrator's end that clone(2) gave us. Otherwise,
/// once the runtime is gone (`create --explain` has returned), our own copy
/// would keep the line open, and we would wait for answers nobody gives.
pub fn close_reader_in_child() {
    let fd = READER_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the fd is the child's copy of the narrator's end; nothing in the child uses it.
        unsafe { libc::close(fd) };
    }
}

/// The narrator's buffer for one event line, made before it starts to
/// listen (see [`next_line`]).
pub fn line_buffer() -> Vec<u8> {
    vec![0; 256 * 1024]
}

/// The narrator's side: the next event line (into a [`line_buffer`], so
/// nothing is allocated between an answer and the next line), or `None`
/// once every recorder has closed its end.
pub fn next_line(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    match recv(fd.as_raw_fd(), buf, MsgFlags::empty()) {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

/// Let the recorder that sent the last line go on.
pub fn answer(fd: &OwnedFd) {
    let _ = send(fd.as_raw_fd(), b"k", MsgFlags::MSG_NOSIGNAL);
}
