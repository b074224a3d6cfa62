//! The receiving end of `--console-socket`: the runtime connects to a Unix
//! socket we listen on and sends the pty master as SCM_RIGHTS ancillary data
//! (unix(7), cmsg(3)).

use std::io::IoSliceMut;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};

/// Listens on `path`; the returned handle yields the received fd.
pub fn listen(path: &Path) -> JoinHandle<Result<OwnedFd, String>> {
    let listener = UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<UnixAddr>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
            .map_err(|e| format!("recvmsg: {e}"))?;
        for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                if let Some(&fd) = fds.first() {
                    // SAFETY: the kernel just installed this fd in our table for us.
                    return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        Err("the console socket message carried no SCM_RIGHTS fd".into())
    })
}

/// Reads from `fd` until `needle` appears or `timeout` passes; returns all
/// that was read.
pub fn read_until(fd: &OwnedFd, needle: &str, timeout: Duration) -> String {
    let (tx, rx) = mpsc::channel();
    let dup = fd.try_clone().expect("dup pty master");
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(dup);
        let mut buf = [0u8; 1024];
        loop {
            match std::io::Read::read(&mut f, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let deadline = std::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(chunk) => {
                seen.extend(chunk);
                if String::from_utf8_lossy(&seen).contains(needle) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}
