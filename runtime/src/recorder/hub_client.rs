//! The runtime's connection to the hub's socket. The hub is one long-lived
//! process that every runtime on the host reaches: the dashboard
//! (`glassbox dashboard`, which also holds the eBPF probes `--trace`
//! registers with). Whatever listens there (`/run/glassbox/hub.sock` unless
//! `--hub` says otherwise) takes a unix SOCK_SEQPACKET connection: each
//! runtime connects once, and each event is one message holding one JSON
//! line (unix(7)).
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

    /// Offer one line; false when the hub could not take it now.
    pub fn offer(&self, line: &[u8]) -> bool {
        send(self.fd.as_raw_fd(), line, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL).is_ok()
    }
}
