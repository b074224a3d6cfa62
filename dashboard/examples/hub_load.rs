//! The load bench/dashboard.sh puts on a running dashboard: many runtimes
//! at once, as fast as the hub takes them. Not a test and not shipped — a
//! measuring tool.
//!
//! - `hub_load throughput HUB ADDR CONNS EVENTS`: CONNS connections (one
//!   "runtime" each, its own container id) each send EVENTS event lines —
//!   a realistic mix of steps and syscall records, ≈250 bytes — with
//!   blocking sends, so the figure is what the hub can take, not what a
//!   runtime would drop. The clock runs from the first send until the
//!   dashboard's `glassbox_events_received_total` (its /metrics on ADDR)
//!   has grown by CONNS × EVENTS.
//! - `hub_load latency HUB ADDR N`: N events, 20 ms apart, each for a new
//!   container `latency-<i>`, while one reader follows the dashboard's live
//!   stream (`/api/stream`, what the page listens to); the latency of one
//!   event is from its send to the moment its container's id shows up in the
//!   stream. Prints the median, the 99th percentile and the worst.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: hub_load throughput HUB ADDR CONNS EVENTS | hub_load latency HUB ADDR N";
    match args.get(1).map(String::as_str) {
        Some("throughput") if args.len() == 6 => {
            throughput(&args[2], &args[3], args[4].parse().expect("CONNS"), args[5].parse().expect("EVENTS"))
        }
        Some("latency") if args.len() == 5 => latency(&args[2], &args[3], args[4].parse().expect("N")),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

fn connect_hub(path: &str) -> OwnedFd {
    let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).expect("socket");
    connect(fd.as_raw_fd(), &UnixAddr::new(path).expect("hub path")).unwrap_or_else(|e| panic!("connect {path}: {e}"));
    fd
}

/// Event `seq` of one load container: every fourth a step, the rest
/// syscall records, as a traced container sends them.
fn event_line(container: &str, seq: u64) -> String {
    let ts = 1_000_000_000 + seq * 1000;
    let head = format!(
        r#"{{"v":1,"seq":{seq},"ts_ns":{ts},"wall":"2026-12-07T00:00:00.000000000Z","container":"{container}","pid":4242,"#
    );
    if seq % 4 == 0 {
        head + r#""source":"runtime","type":"step","stage":"mounts","action":"mount","args":{"source":"proc","target":"/proc","fstype":"proc","flags":"MS_NOSUID|MS_NODEV|MS_NOEXEC"}}"#
    } else {
        head + r#""source":"kernel","type":"syscall","nr":0,"name":"read","args":[3,140737488346112,4096,0,0,0],"ret":4096,"latency_ns":1200}"#
    }
}

fn throughput(hub: &str, addr: &str, conns: usize, events: u64) {
    let before = received(addr);
    let barrier = Arc::new(Barrier::new(conns + 1));
    let mut senders = Vec::new();
    for c in 0..conns {
        let (hub, barrier) = (hub.to_string(), barrier.clone());
        senders.push(std::thread::spawn(move || {
            let container = format!("load-{c}");
            let lines: Vec<String> = (0..events).map(|seq| event_line(&container, seq)).collect();
            let fd = connect_hub(&hub);
            barrier.wait();
            for line in &lines {
                send(fd.as_raw_fd(), line.as_bytes(), MsgFlags::MSG_NOSIGNAL).expect("send to the hub");
            }
        }));
    }
    barrier.wait();
    let start = Instant::now();
    for s in senders {
        s.join().expect("sender");
    }
    let sent = start.elapsed();
    let want = before + conns as u64 * events;
    let deadline = Instant::now() + Duration::from_secs(300);
    while received(addr) < want {
        assert!(Instant::now() < deadline, "the dashboard did not take {want} events within 300 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let taken = start.elapsed();
    let total = conns as u64 * events;
    println!(
        "throughput: {total} events from {conns} connections: all sent in {:.2} s, all taken in {:.2} s: {:.0} events/s",
        sent.as_secs_f64(),
        taken.as_secs_f64(),
        total as f64 / taken.as_secs_f64()
    );
}

/// The dashboard's `glassbox_events_received_total`.
fn received(addr: &str) -> u64 {
    let body = http_get(addr, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix("glassbox_events_received_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or_else(|| panic!("no glassbox_events_received_total in {addr}/metrics"))
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

fn latency(hub: &str, addr: &str, n: usize) {
    let seen: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    write!(stream, "GET /api/stream HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
        .expect("request");
    let reader_seen = seen.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut carry = String::new();
        loop {
            let got = match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(got) => got,
            };
            let now = Instant::now();
            carry.push_str(&String::from_utf8_lossy(&buf[..got]));
            let mut rest = carry.as_str();
            while let Some(at) = rest.find("latency-") {
                let digits: String = rest[at + 8..].chars().take_while(char::is_ascii_digit).collect();
                if let Ok(i) = digits.parse() {
                    reader_seen.lock().unwrap().entry(i).or_insert(now);
                }
                rest = &rest[at + 8..];
            }
            // Keep the tail, in case an id was cut between two reads.
            let keep = carry.len().saturating_sub(32);
            carry = carry[carry.floor_char_boundary_compat(keep)..].to_string();
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let fd = connect_hub(hub);
    let mut sent_at = Vec::with_capacity(n);
    for i in 0..n {
        let line = event_line(&format!("latency-{i}"), 0);
        sent_at.push(Instant::now());
        send(fd.as_raw_fd(), line.as_bytes(), MsgFlags::MSG_NOSIGNAL).expect("send to the hub");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    let seen = seen.lock().unwrap();
    let mut ms: Vec<f64> =
        (0..n).filter_map(|i| seen.get(&i).map(|t| t.duration_since(sent_at[i]).as_secs_f64() * 1000.0)).collect();
    assert!(!ms.is_empty(), "no event reached {addr}/api/stream");
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    println!(
        "latency: {} of {n} events seen in the stream; event to stream: median {:.2} ms, p99 {:.2} ms, worst {:.2} ms",
        ms.len(),
        pick(0.5),
        pick(0.99),
        ms[ms.len() - 1]
    );
}

/// `str::floor_char_boundary` is not stable yet.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, at: usize) -> usize;
}

impl FloorCharBoundary for String {
    fn floor_char_boundary_compat(&self, mut at: usize) -> usize {
        while !self.is_char_boundary(at) {
            at -= 1;
        }
        at
    }
}
