//! A load generator for the dashboard (bench/dashboard.sh runs it): what
//! the hub takes and what the page sees, on this machine.
//!
//! 1. event-to-browser latency: an SSE client (what a page's EventSource
//!    is) reads `/api/stream`; one event at a time is sent on the hub
//!    socket, and the time until it comes out of the stream is measured,
//!    first on a quiet hub, then while `--connections` runtimes flood it;
//! 2. ingest: `--connections` SOCK_SEQPACKET connections send `--events`
//!    realistic step events in all (blocking sends, so nothing is dropped
//!    and the hub's own pace is measured), `--lines-per-message` lines to
//!    a message as a runtime sends them (it sends what waits whenever it
//!    writes its record: a default container's 153 events went in 9
//!    messages, so 17 by default; 1 measures a line a message), and the rate is read
//!    back from `glassbox_events_received_total` on /metrics;
//! 3. memory: the dashboard's resident set (VmRSS, VmHWM) with that many
//!    events in store.
//!
//! Usage: hub_load --hub PATH --http 127.0.0.1:PORT --pid DASHBOARD_PID
//!        [--connections 50] [--events 1000000] [--probes 500] [--lines-per-message 17]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::sys::socket::{connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

struct Args {
    hub: String,
    http: String,
    pid: u32,
    connections: usize,
    events: usize,
    probes: usize,
    lines_per_message: usize,
}

fn args() -> Args {
    let mut a = Args {
        hub: String::new(),
        http: String::new(),
        pid: 0,
        connections: 50,
        events: 1_000_000,
        probes: 500,
        lines_per_message: 17,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--hub" => a.hub = value,
            "--http" => a.http = value,
            "--pid" => a.pid = value.parse().expect("--pid"),
            "--connections" => a.connections = value.parse().expect("--connections"),
            "--events" => a.events = value.parse().expect("--events"),
            "--probes" => a.probes = value.parse().expect("--probes"),
            "--lines-per-message" => a.lines_per_message = value.parse::<usize>().expect("--lines-per-message").max(1),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(!a.hub.is_empty() && !a.http.is_empty() && a.pid > 0, "--hub, --http and --pid are needed");
    a
}

fn hub_connection(path: &str) -> OwnedFd {
    let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).expect("socket");
    connect(fd.as_raw_fd(), &UnixAddr::new(path).expect("hub path")).expect("connect to the hub");
    fd
}

/// A step event as a runtime sends it: a mount, with its arguments.
fn step_line(container: &str, seq: u64) -> String {
    format!(
        r#"{{"v":1,"seq":{seq},"ts_ns":{},"wall":"2026-12-07T00:00:00.000000000Z","container":"{container}","pid":4242,"source":"runtime","type":"step","stage":"mounts","action":"mount","args":{{"source":"proc","target":"/proc","fstype":"proc","flags":"MS_NOSUID | MS_NODEV | MS_NOEXEC","data":null,"result":"ok","equivalent":"mount -t proc proc /proc"}}}}"#,
        1_000_000 + seq
    )
}

fn http_get(http: &str, path: &str) -> String {
    let mut s = TcpStream::connect(http).expect("dashboard HTTP");
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

fn received(http: &str) -> u64 {
    let text = http_get(http, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix("glassbox_events_received_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// The SSE stream, read on a thread: the send time of each probe comes
/// back through `seen` when its line is read.
fn sse_reader(http: &str) -> mpsc::Receiver<(u64, Instant)> {
    let mut s = TcpStream::connect(http).expect("dashboard HTTP");
    write!(s, "GET /api/stream HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let (tx, rx) = mpsc::channel();
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    // Headers, then the hello.
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("event: hello") {
            break;
        }
    }
    std::thread::spawn(move || loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(at) = line.find(r#""container":"latency-probe""#) {
            let _ = at;
            if let Some(seq) =
                line.split(r#""seq":"#).nth(1).and_then(|r| r.split(',').next()).and_then(|n| n.parse().ok())
            {
                let _ = tx.send((seq, Instant::now()));
            }
        }
    });
    rx
}

fn latency(a: &Args, label: &str, seen: &mpsc::Receiver<(u64, Instant)>, first_seq: u64) -> Vec<Duration> {
    let probe = hub_connection(&a.hub);
    let mut samples = Vec::new();
    for i in 0..a.probes as u64 {
        let seq = first_seq + i;
        let line = format!(
            r#"{{"v":1,"seq":{seq},"ts_ns":{seq},"wall":"2026-12-07T00:00:00.000000000Z","container":"latency-probe","pid":1,"source":"runtime","type":"status","status":"running"}}"#
        );
        let sent = Instant::now();
        send(probe.as_raw_fd(), line.as_bytes(), MsgFlags::empty()).expect("send a probe");
        let deadline = sent + Duration::from_secs(5);
        loop {
            match seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((s, at)) if s == seq => {
                    samples.push(at - sent);
                    break;
                }
                Ok(_) => continue,
                Err(_) => break, // lost (the reader lagged): counted below
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    report(label, &mut samples, a.probes);
    samples
}

fn report(label: &str, samples: &mut [Duration], sent: usize) {
    samples.sort();
    let pct = |p: f64| samples.get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)));
    let show = |d: Option<&Duration>| d.map_or("-".into(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3));
    println!(
        "latency {label}: {} of {sent} seen; p50 {}, p99 {}, max {}",
        samples.len(),
        show(pct(0.50)),
        show(pct(0.99)),
        show(samples.last())
    );
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let a = args();
    let seen = sse_reader(&a.http);
    latency(&a, "quiet", &seen, 0);

    let before = received(&a.http);
    let lines_per_message = a.lines_per_message;
    let per = a.events / a.connections / lines_per_message * lines_per_message;
    let total = (per * a.connections) as u64;
    let flooding = Arc::new(AtomicBool::new(true));
    let start = Instant::now();
    let senders: Vec<_> = (0..a.connections)
        .map(|c| {
            let hub = a.hub.clone();
            std::thread::spawn(move || {
                let fd = hub_connection(&hub);
                // Twenty containers a connection, one message each in turn.
                let messages: Vec<String> = (0..20)
                    .map(|k| {
                        let lines = (0..lines_per_message).map(|i| step_line(&format!("load-{c}-{k}"), i as u64));
                        lines.map(|l| l + "\n").collect()
                    })
                    .collect();
                for i in 0..per / lines_per_message {
                    send(fd.as_raw_fd(), messages[i % messages.len()].as_bytes(), MsgFlags::empty()).expect("send");
                }
            })
        })
        .collect();
    let under_load = {
        let flooding = flooding.clone();
        let probes = Args { hub: a.hub.clone(), http: a.http.clone(), probes: a.probes.min(200), ..a };
        std::thread::spawn(move || {
            let mut d = Vec::new();
            if flooding.load(Ordering::Relaxed) {
                d = latency(&probes, "while flooded", &seen, 1_000_000);
            }
            d
        })
    };
    for s in senders {
        s.join().unwrap();
    }
    let sent_in = start.elapsed();
    while received(&a.http) < before + total {
        assert!(start.elapsed() < Duration::from_secs(300), "the hub did not take every event in 300 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let taken_in = start.elapsed();
    flooding.store(false, Ordering::Relaxed);
    let _ = under_load.join();
    println!(
        "ingest: {total} events over {} connections, {lines_per_message} a message, in {:.2} s (sent in {:.2} s): {:.0} events/s",
        a.connections,
        taken_in.as_secs_f64(),
        sent_in.as_secs_f64(),
        total as f64 / taken_in.as_secs_f64()
    );
    println!(
        "memory: VmRSS {} MiB, VmHWM {} MiB with {} events taken",
        status_kib(a.pid, "VmRSS:") / 1024,
        status_kib(a.pid, "VmHWM:") / 1024,
        received(&a.http)
    );
}
