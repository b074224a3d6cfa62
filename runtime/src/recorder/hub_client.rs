//! The runtime's connection to the hub's socket. The hub is one long-lived
//! process that every runtime on the host reaches: the dashboard
//! (`glassbox dashboard`, which also holds the eBPF probes `--trace`
//! registers with). Whatever listens there (`/run/glassbox/hub.sock` unless
//! `--hub` says otherwise) takes a unix SOCK_SEQPACKET connection: each
//! runtime connects once, and each message holds whole JSON lines, each
//! ending in a newline: the lines written to the record at the same moment
//! (unix(7); when, the recorder decides).
//!
//! A message is all or nothing, so a busy hub never sees half a line.
//! SEQPACKET rather than datagrams: a connected pair is limited only by the
//! socket's send buffer (a few hundred events), where datagrams to a bound
//! socket stop at `net.unix.max_dgram_qlen` (10) unread messages — a
//! container's first burst. Connecting and sending never wait
//! (SOCK_NONBLOCK, MSG_DONTWAIT): when the buffer is full the kernel says
//! EAGAIN at once, the event is counted as dropped, and the container is
//! made exactly as fast as without a hub. MSG_NOSIGNAL keeps a vanished hub
//! from killing us with SIGPIPE.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sys::socket::{connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

/// A connected, non-blocking socket to the hub.
pub struct HubClient {
    fd: OwnedFd,
}

impl HubClient {
    /// Connect to the hub at `path`; `None` when no hub listens there (the
    /// usual case), which is not an error: events.jsonl is still written.
    pub fn connect(path: &Path) -> Option<HubClient> {
        // No socket file, no hub: one stat instead of making a socket to find out.
        if !path.exists() {
            crate::log::debug(&format!("events: no hub at {}; writing events.jsonl only", path.display()));
            return None;
        }
        let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
        let fd = socket(AddressFamily::Unix, SockType::SeqPacket, flags, None).ok()?;
        let addr = UnixAddr::new(path).ok()?;
        match connect(fd.as_raw_fd(), &addr) {
            Ok(()) => Some(HubClient { fd }),
            Err(e) => {
                crate::log::debug(&format!("events: no hub at {} ({e}); writing events.jsonl only", path.display()));
                None
            }
        }
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// Offer one message of whole lines; false when the hub could not take it now.
    pub fn offer(&self, lines: &[u8]) -> bool {
        send(self.fd.as_raw_fd(), lines, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL).is_ok()
    }
}

/// The most bytes of lines one message carries. A message must fit in the
/// socket's send buffer whole (net.core.wmem_default, ~208 KiB), and the
/// hub reads at most 256 KiB at a time; a single longer line (a hook's
/// huge argv) still goes, alone, and is dropped if the kernel refuses it.
pub const MESSAGE_BYTES: usize = 64 * 1024;

/// The first message to send of `lines` (whole lines, each ending in a
/// newline): as many lines as fit in [`MESSAGE_BYTES`], at least one.
pub fn next_message(lines: &[u8]) -> &[u8] {
    if lines.len() <= MESSAGE_BYTES {
        return lines;
    }
    let end = match lines[..MESSAGE_BYTES].iter().rposition(|b| *b == b'\n') {
        Some(last_newline) => last_newline + 1,
        None => lines.iter().position(|b| *b == b'\n').map_or(lines.len(), |i| i + 1),
    };
    &lines[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_whole_lines_and_no_longer_than_they_may_be() {
        assert_eq!(next_message(b"a\nb\n"), b"a\nb\n");
        let line = [b"x".repeat(1000), b"\n".to_vec()].concat();
        let many = line.repeat(200);
        let first = next_message(&many);
        assert!(first.len() <= MESSAGE_BYTES && first.len() % line.len() == 0, "{}", first.len());
        let long = [b"y".repeat(MESSAGE_BYTES * 2), b"\n".to_vec(), line.clone()].concat();
        assert_eq!(next_message(&long).len(), MESSAGE_BYTES * 2 + 1, "a long line goes alone, whole");
    }
}
