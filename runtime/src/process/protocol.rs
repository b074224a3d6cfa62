//! The conversation between the runtime (parent) and the container's init
//! (child) over a socketpair(2) of type SOCK_SEQPACKET: each send is one
//! whole message, so a message is one JSON document with no framing. A file
//! descriptor (the pty master) can ride along a message as SCM_RIGHTS
//! ancillary data (man7 unix(7)).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, socketpair, sockopt, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

/// Messages the runtime sends to the init.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromRuntime {
    /// uid/gid maps are written and the init is in its cgroup: carry on.
    Go,
    /// prestart and createRuntime hooks ran; here is the state for the
    /// createContainer hooks the init runs itself.
    HooksDone { state_json: String },
    /// state.json (for `exec`, the pid file) now names the child: it may
    /// outlive the runtime from here on ([`lifeline`](super::lifeline)).
    Recorded,
}

/// Messages the init sends to the runtime.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// Mounts are made, pivot_root is next: run the createRuntime hooks now.
    MountsDone,
    /// The pty master is attached to this message.
    Console,
    /// Everything up to exec is done; the child waits for `Recorded`.
    Ready,
    /// The parent-death signal is off: the runtime may exit and leave the
    /// child behind (an init then waits on exec.fifo, an exec'd process execs).
    Released,
    /// A step failed; the init exits right after sending this, with
    /// `exit_code` (127 or 126 when the program cannot be run, else 1).
    Failed { stage: glassbox_events::Stage, message: String, exit_code: i32 },
    /// `exec` by an ordinary user: the first child entered the container's
    /// user and pid namespaces and cloned the process that goes on, a child
    /// of the runtime with this host pid (see [`join`](super::join)); the
    /// first child exits next.
    Cloned { pid: i32 },
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("socketpair(2) for the runtime↔init channel failed: {0}")]
    Create(nix::Error),
    #[error("sending to the other side failed: {0}")]
    Send(nix::Error),
    #[error("receiving from the other side failed: {0}")]
    Recv(nix::Error),
    #[error("the other side closed the channel (the container's init exited early)")]
    Closed,
    #[error("unexpected message on the channel: {0}")]
    Garbled(String),
    #[error(
        "a message of {0} bytes is more than the runtime↔init channel carries on this host (~8 MiB as \
         root): it takes state.json to the init, annotations and all; make the annotations in config.json smaller"
    )]
    TooLarge(usize),
}

/// One end of the runtime↔init channel.
pub struct Channel {
    fd: OwnedFd,
}

/// The SO_SNDBUF the runtime's end asks for. A datagram must fit in its
/// sender's (net.core.wmem_default, 208 KiB, unless set), and `HooksDone`
/// carries state.json, annotations and all: Kubernetes allows an object
/// 256 KiB of them. The kernel doubles the value for its own bookkeeping,
/// so messages up to ~8 MiB pass. The other end sends only short messages.
const SEND_BUFFER: usize = 4 << 20;

/// Both ends: the runtime's, then the child's; each side keeps one and
/// drops the other after clone.
pub fn channel_pair() -> Result<(Channel, Channel), ChannelError> {
    let (runtime_end, child_end) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(ChannelError::Create)?;
    // Past net.core.wmem_max only with CAP_NET_ADMIN (SO_SNDBUFFORCE);
    // without it, as large as this host lets anyone have.
    if setsockopt(&runtime_end, sockopt::SndBufForce, &SEND_BUFFER).is_err() {
        let _ = setsockopt(&runtime_end, sockopt::SndBuf, &SEND_BUFFER);
    }
    Ok((Channel { fd: runtime_end }, Channel { fd: child_end }))
}

impl Channel {
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Send `msg`, this process's record written out first: whoever hears
    /// it — and whatever reads the record after that (`start` after
    /// `Ready`, the runtime after `Failed`) — finds every line before it.
    pub fn send<T: Serialize>(&self, msg: &T) -> Result<(), ChannelError> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd<T: Serialize>(&self, msg: &T, fd: Option<RawFd>) -> Result<(), ChannelError> {
        crate::recorder::flush_before_waiting();
        self.send_message(msg, fd)
    }

    /// Send `msg` that tells the other process to go on (`Go`,
    /// `MountsDone`, `HooksDone`), and only then write out this process's
    /// record, while the other one wakes up: a process blocked on the
    /// channel takes 50–100 µs to run again on the 2-CPU VM, and writes
    /// before these three sends made a `run` of /bin/true ~77 µs longer
    /// (runs in turns, 2000 each way). The lines land a
    /// little after the other process's first ones may (readers sort by
    /// `seq`); this process writes them before it next waits, so a runtime
    /// that gives up on a half-made container still finds them (see
    /// `container::create`'s `Undo`).
    pub fn send_then_flush<T: Serialize>(&self, msg: &T) -> Result<(), ChannelError> {
        let sent = self.send_message(msg, None);
        crate::recorder::flush_before_waiting();
        sent
    }

    fn send_message<T: Serialize>(&self, msg: &T, fd: Option<RawFd>) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(msg).expect("protocol messages serialize");
        let iov = [IoSlice::new(&bytes)];
        let fds = fd.map(|f| [f]);
        let cmsgs: Vec<ControlMessage> = fds.iter().map(|f| ControlMessage::ScmRights(f)).collect();
        // MSG_NOSIGNAL: a closed other end is an error to report, not a SIGPIPE.
        sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None).map_err(|e| match e {
            nix::errno::Errno::EMSGSIZE => ChannelError::TooLarge(bytes.len()),
            e => ChannelError::Send(e),
        })?;
        Ok(())
    }

    /// The length of the next message, waiting for it: a peek with
    /// MSG_TRUNC returns a message's whole length without taking it. The
    /// buffer is then just that size, a few bytes for most messages. A
    /// fixed 64 KiB one was zeroed at every handshake, and the first time
    /// in each process that was a page fault for each of its sixteen pages:
    /// 30 more faults in a `run` of /bin/true (305 against 275).
    fn next_message_len(&self) -> Result<usize, ChannelError> {
        let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC;
        let len = nix::sys::socket::recv(self.fd.as_raw_fd(), &mut [], flags).map_err(ChannelError::Recv)?;
        // Zero: the other side closed the channel (recvmsg says so too).
        Ok(len.max(1))
    }

    /// Receive one message and the descriptor riding on it, if any.
    pub fn recv<T: for<'de> Deserialize<'de>>(&self) -> Result<(T, Option<OwnedFd>), ChannelError> {
        crate::recorder::flush_before_waiting();
        let mut buf = vec![0u8; self.next_message_len()?];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
                .map_err(ChannelError::Recv)?;
            let mut fd = None;
            for c in msg.cmsgs().map_err(ChannelError::Recv)? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    // SAFETY: the kernel just installed these descriptors for us.
                    fd = fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
                }
            }
            (msg.bytes, fd)
        };
        if len == 0 {
            return Err(ChannelError::Closed);
        }
        let msg = serde_json::from_slice(&buf[..len])
            .map_err(|e| ChannelError::Garbled(format!("{e}: {}", String::from_utf8_lossy(&buf[..len]))))?;
        Ok((msg, fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_cross() {
        let (a, b) = channel_pair().unwrap();
        a.send(&FromRuntime::Go).unwrap();
        let (m, fd): (FromRuntime, _) = b.recv().unwrap();
        assert!(matches!(m, FromRuntime::Go) && fd.is_none());
        let (r, _w) = nix::unistd::pipe().unwrap();
        b.send_with_fd(&FromInit::Console, Some(r.as_raw_fd())).unwrap();
        let (m, fd): (FromInit, _) = a.recv().unwrap();
        assert!(matches!(m, FromInit::Console) && fd.is_some());
        drop(b);
        assert!(matches!(a.recv::<FromInit>(), Err(ChannelError::Closed)));
    }

    #[test]
    fn a_message_of_many_pages_arrives_whole() {
        // A state.json with the 256 KiB of annotations Kubernetes allows:
        // past the 64 KiB buffer `recv` once had (whose cut-off message did
        // not parse), and past the default SO_SNDBUF (EMSGSIZE).
        let state_json = "x".repeat(300_000);
        let (runtime, init) = channel_pair().unwrap();
        runtime.send(&FromRuntime::HooksDone { state_json: state_json.clone() }).unwrap();
        let (m, _): (FromRuntime, _) = init.recv().unwrap();
        assert!(matches!(m, FromRuntime::HooksDone { state_json: got } if got == state_json));
    }

    #[test]
    fn a_message_past_what_the_channel_carries_is_refused_by_its_size() {
        let (runtime, _init) = channel_pair().unwrap();
        // The kernel doubles SO_SNDBUF: twice what was asked for, and more.
        let state_json = "x".repeat(2 * SEND_BUFFER);
        let err = runtime.send(&FromRuntime::HooksDone { state_json }).unwrap_err();
        assert!(matches!(err, ChannelError::TooLarge(n) if n > 2 * SEND_BUFFER), "{err}");
        assert!(err.to_string().contains("annotations"), "{err}");
    }
}
