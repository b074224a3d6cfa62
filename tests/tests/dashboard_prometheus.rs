//! A real Prometheus (Debian's `prometheus` package; scripts/setup.sh
//! installs it) scrapes the dashboard every second, and PromQL through its
//! HTTP API must return a glassbox container's memory limit and its OOM
//! kill, under cAdvisor's metric names; `promtool check metrics` must find
//! nothing to say about the dashboard's `/metrics`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use glassbox_e2e::dashboard::Dashboard;
use glassbox_e2e::*;
use serde_json::{json, Value};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
const MEMORY_HOG: &str = "x=$(head -c 100000000 /dev/zero | tr '\\0' a)";
const LIMIT: u64 = 32 * 1024 * 1024;

fn require(tool: &str) {
    assert!(
        Path::new(tool).exists(),
        "{tool} is missing: this test needs Debian's prometheus package (`apt-get install prometheus`, as scripts/setup.sh does)"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Prometheus with its config and TSDB in a temp dir; killed and reaped on drop.
struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(scrape_port: u16) -> Prometheus {
        let dir = tempfile::Builder::new().prefix("glassbox-e2e-prometheus-").tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: glassbox\n    \
                 static_configs:\n      - targets: ['127.0.0.1:{scrape_port}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus { child, port, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant PromQL query's result vector, or None while Prometheus is not up.
    fn query(&self, promql: &str) -> Option<Vec<Value>> {
        let body = http_get(self.port, &format!("/api/v1/query?query={}", url_encode(promql)))?;
        let v: Value = serde_json::from_str(&body).ok()?;
        (v["status"] == "success").then(|| v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Until `promql` returns one series whose value satisfies `ok`, or 30 s.
    fn wait_value(&self, promql: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = None;
        while Instant::now() < deadline {
            last = self.query(promql);
            let value = last.as_ref().and_then(|r| r.first()).and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok());
            if let Some(v) = value.filter(|v| ok(*v)) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("PromQL {promql}: not as expected within 30 s; last result {last:?}\nprometheus log:\n{}", self.log());
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HTTP/1.0 GET on loopback (no chunked answers): the body, if 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.split(' ').nth(1).filter(|c| *c == "200").map(|_| body.to_string())
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_the_memory_limit_and_the_oom_kill_of_a_container() {
    require(PROMETHEUS);
    require(PROMTOOL);
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start(&rt, &hub);
    let prometheus = Prometheus::start(dashboard.port);

    let bundle = Bundle::busybox(&["sleep", "60"]);
    bundle.config_mut(|v| v["linux"]["resources"]["memory"] = json!({ "limit": LIMIT, "swap": LIMIT }));
    let id = rt.id("prom-oom");
    let hub_env = [("GLASSBOX_HUB", hub.to_str().unwrap())];
    assert_ok(&rt.cmd_env(&hub_env, &["create", &id, "--bundle", bundle.path().to_str().unwrap()]));
    assert_ok(&rt.cmd_env(&hub_env, &["start", &id]));
    let hog = rt.exec(&id, &["sh", "-c", MEMORY_HOG]);
    assert_eq!(hog.status.code(), Some(137), "the hog is OOM-killed: {}", stderr(&hog));

    let limit = prometheus.wait_value(&format!("container_spec_memory_limit_bytes{{name=\"{id}\"}}"), |v| v > 0.0);
    assert_eq!(limit, LIMIT as f64);
    let ooms = prometheus.wait_value(&format!("container_oom_events_total{{name=\"{id}\"}}"), |v| v >= 1.0);
    assert!(ooms >= 1.0);
    // The target is healthy: Prometheus parsed every scrape.
    prometheus.wait_value("up{job=\"glassbox\"}", |v| v == 1.0);

    // promtool's lint of the exposition: nothing to report.
    let (_, text) = dashboard.get("/metrics").unwrap();
    assert!(text.contains("container_oom_events_total{"), "{text}");
    let mut promtool = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&checked.stdout), String::from_utf8_lossy(&checked.stderr));
    assert!(checked.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");

    let dir = prometheus.dir.path().to_path_buf();
    drop(prometheus);
    assert!(!dir.exists(), "the prometheus temp dir is removed");
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}
