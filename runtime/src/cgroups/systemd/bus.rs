//! A blocking D-Bus connection over a Unix socket: the SASL handshake
//! (`AUTH EXTERNAL` — the kernel vouches for our uid through SO_PEERCRED),
//! `Hello` to the bus daemon, then method calls and their replies, and the
//! signals that arrive in between, kept until asked for.
//!
//! One thread, no background reader: glassbox clones the container's init
//! right after talking to systemd, and a process that clones must not have
//! other threads holding locks. The connection is closed when dropped.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::wire::{Kind, Message, Value, WireError, FIXED_HEADER};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(
        "cannot connect to the D-Bus socket {path}: {source} (is dbus running? systemd's API is reached through it)"
    )]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("D-Bus socket {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("D-Bus socket {path}: the bus refused our credentials: {answer:?}")]
    Auth { path: PathBuf, answer: String },
    #[error("D-Bus socket {path}: {source}")]
    Wire { path: PathBuf, source: WireError },
    #[error("{member} failed: {name}: {message}")]
    Method { member: String, name: String, message: String },
    #[error("no {what} came in time on {path} (is systemd busy or stuck? see `systemctl list-jobs`)")]
    Timeout { path: PathBuf, what: String },
}

/// A message bigger than this is not one systemd would send us.
const MAX_MESSAGE: usize = 1 << 20;

pub struct Bus {
    stream: UnixStream,
    path: PathBuf,
    serial: u32,
    /// Signals read while waiting for a reply.
    signals: VecDeque<Message>,
}

impl Bus {
    /// Connect to the bus listening at `path`, authenticate and say Hello.
    pub fn connect(path: &Path) -> Result<Bus, BusError> {
        let stream =
            UnixStream::connect(path).map_err(|source| BusError::Connect { path: path.to_path_buf(), source })?;
        let mut bus = Bus { stream, path: path.to_path_buf(), serial: 0, signals: VecDeque::new() };
        bus.authenticate()?;
        bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", vec![])?;
        Ok(bus)
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> BusError + '_ {
        |source| BusError::Io { path: self.path.clone(), source }
    }

    /// The SASL exchange, text lines ending in CRLF: a NUL byte first (it
    /// carries the credentials), `AUTH EXTERNAL <uid in hex>`, the server's
    /// `OK <guid>`, then `BEGIN`, after which the binary protocol starts.
    fn authenticate(&mut self) -> Result<(), BusError> {
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        self.stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(self.io())?;
        self.stream.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes()).map_err(self.io())?;
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n") && answer.len() < 512 {
            let n = self.stream.read(&mut byte).map_err(self.io())?;
            if n == 0 {
                break;
            }
            answer.push(byte[0]);
        }
        let answer = String::from_utf8_lossy(&answer).trim_end().to_string();
        if !answer.starts_with("OK ") {
            return Err(BusError::Auth { path: self.path.clone(), answer });
        }
        self.stream.write_all(b"BEGIN\r\n").map_err(self.io())
    }

    /// Call `member` and wait (up to 30 s) for its reply's body; an error
    /// reply becomes [`BusError::Method`] with the error's name and text.
    pub fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Result<Vec<Value>, BusError> {
        self.serial += 1;
        let serial = self.serial;
        let bytes = Message::call(destination, path, interface, member, body).encode(serial);
        self.stream.write_all(&bytes).map_err(self.io())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = self.read_message(deadline, &format!("answer to {member}"))?;
            match m.kind {
                Some(Kind::Signal) => self.signals.push_back(m),
                Some(Kind::MethodReturn) if m.reply_serial == Some(serial) => return Ok(m.body),
                Some(Kind::Error) if m.reply_serial == Some(serial) => {
                    let message = m.body.first().and_then(Value::as_str).unwrap_or_default().to_string();
                    return Err(BusError::Method {
                        member: member.to_string(),
                        name: m.error_name.unwrap_or_default(),
                        message,
                    });
                }
                _ => {} // a reply to someone else, or a call to us: not ours to answer
            }
        }
    }

    /// Wait until `wanted` picks a signal (kept ones first), up to `timeout`.
    pub fn wait_signal<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut wanted: impl FnMut(&Message) -> Option<T>,
    ) -> Result<T, BusError> {
        while let Some(m) = self.signals.pop_front() {
            if let Some(found) = wanted(&m) {
                return Ok(found);
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.read_message(deadline, what)?;
            if m.kind == Some(Kind::Signal) {
                if let Some(found) = wanted(&m) {
                    return Ok(found);
                }
            }
        }
    }

    /// Read one whole message, waiting no later than `deadline`.
    fn read_message(&mut self, deadline: Instant, what: &str) -> Result<Message, BusError> {
        let mut fixed = [0u8; FIXED_HEADER];
        self.read_exact_by(&mut fixed, deadline, what)?;
        let wire = |source| BusError::Wire { path: self.path.clone(), source };
        let total = Message::total_len(&fixed).map_err(wire)?;
        if total > MAX_MESSAGE {
            return Err(wire(WireError::Malformed { at: 0, what: "message length" }));
        }
        let mut bytes = vec![0u8; total];
        bytes[..FIXED_HEADER].copy_from_slice(&fixed);
        self.read_exact_by(&mut bytes[FIXED_HEADER..], deadline, what)?;
        Message::decode(&bytes).map_err(|source| BusError::Wire { path: self.path.clone(), source })
    }

    fn read_exact_by(&mut self, mut buf: &mut [u8], deadline: Instant, what: &str) -> Result<(), BusError> {
        while !buf.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = || BusError::Timeout { path: self.path.clone(), what: what.to_string() };
            if left.is_zero() {
                return Err(timeout());
            }
            self.stream.set_read_timeout(Some(left)).map_err(self.io())?;
            match self.stream.read(buf) {
                Ok(0) => {
                    let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the bus closed the connection");
                    return Err(self.io()(eof));
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err(timeout());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io()(e)),
            }
        }
        Ok(())
    }
}
