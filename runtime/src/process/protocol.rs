//! The conversation between the runtime (parent) and the container's init
//! (child) over a socketpair(2) of type SOCK_SEQPACKET: each send is one
//! whole message, so a message is one JSON document with no framing. A file
//! descriptor (the pty master) can ride along a message as SCM_RIGHTS
//! ancillary data (man7 unix(7)).
//!
//! This is the one drawing of it: [`FromRuntime`] and [`FromInit`] below are
//! its arrows. `glassbox create` ([`spawn`](super::spawn) clones,
//! [`init`](super::init) is the other side), then `glassbox start`; a
//! stage in brackets is what the record calls the lines beside it:
//!
//! ```text
//!  runtime: glassbox create                           init: the cloned child
//!  ────────────────────────                           ──────────────────────
//!  make <root>/<id>/ and its lock
//!  read + check config.json                [bundle]
//!  note the cgroup's path in <id>/cgroup
//!  make the cgroup, write the limits       [cgroup]
//!    (without root: only where delegated;
//!     --systemd-cgroup: later, see below)
//!  mkfifo <id>/exec.fifo
//!  socketpair(SOCK_SEQPACKET), exec.fifo O_PATH
//!  prctl(PR_SET_DUMPABLE, 0)¹
//!  setns(2) into the pid and time namespaces
//!    given by path; a new time namespace:
//!    unshare(CLONE_NEWTIME), its offsets
//!  clone3(CLONE_NEW… | CLONE_INTO_CGROUP) ──────────▶ born in its new namespaces and in
//!                                      [namespaces]   its cgroup2 directory;
//!    no cgroup2 directory, or clone3 refused:         prctl(PR_SET_PDEATHSIG, SIGKILL);
//!    clone(2), and cgroup.procs below                 every fd closed but the channel,
//!  setns(2) back into its own pid and time            exec.fifo, the event sinks and
//!    namespaces                                       --preserve-fds; SIGPIPE default,
//!  new user namespace: /proc/<pid>/uid_map,           no signal blocked; waits
//!    gid_map                                [idmap]
//!  <pid> into cgroup.procs: the cgroup2 one
//!    if clone3 did not start it there, the v1
//!    ones in a new user namespace          [cgroup]
//!  --systemd-cgroup: StartTransientUnit with
//!    PIDs=<pid>, wait for JobRemoved, write the
//!    limits systemd has no property for    [cgroup]
//!            ──── Go ───────────────────────────────▶ "0" into each v1 cgroup's tasks,
//!                                                     unless in a new user ns    [cgroup]
//!                                                     setresuid/gid(0) in a new user
//!                                                     namespace (PDEATHSIG set again),
//!                                                     setns(2) into namespaces given by
//!                                                     path, unshare(CLONE_NEWCGROUP),
//!                                                     setsid, a new keyring  [namespaces]
//!                                                     chdir(bundle), mounts      [mounts]
//!                                                     device nodes              [devices]
//!            ◀─── MountsDone ────────────────────────
//!  device rules: v1 devices.allow/deny lines,
//!    or a v2 eBPF program                 [devices]
//!  prestart + createRuntime hooks           [hooks]
//!            ──── HooksDone { state_json } ─────────▶ createContainer hooks       [hooks]
//!                                                     pivot_root (or MS_MOVE + chroot)
//!                                                                            [pivot_root]
//!            ◀─── Console + the pty master ────────── (only with process.terminal)
//!  to --console-socket (or kept: run)                 hostname, sysctls, masked and
//!                                                     read-only paths; glassbox-exec in
//!                                                     a sealed memfd, close_range
//!                                                     (CLOEXEC); rlimits, open cwd,
//!                                                     seccomp², capabilities, user,
//!                                                     chdir cwd, no_new_privs; resolve
//!                                                     process.args[0], compile the
//!                                                     filter to load last²         [exec]
//!                                                     prctl(PR_SET_PDEATHSIG, SIGKILL)
//!            ◀─── Ready ─────────────────────────────
//!  write state.json, --pid-file
//!            ──── Recorded ─────────────────────────▶ prctl(PR_SET_PDEATHSIG, 0)
//!            ◀─── Released ────────────────────────── (`run` does not wait for it)
//!  exit                                               open /proc/self/fd/N (exec.fifo)
//!                                                     O_WRONLY … blocks …
//!
//!  glassbox start                                     the init
//!  ──────────────                                     ────────
//!  open(exec.fifo, O_RDONLY|O_NONBLOCK) ────────────▶ the open returns; write "0",
//!    and poll (is the init still alive?)              keep the fd
//!  unlink exec.fifo, unlock,                          startContainer hooks; the fd kept
//!  read to EOF … waits …                              open across glassbox-exec;
//!                                                     seccomp²; execve
//!  EOF after "0": the program runs ◀───────────────── the last execve closes the fd
//!    → poststart hooks, exit 0
//!  "0" + "stage\nreason" ◀─────────────────────────── or a step failed: why, then exit
//!    → print it, exit 1 (`run`: and delete)
//! ```
//!
//! Any failing step before `start` sends `Failed { stage, message,
//! exit_code }` instead of the next message and the init exits; `create`
//! then stops it and removes everything it made. Until `Recorded` the init
//! dies with the runtime ([`lifeline`](super::lifeline)); a message it sends
//! after each prctl is the check that the runtime had not died already.
//!
//! ¹ Except an ordinary user's runtime making a user namespace: it must open
//! the init's uid_map, so the init stays dumpable until `Go` and then makes
//! itself non-dumpable ([`fds::make_unreachable`](super::fds::make_unreachable)).
//! ² seccomp: without `noNewPrivileges`, loaded before the capabilities are
//! dropped (loading then needs CAP_SYS_ADMIN); with it, compiled before
//! `Ready` and loaded last, just before execve.
//!
//! With `--systemd-cgroup` there is no cgroup before the clone (a scope
//! cannot start empty): the init is cloned without CLONE_INTO_CGROUP in the
//! runtime's own cgroup, and systemd moves it into its scope before `Go`.
//!
//! `glassbox exec` ([`join`](super::join)) speaks the same messages with a
//! process joining the running container:
//!
//! ```text
//!  runtime: glassbox exec                             the joining process
//!  ──────────────────────                             ───────────────────
//!  with root: setns(2) into the init's pid
//!    and time namespaces
//!  clone3(CLONE_INTO_CGROUP), or fork ──────────────▶ born in the container's pid
//!  setns(2) back into its own                         namespace and cgroup2 directory;
//!                                                     PDEATHSIG, fds closed; waits
//!    (without root the child is a first child:
//!    it enters the user, pid and time
//!    namespaces, then clones the process
//!    that goes on with CLONE_PARENT)
//!            ◀─── Cloned { pid } ──────────────────── (from the first child, which exits)
//!  not cloned into it: <pid> into the
//!    cgroup2 cgroup.procs                  [cgroup]
//!            ──── Go ───────────────────────────────▶ "0" into each v1 cgroup's tasks
//!                                                     setns(2) into the others, setsid
//!                                                     no mount namespace of its own:
//!                                                     chroot /proc/<init>/root
//!            ◀─── Console + the pty master ────────── (only with process.terminal)
//!                                                     the init's steps from the memfd to
//!                                                     process.args[0]; PDEATHSIG
//!            ◀─── Ready ─────────────────────────────
//!  write --pid-file
//!            ──── Recorded ─────────────────────────▶ PDEATHSIG off; seccomp² if last
//!            ◀─── Released (or Failed) ──────────────
//!  wait for it (--detach: exit)                       execve through glassbox-exec
//! ```

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
