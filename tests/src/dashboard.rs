//! The dashboard as the tests start it: `glassbox dashboard` on a hub
//! socket and a loopback port of its own, reading the test runtime's root,
//! and read back through plain HTTP the way a browser or Prometheus would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Bundle, Runtime};

/// The dashboard process, stopped (SIGTERM) and reaped on drop.
pub struct Dashboard {
    child: Child,
    pub port: u16,
}

impl Dashboard {
    /// The dashboard's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGTERM);
        let _ = crate::runtime::wait_bounded(&mut self.child, Duration::from_secs(5));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Dashboard {
    pub fn start(rt: &Runtime, hub: &Path) -> Dashboard {
        Dashboard::start_with(rt, hub, &[])
    }

    /// With more arguments after the hub, port and root. Without the eBPF
    /// probes (`--no-probes`) unless `more` names a `--pin-dir` for them:
    /// tests run side by side, and the default pins are one per machine.
    pub fn start_with(rt: &Runtime, hub: &Path, more: &[&str]) -> Dashboard {
        Dashboard::start_on(rt, hub, "127.0.0.1", more)
    }

    /// Listening on `host` (e.g. `0.0.0.0` with `--public` in `more`), read
    /// through 127.0.0.1 all the same.
    pub fn start_on(rt: &Runtime, hub: &Path, host: &str, more: &[&str]) -> Dashboard {
        let port = free_port();
        let probes: &[&str] = if more.contains(&"--pin-dir") { &[] } else { &["--no-probes"] };
        let child = rt
            .command()
            .args(["dashboard", "--hub"])
            .arg(hub)
            .args(["--listen", &format!("{host}:{port}"), "--root"])
            .arg(rt.root())
            .args(probes)
            .args(more)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dashboard = Dashboard { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while dashboard.get("/api/containers").is_none() || !hub.exists() {
            assert!(Instant::now() < deadline, "the dashboard did not answer on port {port} within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        dashboard
    }

    /// A plain HTTP/1.1 GET: the status line's code and the body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        self.get_with(path, &[]).map(|(code, _, body)| (code, body))
    }

    /// A GET with more header lines (`Authorization: Bearer …`): the code,
    /// the response's header block and the body.
    pub fn get_with(&self, path: &str, headers: &[&str]) -> Option<(u16, String, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let more: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{more}\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let code = text.split(' ').nth(1)?.parse().ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        Some((code, head.to_string(), body.to_string()))
    }

    pub fn container(&self, id: &str) -> Option<Value> {
        let (code, body) = self.get(&format!("/api/containers/{id}"))?;
        (code == 200).then(|| serde_json::from_str(&body).unwrap())
    }

    /// Polls `GET /api/containers/{id}/cgroup` until `ok` holds of the
    /// series, or 20 s (the sampler reads once a second).
    pub fn wait_cgroup(&self, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Some((200, body)) = self.get(&format!("/api/containers/{id}/cgroup")) {
                last = serde_json::from_str(&body).unwrap();
                if ok(&last) {
                    return last;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{id}: the cgroup series never got as expected within 20 s; last: {last}");
    }

    /// Until `ok` holds of the container's view, or 5 s.
    pub fn wait_for(&self, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(c) = self.container(id).filter(|c| ok(c)) {
                return c;
            }
            assert!(Instant::now() < deadline, "{id}: not as expected within 5 s: {:?}", self.container(id));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn run_with_hub(rt: &Runtime, id: &str, bundle: &Bundle, hub: &Path) -> std::process::Output {
    let mut args = vec![std::ffi::OsStr::new("--hub"), hub.as_os_str()];
    args.extend(["run", id, "--bundle"].map(std::ffi::OsStr::new));
    args.push(bundle.path().as_os_str());
    rt.cmd_os(args)
}
