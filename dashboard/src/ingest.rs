//! The hub socket: where every runtime on the host sends its events. A unix
//! socket of type SOCK_SEQPACKET (unix(7)): connection-oriented like a
//! stream, but each send arrives as one whole message, so one message is
//! one event line and no framing is needed. The runtime never waits for the
//! hub (recorder/hub_client.rs); here, one thread per connection reads its
//! messages as fast as they come.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::sys::socket::{
    accept, bind, listen, recv, socket, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr,
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

/// Accept runtimes for ever, one reading thread each.
pub fn serve(listener: OwnedFd, shared: Shared) {
    loop {
        match accept(&listener) {
            Ok(conn) => {
                let shared = shared.clone();
                std::thread::spawn(move || read_connection(conn, shared));
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("glassbox-dashboard: accept on the hub socket: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// How many waiting messages one read takes before handing them on.
const BATCH: usize = 256;

/// Every message of one runtime, until it closes its end. One blocking
/// read waits for the next message; then whatever else is already waiting
/// (up to [`BATCH`]) is read without waiting, and all of it is taken at once.
fn read_connection(conn: OwnedFd, shared: Shared) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut held = String::new();
    let mut ends = Vec::with_capacity(BATCH);
    let mut parsed = Vec::with_capacity(BATCH);
    loop {
        held.clear();
        ends.clear();
        let mut flags = MsgFlags::MSG_TRUNC;
        let mut closed = false;
        while ends.len() < BATCH {
            // MSG_TRUNC: the message's real length, so a cut-off line is seen as one.
            match recv(conn.as_raw_fd(), &mut buf, flags) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) if n > buf.len() => shared.metrics.invalid_lines.inc(),
                Ok(n) => match std::str::from_utf8(&buf[..n]) {
                    Ok(line) => {
                        held.push_str(line);
                        ends.push(held.len());
                    }
                    Err(_) => shared.metrics.invalid_lines.inc(),
                },
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
            flags = MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT;
        }
        let mut start = 0;
        let lines: Vec<&str> = ends
            .iter()
            .map(|&end| {
                let line = &held[start..end];
                start = end;
                line
            })
            .collect();
        shared.take_lines(&lines, &mut parsed);
        if closed {
            return;
        }
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
    fn each_message_is_one_event_and_a_second_hub_is_refused() {
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
        assert_eq!(shared.metrics.events_received.get(), 1);
        assert_eq!(shared.metrics.invalid_lines.get(), 2);
        assert_eq!(shared.store.lock().unwrap().get("web").unwrap().stages[0].stage, "bundle");
    }
}
