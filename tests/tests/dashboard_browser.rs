//! The dashboard's page in a real browser: Debian's headless Chromium,
//! driven over WebDriver (chromedriver, spoken to with fantoccini), opens
//! the page, watches a real container appear live (no reload), opens its
//! stage waterfall and a step's narration, and saves screenshots. With the
//! dashboard holding the eBPF probes, a real `--trace` container whose child
//! is OOM-killed shows its real cgroup samples (four charts, the kill marked
//! on the memory chart), its namespaces, and its syscall trace, filtered by
//! name and process, the marker leading to the killed child's exit. A
//! container whose args, hostname and annotations (Kubernetes names among
//! them) hold markup and terminal escapes is shown as text, with nothing run.
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

/// Click the element `css` finds. The page is live: an update may redraw
/// the element between finding and clicking it (a stale reference), as a
/// person's click would land on the redrawn one — so it is found again.
async fn click(browser: &Client, css: &str) {
    for attempt in 0.. {
        let element = browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        match element.click().await {
            Ok(()) => return,
            Err(e) if attempt < 20 && e.is_stale_element_reference() => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_container_appears_live_and_its_waterfall_and_narration_open() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    // The dashboard holds the eBPF probes, pinned where no other test's are.
    let pins = PathBuf::from(format!("/sys/fs/bpf/glassbox-test-{}", unique_id("browser")));
    let pin = pins.to_string_lossy().into_owned();
    let dashboard = Dashboard::start_with(&rt, &hub, &["--pin-dir", &pin]);
    assert!(pins.join("OWNERS").exists(), "the dashboard did not pin its probes' maps in {pin}");
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
    until(&browser, &format!("{row}.textContent.includes('deleted')"), "its status reaches deleted (run removes it)")
        .await;
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

    // A real traced container through the hub, with the dashboard's own
    // probes: its shell child allocates past the memory limit and the
    // kernel's OOM killer ends it (the sampler marks it), then the init
    // lives on so its namespaces can be read while the page is open.
    let oom = rt.id("browser-oom");
    let (mut traced, _oom_bundle) = start_traced_oom(&rt, &oom, &hub, &pin);
    // Until a sample a second after the kill: the chart shows it freed.
    let series = dashboard.wait_cgroup(&oom, |s| {
        let Some(at) = s["markers"][0]["ts_ns"].as_u64() else { return false };
        s["samples"].as_array().unwrap().iter().any(|x| x["ts_ns"].as_u64().unwrap() > at + 500_000_000)
    });
    assert_eq!(series["markers"][0]["kind"], "oom_kill", "{series}");
    let freed = series["samples"].as_array().unwrap().last().unwrap()["memory"]["usage"].as_u64().unwrap();
    assert!(freed < LIMIT / 2, "the killed child's memory is freed: {freed} bytes still in use");
    let (code, namespaces) = dashboard.get(&format!("/api/containers/{oom}/namespaces")).unwrap();
    assert_eq!(code, 200, "{namespaces}");
    let namespaces: Value = serde_json::from_str(&namespaces).unwrap();
    let namespaces = namespaces.as_array().unwrap().len();
    assert!(namespaces >= 5, "the init's namespaces: {namespaces}");

    js(&browser, &format!("(location.hash = '#/c/{oom}') && true")).await;
    assert_eq!(js(&browser, "window.__same_page").await, json!(42), "the page was not reloaded");
    // The cgroup panel from the real samples: four charts, the memory, CPU
    // quota and pids limits drawn, the OOM kill marked on the memory chart.
    until(&browser, "document.querySelectorAll('.chart').length === 4", "the four cgroup charts").await;
    let charts = js(
        &browser,
        "[...document.querySelectorAll('.chart')].map(c => [c.querySelector('figcaption b').textContent, \
         c.querySelectorAll('svg polyline.series').length, c.querySelectorAll('svg .limit').length, \
         c.querySelectorAll('svg .marker').length, c.querySelector('.hint').textContent])",
    )
    .await;
    let charts = charts.as_array().unwrap();
    let names: Vec<&Value> = charts.iter().map(|c| &c[0]).collect();
    assert_eq!(names, [&json!("memory"), &json!("CPU (cores busy)"), &json!("pids"), &json!("io (bytes, cumulative)")]);
    assert!(charts.iter().all(|c| c[1] == 1), "a series in every chart: {charts:?}");
    let limits: Vec<&Value> = charts.iter().map(|c| &c[2]).collect();
    assert_eq!(limits, [&json!(1), &json!(1), &json!(1), &json!(0)], "memory, CPU quota, pids.max: {charts:?}");
    assert_eq!(charts[0][3], json!(1), "the OOM kill on the memory chart: {charts:?}");
    assert_eq!(charts[2][3], json!(0), "no refused fork: {charts:?}");
    let memory = charts[0][4].as_str().unwrap();
    assert!(memory.contains("OOM kills 1"), "{memory}");
    let samples = js(&browser, "document.querySelector('.chart svg polyline.series').getAttribute('points')").await;
    assert!(samples.as_str().unwrap().split(' ').count() >= 2, "at least two samples: {samples}");
    // The namespaces table from the real endpoint, read while the init lives.
    until(
        &browser,
        &format!("document.querySelectorAll('table.ns tbody tr').length === {namespaces}"),
        "the namespaces",
    )
    .await;
    let types =
        js(&browser, "[...document.querySelectorAll('table.ns tbody tr td:first-child')].map(t => t.textContent)")
            .await;
    for ns in ["mnt", "pid", "uts", "ipc"] {
        assert!(types.as_array().unwrap().contains(&json!(ns)), "{ns} missing from the namespaces table: {types}");
    }

    // The syscall trace the probes recorded: the killed child's exit has no
    // exit code (it never called exit), and the marker leads to it.
    until(&browser, "document.querySelectorAll('#trace-lines .tline').length > 0", "the trace lines").await;
    until(&browser, KILLED_EXIT, "the killed child's exit in the trace").await;
    let all = js(&browser, "document.querySelectorAll('#trace-lines .tline').length").await.as_u64().unwrap();
    js(&browser, "document.querySelector('.chart svg .marker').dispatchEvent(new MouseEvent('click')) || true").await;
    until(&browser, "document.querySelector('.tline.flash') !== null", "the marker's trace line").await;
    let flashed = js(&browser, "document.querySelector('.tline.flash .c').textContent").await;
    assert_eq!(flashed, json!("[exit: killed by a signal]"), "the OOM kill leads to the killed process's exit");
    let killed = js(&browser, "document.querySelector('.tline.flash .p').textContent").await;
    let killed = killed.as_str().unwrap().to_string();
    // In view for the screenshot: the trace, its flashed line, the charts.
    js(&browser, "document.querySelector('#cv-trace').scrollIntoView() || true").await;
    js(
        &browser,
        "(t => { const f = t.querySelector('.flash'); \
         t.scrollTop += f.getBoundingClientRect().top - t.getBoundingClientRect().top - t.clientHeight / 2; })\
         (document.querySelector('#trace-lines')) || true",
    )
    .await;
    screenshot(&browser, "dashboard-trace-cgroup.png").await;

    // Filtered by syscall name: only mount calls (the init's, before its exec).
    set_filter(&browser, "#trace-name", "mount", "input").await;
    until(&browser, &format!("document.querySelectorAll('#trace-lines .tline').length < {all}"), "the filter by name")
        .await;
    let shown = js(&browser, "[...document.querySelectorAll('#trace-lines .tline .c')].map(c => c.textContent)").await;
    let shown = shown.as_array().unwrap();
    let names: Vec<&str> = shown.iter().map(|c| c.as_str().unwrap().split('(').next().unwrap()).collect();
    assert!(names.contains(&"mount"), "no mount calls traced: {shown:?}");
    assert!(names.iter().all(|n| n.contains("mount")), "the name filter (a substring: umount2 too): {names:?}");
    set_filter(&browser, "#trace-name", "", "input").await;
    // Filtered by process: only the killed child's lines, ending in its exit.
    set_filter(&browser, "#trace-pid", &killed, "change").await;
    until(&browser, &format!("document.querySelectorAll('#trace-lines .tline').length < {all}"), "the filter by pid")
        .await;
    let pids = js(&browser, "[...document.querySelectorAll('#trace-lines .tline .p')].map(p => p.textContent)").await;
    assert!(pids.as_array().unwrap().iter().all(|p| p == &json!(killed)), "{pids}");
    let last = js(&browser, "[...document.querySelectorAll('#trace-lines .tline .c')].pop().textContent").await;
    assert_eq!(last, json!("[exit: killed by a signal]"), "the child's last line is its exit");
    set_filter(&browser, "#trace-pid", "", "change").await;

    // Done with it: the init is killed, `run` ends and deletes it.
    assert_ok(&rt.kill(&oom, "KILL"));
    let status = glassbox_e2e::runtime::wait_bounded(&mut traced, Duration::from_secs(10));
    assert!(status.is_some(), "the traced run did not end after its init was killed");
    let said = std::fs::read_to_string(rt.scratch().join(format!("{oom}.stderr"))).unwrap();
    assert!(said.contains("following through the hub"), "the run did not trace through the dashboard's probes");
    assert!(!said.contains("loading the eBPF probes"), "the run loaded probes of its own");

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
    assert!(!pins.exists(), "the dashboard left its pins in {pin}");
    rt.assert_clean_id(&id);
    rt.assert_clean_id(&oom);
    rt.assert_clean_id(&failed);
}

/// The trace holds an exit with no exit code: a process killed, not exited.
const KILLED_EXIT: &str =
    "[...document.querySelectorAll('#trace-lines .tline .c')].some(c => c.textContent === '[exit: killed by a signal]')";

/// busybox sh doubling a string until the memory limit stops it: a few
/// mmap/mremap calls, not the millions of reads and writes of a pipe.
const MEMORY_HOG: &str = "x=a; while :; do x=$x$x; done";
const LIMIT: u64 = 32 * 1024 * 1024;

/// `run --trace` of a container through the hub and the dashboard's probes
/// pinned in `pins`, in the background: after two seconds (the sampler has
/// found its cgroup) a child shell is OOM-killed, then the init sleeps on.
/// Limits on memory, CPU and pids, so each chart has one to draw.
fn start_traced_oom(rt: &Runtime, id: &str, hub: &Path, pins: &str) -> (Child, Bundle) {
    let script = format!("sleep 2; sh -c '{MEMORY_HOG}'; sleep 60");
    let bundle = Bundle::busybox(&["sh", "-c", &script]);
    bundle.config_mut(|v| {
        v["linux"]["resources"]["memory"] = json!({ "limit": LIMIT, "swap": LIMIT });
        v["linux"]["resources"]["cpu"] = json!({ "quota": 50000, "period": 100000 });
        v["linux"]["resources"]["pids"] = json!({ "limit": 32 });
    });
    let child = rt
        .command()
        .arg("--root")
        .arg(rt.root())
        .args(["--debug", "--hub"])
        .arg(hub)
        .args(["run", id, "--trace", "--pin-dir", pins, "--bundle"])
        .arg(bundle.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(rt.scratch().join(format!("{id}.stderr"))).unwrap())
        .spawn()
        .unwrap();
    (child, bundle)
}

/// A trace filter set as a reader would: the value, then its event.
async fn set_filter(browser: &Client, css: &str, value: &str, event: &str) {
    let value = json!(value);
    js(browser, &format!("(document.querySelector('{css}').value = {value}) || true")).await;
    js(browser, &format!("document.querySelector('{css}').dispatchEvent(new Event('{event}')) || true")).await;
}

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
        // containerd's CRI keys: the list's pod, namespace and container columns.
        v["annotations"] = json!({
            "io.kubernetes.cri.sandbox-name": SCRIPT,
            "io.kubernetes.cri.sandbox-namespace": IMG,
            "io.kubernetes.cri.container-name": ANSI,
            "x-img": IMG,
        });
    });
    let id = rt.id("browser-xss");
    // create, then start once the dashboard has read its state.json (the
    // annotations are there): under a `run` that ends within milliseconds,
    // the file may be deleted before the dashboard looks.
    let with_hub = [("GLASSBOX_HUB", hub.to_str().unwrap())];
    assert_ok(&rt.cmd_env(&with_hub, &["create", &id, "--bundle", bundle.path().to_str().unwrap()]));
    dashboard.wait_for(&id, |c| c["kubernetes"]["pod"] == SCRIPT);
    assert_ok(&rt.cmd_env(&with_hub, &["start", &id]));
    rt.wait_status(&id, "stopped");
    assert_ok(&rt.cmd_env(&with_hub, &["delete", &id]));

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

    // The header's annotations and Kubernetes names, as text.
    let annotations = js(&browser, "[...document.querySelectorAll('.annotations dd')].map(d => d.textContent)").await;
    assert_eq!(annotations, json!(["\\x1b[31mred", SCRIPT, IMG, IMG]), "in the keys' order");
    let kubernetes = js(&browser, "[...document.querySelectorAll('dl.meta dd')].pop().textContent").await;
    assert_eq!(kubernetes, json!(format!("{IMG} / {SCRIPT} / \\x1b[31mred")), "namespace / pod / container");

    // The list shows the same container, its pod, namespace and container
    // columns the hostile names, as text.
    browser.goto(&format!("http://127.0.0.1:{}/", dashboard.port)).await.unwrap();
    let row = format!("#containers tr[data-id=\"{id}\"]");
    until(&browser, &format!("document.querySelector('{row}') !== null"), "the list").await;
    let cells = js(&browser, &format!("[...document.querySelectorAll('{row} td')].map(td => td.textContent)")).await;
    let head = js(&browser, "[...document.querySelectorAll('#containers thead th')].map(th => th.textContent)").await;
    let column = |name: &str| {
        let at = head.as_array().unwrap().iter().position(|h| h.as_str().unwrap().eq_ignore_ascii_case(name));
        cells[at.unwrap_or_else(|| panic!("no {name} column in {head}"))].clone()
    };
    assert_eq!(column("pod"), json!(SCRIPT), "{cells}");
    assert_eq!(column("namespace"), json!(IMG), "{cells}");
    assert_eq!(column("k8s container"), json!("\\x1b[31mred"), "{cells}");
    screenshot(&browser, "dashboard-xss-list.png").await;
    assert_eq!(js(&browser, "typeof window.__pwned").await, json!("undefined"), "a container's text ran as script");
    assert_eq!(js(&browser, "document.querySelectorAll('img').length").await, json!(0), "markup became an <img>");
    assert_eq!(js(&browser, "document.querySelectorAll('[onerror]').length").await, json!(0));
    assert_eq!(js(&browser, "document.scripts.length").await, json!(1), "only /app.js is a script");
    let shown = js(&browser, "document.body.innerText").await;
    assert!(!shown.as_str().unwrap().contains('\u{1b}'), "a raw ESC reached the list");

    browser.close().await.unwrap();
    drop(driver);
    drop(dashboard);
    rt.assert_clean_id(&id);
}
