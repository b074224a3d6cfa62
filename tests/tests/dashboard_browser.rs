//! The dashboard's page in a real browser: Debian's headless Chromium,
//! driven over WebDriver (chromedriver, spoken to with fantoccini), opens
//! the page, watches a real container appear live (no reload), opens its
//! stage waterfall and a step's narration, and saves screenshots; and a
//! container whose args, hostname and annotations hold markup and
//! terminal escapes is shown as text, with nothing run.
//!
//! Screenshots go to `$GLASSBOX_ARTIFACTS` if set, else `target/screenshots/`.
//! Chromium and chromedriver must be installed (scripts/setup.sh installs
//! Debian's `chromium` and `chromium-driver`); without them the test fails
//! and says so, rather than passing without having looked.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use glassbox_e2e::dashboard::{run_with_hub, Dashboard};
use glassbox_e2e::*;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free loopback port, in a process group of its own so
/// that its Drop ends it and every Chromium process it started.
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        for (path, package) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser test needs Debian's {package} (bash scripts/setup.sh installs it)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let driver = Driver { child, port, profile: tempfile::tempdir().unwrap() };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within 15 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    /// A headless Chromium session with a throwaway profile.
    async fn browser(&self) -> Client {
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1400,1500".into(),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let caps = json!({ "goog:chromeOptions": { "binary": CHROMIUM, "args": args } });
        let Value::Object(caps) = caps else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session through chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn artifacts() -> PathBuf {
    let dir = std::env::var_os("GLASSBOX_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let path = artifacts().join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// A JavaScript expression's value in the page.
async fn js(browser: &Client, expression: &str) -> Value {
    browser.execute(&format!("return ({expression});"), vec![]).await.unwrap()
}

/// Until `expression` is true in the page, or `what` fails the test.
async fn until(browser: &Client, expression: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while js(browser, expression).await != Value::Bool(true) {
        assert!(Instant::now() < deadline, "within 10 s: {what} ({expression})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_container_appears_live_and_its_waterfall_and_narration_open() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start(&rt, &hub);
    let driver = Driver::start();
    let browser = driver.browser().await;
    let page = format!("http://127.0.0.1:{}/", dashboard.port);
    browser.goto(&page).await.unwrap();
    until(&browser, "document.body.dataset.live === 'on'", "the page's live stream connects").await;
    // Survives only if the page is never reloaded.
    js(&browser, "window.__same_page = 42").await;

    let bundle = Bundle::busybox(&["sh", "-c", "echo hello from the container"]);
    let id = rt.id("browser-live");
    assert_ok(&run_with_hub(&rt, &id, &bundle, &hub));
    let row = format!("document.querySelector('#containers tr[data-id=\"{id}\"]')");
    until(&browser, &format!("{row} !== null"), "the container appears in the list").await;
    until(&browser, &format!("{row}.textContent.includes('stopped')"), "its status reaches stopped").await;
    assert_eq!(js(&browser, "window.__same_page").await, json!(42), "the page was not reloaded");
    screenshot(&browser, "dashboard-list.png").await;

    // Its waterfall: every stage on one axis; a stage's steps; a step's narration.
    click(&browser, &format!("#containers tr[data-id=\"{id}\"] a.cid")).await;
    until(&browser, "document.querySelector('.row.stage[data-stage=\"mounts\"]') !== null", "the waterfall").await;
    let stages = js(&browser, "[...document.querySelectorAll('.row.stage')].map(r => r.dataset.stage)").await;
    for stage in ["bundle", "cgroup", "namespaces", "mounts", "pivot_root", "exec"] {
        assert!(stages.as_array().unwrap().contains(&json!(stage)), "{stage} missing from the waterfall: {stages}");
    }
    click(&browser, ".row.stage[data-stage=\"mounts\"]").await;
    until(&browser, "document.querySelector('.row.step[data-action=\"mount\"]') !== null", "the mounts steps").await;
    click(&browser, ".row.step[data-action=\"mount\"]").await;
    until(&browser, "document.querySelector('.narration .headline') !== null", "a step's narration").await;
    let narration = js(&browser, "document.querySelector('.narration').innerText").await;
    let narration = narration.as_str().unwrap();
    assert!(narration.contains("mount"), "{narration}");
    let chapter = js(&browser, "document.querySelector('.narration a.chapter').getAttribute('href')").await;
    assert_eq!(chapter, json!("/book/making-a-container/mounts.html"));
    screenshot(&browser, "dashboard-waterfall.png").await;

    // The export the page links to is Chrome trace-event JSON.
    let export = js(&browser, "document.querySelector('#export-link').getAttribute('href')").await;
    let (code, body) = dashboard.get(export.as_str().unwrap()).unwrap();
    assert_eq!(code, 200, "{body}");
    let trace: Value = serde_json::from_str(&body).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|e| e["ph"] == "X" && e["cat"] == "stage" && e["name"] == "mounts"), "{trace}");

    // The syscall trace: kernel events of this container arrive on the hub
    // socket as the probes send them — a clone refused with EAGAIN, a mount,
    // a process killed — and join the open page live, filterable.
    let (_, detail) = dashboard.get(&format!("/api/containers/{id}/events")).unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    let exit = detail["events"].as_array().unwrap().iter().find(|e| e["type"] == "stage_begin" && e["stage"] == "exit");
    let at = exit.unwrap()["ts_ns"].as_u64().unwrap();
    let init = detail["events"].as_array().unwrap().iter().find(|e| e["type"] == "status").unwrap()["pid"].as_i64();
    send_kernel_events(&hub, &id, init.unwrap(), at);
    until(&browser, "document.querySelectorAll('#trace-lines .tline').length === 3", "the trace lines").await;
    js(&browser, "(document.querySelector('#trace-name').value = 'clone') || true").await;
    js(&browser, "document.querySelector('#trace-name').dispatchEvent(new Event('input')) || true").await;
    until(&browser, "document.querySelectorAll('#trace-lines .tline').length === 1", "the filter by name").await;
    let line = js(&browser, "document.querySelector('#trace-lines .tline').textContent").await;
    assert!(line.as_str().unwrap().contains("clone(…) = -11 EAGAIN"), "{line}");
    js(&browser, "(document.querySelector('#trace-name').value = '') || true").await;
    js(&browser, "document.querySelector('#trace-name').dispatchEvent(new Event('input')) || true").await;
    let pid = (init.unwrap() + 1).to_string();
    js(&browser, &format!("(document.querySelector('#trace-pid').value = '{pid}') || true")).await;
    js(&browser, "document.querySelector('#trace-pid').dispatchEvent(new Event('change')) || true").await;
    until(&browser, "document.querySelectorAll('#trace-lines .tline').length === 1", "the filter by process").await;
    js(&browser, "(document.querySelector('#trace-pid').value = '') || true").await;
    js(&browser, "document.querySelector('#trace-pid').dispatchEvent(new Event('change')) || true").await;

    // The namespaces and cgroup panels, fed the API's documented shapes
    // (stubbed in the page: this test is about drawing them), the OOM kill
    // marked just after the killed process's exit in the trace.
    browser.execute(CGROUP_STUB, vec![json!(at)]).await.unwrap();
    js(&browser, &format!("refreshSide({}) || true", json!(id))).await;
    until(&browser, "document.querySelectorAll('.chart').length === 4", "the four cgroup charts").await;
    until(&browser, "document.querySelectorAll('table.ns tbody tr').length === 2", "the namespaces").await;
    assert_eq!(js(&browser, "document.querySelectorAll('.chart svg .marker').length").await, json!(1));
    assert_eq!(
        js(&browser, "document.querySelectorAll('.chart svg .limit').length").await,
        json!(3),
        "memory, CPU quota, pids.max"
    );
    js(&browser, "document.querySelector('.chart svg .marker').dispatchEvent(new MouseEvent('click')) || true").await;
    until(&browser, "document.querySelector('.tline.flash') !== null", "the marker's trace line").await;
    let flashed = js(&browser, "document.querySelector('.tline.flash').textContent").await;
    assert!(flashed.as_str().unwrap().contains("[exit 137]"), "the OOM kill leads to the exit: {flashed}");
    js(&browser, "document.querySelector('#cv-trace').scrollIntoView() || true").await;
    screenshot(&browser, "dashboard-trace-cgroup.png").await;

    // Compare: this container against one failing at a named stage, made
    // while the page is open (it appears live too).
    let failing = Bundle::busybox(&["true"]);
    failing.config_mut(|v| spec::add_hook(v, "createRuntime", "/bin/sh", &["sh", "-c", "exit 3"]));
    let failed = rt.id("browser-fails");
    assert!(!run_with_hub(&rt, &failed, &failing, &hub).status.success());
    let failed_row = format!("document.querySelector('#containers tr[data-id=\"{failed}\"]')");
    until(&browser, &format!("{failed_row} !== null && {failed_row}.textContent.includes('failed')"), "the failure")
        .await;
    js(&browser, &format!("(location.hash = '#/compare/{id}') && true")).await;
    until(&browser, &format!("document.querySelector('#cmp-a').value === '{id}'"), "compare's side A").await;
    js(&browser, &format!("(document.querySelector('#cmp-b').value = '{failed}') && true")).await;
    click(&browser, "#cmp-go").await;
    until(&browser, "document.querySelector('table.compare tr[data-stage=\"hooks\"]') !== null", "the comparison")
        .await;
    let hooks = js(
        &browser,
        "[...document.querySelectorAll('table.compare tr[data-stage=\"hooks\"] td')].map(td => td.className)",
    )
    .await;
    assert_eq!(hooks, json!(["", "failed"]), "B failed in its hooks stage, A did not");
    let exec =
        js(&browser, "document.querySelector('table.compare tr[data-stage=\"exec\"] td:last-child').textContent").await;
    assert_eq!(exec, json!("not done"), "B never reached exec");
    screenshot(&browser, "dashboard-compare.png").await;

    // The failing container's waterfall: its hooks stage red, with the error.
    js(&browser, &format!("(location.hash = '#/c/{failed}') && true")).await;
    until(&browser, "document.querySelector('.row.stage.failed[data-stage=\"hooks\"]') !== null", "the red stage")
        .await;
    let error = js(&browser, "document.querySelector('.row.error-row').textContent").await;
    assert!(error.as_str().unwrap().contains("exited with code 3"), "{error}");
    screenshot(&browser, "dashboard-failed.png").await;

    // Replay the first container's kept record, pausing before each stage.
    js(&browser, "(location.hash = '#/replay') && true").await;
    let kept = kept_record_path(rt.root(), &id);
    browser.find(Locator::Css("#replay-file")).await.unwrap().send_keys(kept.to_str().unwrap()).await.unwrap();
    until(&browser, "!document.querySelector('#replay-play').disabled", "the record is read").await;
    js(&browser, "(document.querySelector('#replay-speed').value = '1') && true").await;
    click(&browser, "#replay-play").await;
    until(
        &browser,
        "document.querySelector('#replay-status').textContent.includes('paused before stage cgroup')",
        "a pause",
    )
    .await;
    for _ in 0..4 {
        click(&browser, "#replay-play").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    until(&browser, "document.querySelector('#replay-status').textContent.includes('paused before stage')", "a pause")
        .await;
    assert!(js(&browser, "document.querySelectorAll('#replay-out .row.stage').length").await.as_u64().unwrap() >= 4);
    screenshot(&browser, "dashboard-replay.png").await;

    browser.close().await.unwrap();
    drop(driver);
    drop(dashboard);
    rt.assert_clean_id(&id);
    rt.assert_clean_id(&failed);
}

/// Kernel events of the container, as the hub's probes send them (one
/// SOCK_SEQPACKET message each): just before `at`, the init's clone refused
/// with EAGAIN and a mount, then a child killed (exit 137).
fn send_kernel_events(hub: &Path, id: &str, init: i64, at: u64) {
    use nix::sys::socket::{connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
    use std::os::fd::AsRawFd;
    let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
    connect(fd.as_raw_fd(), &UnixAddr::new(hub).unwrap()).unwrap();
    let head = |seq: u64, ts: u64, pid: i64| {
        format!(
            r#""v":1,"seq":{seq},"ts_ns":{ts},"wall":"2026-12-07T00:00:00.000000000Z","container":"{id}","pid":{pid},"source":"kernel""#
        )
    };
    let lines = [
        format!(
            r#"{{{},"type":"syscall","nr":56,"name":"clone","args":[0,0,0,0,0,0],"ret":-11,"latency_ns":2000}}"#,
            head(0, at - 3000, init)
        ),
        format!(
            r#"{{{},"type":"syscall","nr":165,"name":"mount","args":[0,0,0,0,0,0],"ret":0,"latency_ns":5000,"decoded":{{"source":"proc","target":"/proc"}}}}"#,
            head(1, at - 2000, init)
        ),
        format!(r#"{{{},"type":"process","change":"exit","exit_code":137}}"#, head(2, at - 1000, init + 1)),
    ];
    for line in lines {
        send(fd.as_raw_fd(), line.as_bytes(), MsgFlags::empty()).unwrap();
    }
}

/// The page's fetch of `/namespaces` and `/cgroup` answered with the API's
/// shapes: a memory limit reached, with an OOM kill at `arguments[0]`.
const CGROUP_STUB: &str = r#"
const mib = 1 << 20, t = arguments[0] - 5e9;
const sample = (i, mem) => ({ ts_ns: t + i * 1e9, t_ms: i * 1000,
  memory: { usage: mem, limit: 64 * mib, failcnt: i > 3 ? i - 3 : 0, oom_kills: i > 4 ? 1 : 0 },
  cpu: { usage_ns: i * i * 2e8, periods: i * 10, throttled_periods: i * 3, throttled_ns: i * 5e7, quota_us: 50000, period_us: 100000 },
  pids: { current: 1 + (i % 3), max: 32 }, io: { read_bytes: i * 4096, write_bytes: i * i * 8192 }, psi: null });
const cgroup = { version: 'hybrid', path: '/sys/fs/cgroup/memory/glassbox/demo',
  samples: [8, 20, 35, 50, 63, 64, 12].map((m, i) => sample(i, m * mib)),
  markers: [{ ts_ns: arguments[0] - 500, t_ms: 5000, kind: 'oom_kill', detail: 'pid 4242 (<b>sh</b>) killed' }] };
const namespaces = [{ type: 'net', inode: 4026531840, shared_with: 'host' }, { type: 'mnt', inode: 4026532001, shared_with: null }];
const real = window.fetch;
window.fetch = (url, options) => {
  const answer = (v) => Promise.resolve(new Response(JSON.stringify(v), { headers: { 'content-type': 'application/json' } }));
  if (String(url).endsWith('/cgroup')) return answer(cgroup);
  if (String(url).endsWith('/namespaces')) return answer(namespaces);
  return real(url, options);
};
return true
"#;

const SCRIPT: &str = "<script>window.__pwned=1</script>";
const IMG: &str = "\"><img src=x onerror=\"window.__pwned=1\">";
const ANSI: &str = "\u{1b}[31mred";

#[tokio::test(flavor = "current_thread")]
async fn markup_and_escapes_a_container_controls_are_shown_as_text_and_never_run() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start(&rt, &hub);
    let driver = Driver::start();
    let browser = driver.browser().await;

    let bundle = Bundle::busybox(&["sh", "-c", "exit 0", SCRIPT, IMG, ANSI]);
    bundle.config_mut(|v| {
        v["hostname"] = json!(IMG);
        v["annotations"] = json!({ "io.kubernetes.pod.name": SCRIPT, "x-img": IMG, "x-ansi": ANSI });
    });
    let id = rt.id("browser-xss");
    assert_ok(&run_with_hub(&rt, &id, &bundle, &hub));
    dashboard.wait_for(&id, |c| c["status"] == "stopped");

    browser.goto(&format!("http://127.0.0.1:{}/#/c/{id}", dashboard.port)).await.unwrap();
    until(&browser, "document.querySelector('.row.stage[data-stage=\"exec\"]') !== null", "the waterfall").await;
    // The steps that carry the hostile text: sethostname, execve; their narrations.
    for (stage, action) in [("hostname", "sethostname"), ("exec", "execve")] {
        click(&browser, &format!(".row.stage[data-stage=\"{stage}\"]")).await;
        let step = format!(".row.step[data-action=\"{action}\"]");
        until(&browser, &format!("document.querySelector('{step}') !== null"), action).await;
        click(&browser, &step).await;
    }
    until(&browser, "document.querySelectorAll('.narration').length >= 2", "both narrations").await;
    // Open the args of every narration too.
    js(&browser, "document.querySelectorAll('details').forEach(d => d.open = true) || true").await;
    screenshot(&browser, "dashboard-xss.png").await;

    assert_eq!(js(&browser, "typeof window.__pwned").await, json!("undefined"), "a container's text ran as script");
    assert_eq!(js(&browser, "document.querySelectorAll('img').length").await, json!(0), "markup became an <img>");
    assert_eq!(js(&browser, "document.querySelectorAll('[onerror]').length").await, json!(0));
    assert_eq!(js(&browser, "document.scripts.length").await, json!(1), "only /app.js is a script");
    let shown = js(&browser, "document.body.innerText").await;
    let shown = shown.as_str().unwrap();
    for literal in [SCRIPT, IMG, "\\x1b[31mred"] {
        assert!(shown.contains(literal), "{literal:?} is not shown literally in:\n{shown}");
    }
    assert!(!shown.contains('\u{1b}'), "a raw ESC reached the page");

    // The list shows the same container; and its annotations wherever the
    // API carries them, as text.
    browser.goto(&format!("http://127.0.0.1:{}/", dashboard.port)).await.unwrap();
    until(&browser, &format!("document.querySelector('#containers tr[data-id=\"{id}\"]') !== null"), "the list").await;
    assert_eq!(js(&browser, "typeof window.__pwned").await, json!("undefined"));
    assert_eq!(js(&browser, "document.querySelectorAll('img').length").await, json!(0));

    browser.close().await.unwrap();
    drop(driver);
    drop(dashboard);
    rt.assert_clean_id(&id);
}
