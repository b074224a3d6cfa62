//! The hub socket: where every runtime on the host sends its events. A unix
//! socket of type SOCK_SEQPACKET (unix(7)): connection-oriented like a
//! stream, but each send arrives as one whole message, so a message is
//! whole event lines (newline-ended) and no framing is needed. The runtime never waits for the
//! hub (recorder/hub_client.rs); here, one thread watches every connection
//! and reads their messages in batches as fast as they come.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{
    accept4, bind, listen, recv, socket, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr,
};

use crate::Shared;

/// The longest event line taken. The socket's send buffer bounds what a
/// runtime can send at all (a longer line fails with EMSGSIZE there and is
/// counted as dropped); a message longer than this is counted as invalid.
const MAX_MESSAGE: usize = 256 * 1024;

/// Bind the hub socket at `path` (mode 0600: root's runtimes only), after
/// checking no other hub listens there; a stale socket file is replaced.
pub fn bind_hub(path: &Path) -> Result<OwnedFd> {
    if path.exists() {
        if seqpacket_connects(path) {
            bail!("{}: another hub already listens there (stop it, or pass --hub PATH)", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    }
    let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
        .context("socket(AF_UNIX, SOCK_SEQPACKET)")?;
    let addr = UnixAddr::new(path).with_context(|| format!("{}: not a usable socket path", path.display()))?;
    bind(fd.as_raw_fd(), &addr).with_context(|| format!("bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 0600 {}", path.display()))?;
    listen(&fd, Backlog::new(128).expect("backlog")).with_context(|| format!("listen on {}", path.display()))?;
    Ok(fd)
}

fn seqpacket_connects(path: &Path) -> bool {
    let Ok(fd) = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None) else { return false };
    UnixAddr::new(path).is_ok_and(|a| nix::sys::socket::connect(fd.as_raw_fd(), &a).is_ok())
}

/// Accept runtimes and read their messages, for ever, on this one thread.
///
/// One thread watches every connection (epoll(7)) rather than one thread
/// each: with fifty runtimes sending at once, fifty threads spent their
/// time waking each other, and on glibc's malloc locks, more than reading
/// (bench/dashboard.sh). Here one wakeup finds every connection that has
/// messages waiting, up to [`PER_CONNECTION`] of each is read without
/// waiting, and all of them are taken at once.
pub fn serve(listener: OwnedFd, shared: Shared) {
    if let Err(e) = watch_connections(listener, shared) {
        eprintln!("glassbox-dashboard: the hub socket: {e:#}; no more events are taken");
    }
}

/// The epoll key of the listening socket; connections are keyed by their fd.
const LISTENER: u64 = u64::MAX;
/// The most messages read from one connection per wakeup, so that one busy
/// runtime cannot keep the others waiting (epoll is level-triggered: what
/// is left wakes the next round at once).
const PER_CONNECTION: usize = 16;
/// A batch is taken once it holds this many bytes of lines.
const BATCH_BYTES: usize = 1 << 20;

fn watch_connections(listener: OwnedFd, shared: Shared) -> Result<()> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?;
    // Non-blocking, so that accept_all stops when no runtime is left waiting.
    let flags = OFlag::from_bits_retain(fcntl(&listener, FcntlArg::F_GETFL).context("fcntl F_GETFL")?);
    fcntl(&listener, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).context("fcntl F_SETFL O_NONBLOCK")?;
    epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER)).context("watching the hub socket")?;
    let mut connections: HashMap<u64, OwnedFd> = HashMap::new();
    let mut ready = vec![EpollEvent::empty(); 128];
    let mut batch = Batch::new();
    let mut parsed = Vec::new();
    loop {
        let n = match epoll.wait(&mut ready, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("epoll_wait"),
        };
        for event in &ready[..n] {
            let key = event.data();
            if key == LISTENER {
                accept_all(&listener, &epoll, &mut connections);
                continue;
            }
            let Some(conn) = connections.get(&key) else { continue };
            if batch.read_from(conn, &shared) == Read::Closed {
                // Its last messages are in the batch; the descriptor leaves epoll as it closes.
                connections.remove(&key);
            }
            if batch.full() {
                batch.take(&shared, &mut parsed);
            }
        }
        batch.take(&shared, &mut parsed);
    }
}

/// Every runtime waiting to be accepted, each watched from now on. All of
/// them, not one a round: a round may take tens of milliseconds under load,
/// and a runtime's first messages wait in its socket until it is accepted.
/// A runtime that cannot be watched is let go (it keeps writing its record
/// and counts the events the hub missed); the others are not affected.
fn accept_all(listener: &OwnedFd, epoll: &Epoll, connections: &mut HashMap<u64, OwnedFd>) {
    loop {
        match accept4(listener, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK) {
            Ok(conn) => {
                let key = conn.as_raw_fd() as u64;
                match epoll.add(&conn, EpollEvent::new(EpollFlags::EPOLLIN, key)) {
                    Ok(()) => drop(connections.insert(key, conn)),
                    Err(e) => eprintln!(
                        "glassbox-dashboard: watching a runtime's connection (epoll_ctl): {e}; its events go to its record only"
                    ),
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) => return,
            Err(e) => {
                eprintln!("glassbox-dashboard: accept on the hub socket: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
                return;
            }
        }
    }
}

/// Lines read and not yet taken: the bytes side by side in one buffer,
/// each message received straight into it, and where each line is.
struct Batch {
    bytes: Vec<u8>,
    len: usize,
    lines: Vec<(usize, usize)>,
}

#[derive(PartialEq)]
enum Read {
    Open,
    Closed,
}

impl Batch {
    fn new() -> Batch {
        Batch { bytes: vec![0; BATCH_BYTES + MAX_MESSAGE], len: 0, lines: Vec::new() }
    }

    fn full(&self) -> bool {
        self.len >= BATCH_BYTES
    }

    /// What `conn` has waiting, up to [`PER_CONNECTION`] messages, never waiting for more.
    fn read_from(&mut self, conn: &OwnedFd, shared: &Shared) -> Read {
        for _ in 0..PER_CONNECTION {
            if self.full() {
                return Read::Open;
            }
            let room = &mut self.bytes[self.len..self.len + MAX_MESSAGE];
            // MSG_TRUNC: the message's real length, so a cut-off line is seen as one.
            match recv(conn.as_raw_fd(), room, MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT) {
                Ok(0) => return Read::Closed,
                Ok(n) if n > MAX_MESSAGE => shared.metrics.invalid_lines.inc(),
                Ok(n) => match std::str::from_utf8(&room[..n]) {
                    Ok(text) => {
                        // Whole lines, each ending in a newline (the last one's
                        // may be missing: a sender of one line at a time).
                        let mut start = self.len;
                        for line in text.split('\n') {
                            if !line.is_empty() {
                                self.lines.push((start, start + line.len()));
                            }
                            start += line.len() + 1;
                        }
                        self.len += n;
                    }
                    Err(_) => shared.metrics.invalid_lines.inc(),
                },
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => return Read::Open,
                Err(_) => return Read::Closed,
            }
        }
        Read::Open
    }

    /// Every line read so far, into the store and to the web side; the batch is empty after.
    fn take(&mut self, shared: &Shared, parsed: &mut Vec<glassbox_events::Event>) {
        if self.lines.is_empty() {
            return;
        }
        let lines: Vec<&str> = self
            .lines
            .iter()
            .map(|&(start, end)| std::str::from_utf8(&self.bytes[start..end]).expect("checked as it was received"))
            .collect();
        shared.take_lines(&lines, parsed);
        self.lines.clear();
        self.len = 0;
    }
}

/// `/run/glassbox/hub.sock`, or the user's runtime directory's.
pub fn default_hub_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|_| !nix::unistd::geteuid().is_root()) {
        Some(dir) => PathBuf::from(dir).join("glassbox/hub.sock"),
        None => PathBuf::from("/run/glassbox/hub.sock"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{connect, send};

    #[test]
    fn each_line_is_one_event_and_a_second_hub_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sock");
        let listener = bind_hub(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only root's runtimes may send");
        let err = bind_hub(&path).unwrap_err().to_string();
        assert!(err.contains("another hub already listens"), "{err}");

        let shared = Shared::new();
        let serving = shared.clone();
        std::thread::spawn(move || serve(listener, serving));
        let client = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
        connect(client.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
        let line = r#"{"v":1,"seq":1,"ts_ns":5,"wall":"2026-12-07T00:00:00.000000000Z","container":"web","pid":7,"source":"runtime","type":"stage_begin","stage":"bundle"}"#;
        send(client.as_raw_fd(), line.as_bytes(), MsgFlags::empty()).unwrap();
        send(client.as_raw_fd(), b"not an event", MsgFlags::empty()).unwrap();
        // A stage's lines in one message, as the runtime sends them.
        let step = line.replace(
            r#""type":"stage_begin","stage":"bundle""#,
            r#""type":"step","stage":"bundle","action":"load","args":{}"#,
        );
        send(client.as_raw_fd(), format!("{step}\n{step}\n").as_bytes(), MsgFlags::empty()).unwrap();
        // Longer than MAX_MESSAGE: counted as invalid, not read as a cut-off line.
        let long = format!("{}{}", &line[..line.len() - 1], " ".repeat(MAX_MESSAGE));
        let _ = nix::sys::socket::setsockopt(&client, nix::sys::socket::sockopt::SndBuf, &(4 * MAX_MESSAGE));
        send(client.as_raw_fd(), long.as_bytes(), MsgFlags::empty()).unwrap();
        for _ in 0..200 {
            if shared.metrics.invalid_lines.get() == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(shared.metrics.events_received.get(), 3);
        assert_eq!(shared.metrics.invalid_lines.get(), 2);
        let web = shared.store.lock().unwrap().get("web").unwrap();
        assert_eq!((web.stages[0].stage, web.stages[0].steps), ("bundle", 2));
    }
}
