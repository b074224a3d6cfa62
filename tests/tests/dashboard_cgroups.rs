//! The dashboard's kernel views, end to end as root: real containers that
//! hit their memory limit (an OOM kill), their CPU quota (throttled
//! periods) and their pids limit (a refused fork), sent to a dashboard on a
//! hub socket of its own; what it samples every second from cgroupfs must
//! show each, in `GET /api/containers/{id}/cgroup` (samples and markers),
//! in `/metrics` under cAdvisor's names, and its namespaces and state.json
//! metadata in the API.

use glassbox_e2e::dashboard::Dashboard;
use glassbox_e2e::*;
use serde_json::{json, Value};

/// busybox sh keeps a command substitution's output in memory: past 32 MiB.
const MEMORY_HOG: &str = "x=$(head -c 100000000 /dev/zero | tr '\\0' a)";
const LIMIT: u64 = 32 * 1024 * 1024;

/// create + start with the runtime sending to `hub`.
fn start_with_hub(rt: &Runtime, id: &str, bundle: &Bundle, hub: &std::path::Path) {
    let hub = hub.to_str().unwrap();
    let create = ["create", id, "--bundle", bundle.path().to_str().unwrap()];
    assert_ok(&rt.cmd_env(&[("GLASSBOX_HUB", hub)], &create));
    assert_ok(&rt.cmd_env(&[("GLASSBOX_HUB", hub)], &["start", id]));
}

/// CLOCK_MONOTONIC, the clock of the samples' and markers' `ts_ns`.
fn monotonic_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which `t` is.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) }, 0);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn last_sample(series: &Value) -> &Value {
    series["samples"].as_array().and_then(|s| s.last()).unwrap_or(&Value::Null)
}

/// The value of the one `/metrics` line of `family` whose labels hold `name="<id>"`.
fn metric(dashboard: &Dashboard, family: &str, id: &str) -> Option<f64> {
    let (_, text) = dashboard.get("/metrics")?;
    let label = format!("name=\"{id}\"");
    text.lines()
        .find(|l| l.starts_with(&format!("{family}{{")) && l.contains(&label))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn an_oom_kill_is_sampled_marked_and_counted_with_the_containers_metadata() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start(&rt, &hub);
    let bundle = Bundle::busybox(&["sleep", "60"]);
    bundle.config_mut(|v| {
        v["linux"]["resources"]["memory"] = json!({ "limit": LIMIT, "swap": LIMIT });
        v["annotations"] = json!({
            "io.kubernetes.cri.sandbox-name": "shop-0",
            "io.kubernetes.cri.sandbox-namespace": "prod",
            "io.kubernetes.cri.container-name": "cart",
        });
    });
    let id = rt.id("dash-oom");
    start_with_hub(&rt, &id, &bundle, &hub);

    // state.json's metadata, read when the container reported `created`.
    let view = dashboard.wait_for(&id, |c| c["bundle"] != "");
    assert_eq!(view["bundle"], bundle.path().to_str().unwrap(), "{view}");
    assert_eq!(view["owner"], "root", "{view}");
    assert!(view["created"].as_str().unwrap().starts_with("20"), "{view}");
    assert_eq!(view["kubernetes"], json!({ "pod": "shop-0", "namespace": "prod", "container": "cart" }), "{view}");

    // The limit shows before anything happens, and no marker yet.
    let series = dashboard.wait_cgroup(&id, |s| last_sample(s)["memory"]["limit"] == LIMIT);
    assert!(["v1", "v2", "hybrid"].contains(&series["version"].as_str().unwrap()), "{series}");
    assert!(series["path"].as_str().unwrap().ends_with(&id), "{series}");
    assert!(series["markers"].as_array().unwrap().is_empty(), "{series}");
    let sample = last_sample(&series);
    assert!(sample["memory"]["usage"].as_u64().unwrap() > 0, "{sample}");
    assert!(sample["ts_ns"].as_u64().unwrap() > 0 && sample["t_ms"].as_u64().unwrap() > 1_700_000_000_000);
    // PSI: in the cgroup2 directory, where this layout gives the container one.
    let unified = std::path::Path::new("/sys/fs/cgroup/unified/glassbox").join(&id).join("cpu.pressure");
    let v2_pressure = std::path::Path::new("/sys/fs/cgroup/glassbox").join(&id).join("cpu.pressure");
    if unified.exists() || v2_pressure.exists() {
        assert!(sample["psi"]["memory_some_avg10"].is_number(), "pressure files exist but no psi: {sample}");
    } else {
        assert!(sample["psi"].is_null(), "{sample}");
    }

    // A process exec'd into the container allocates past the limit.
    let hog = rt.exec(&id, &["sh", "-c", MEMORY_HOG]);
    let hog_reaped = monotonic_ns();
    assert_eq!(hog.status.code(), Some(137), "the hog is SIGKILLed: {}", stderr(&hog));
    let series = dashboard.wait_cgroup(&id, |s| last_sample(s)["memory"]["oom_kills"].as_u64() >= Some(1));
    let marker = &series["markers"][0];
    assert_eq!(marker["kind"], "oom_kill", "{series}");
    assert!(marker["detail"].as_str().unwrap().contains("OOM killer"), "{marker}");
    assert!(marker["ts_ns"].as_u64().unwrap() > 0 && marker["t_ms"].as_u64().unwrap() > 0, "{marker}");
    // Set the moment the kernel said so (inotify, or v1's OOM eventfd), not
    // at the next one-second sample: before `exec` had even reported the kill.
    assert!(marker["ts_ns"].as_u64().unwrap() < hog_reaped + 100_000_000, "{marker}, exec returned at {hog_reaped}");
    // The window it happened in: after the sample before, which saw no kill.
    let after = marker["after_ns"].as_u64().unwrap();
    assert!(after > 0 && after < marker["ts_ns"].as_u64().unwrap(), "{marker}");

    // cAdvisor's names, with the Kubernetes labels from the annotations.
    assert_eq!(metric(&dashboard, "container_spec_memory_limit_bytes", &id), Some(LIMIT as f64));
    assert!(metric(&dashboard, "container_oom_events_total", &id) >= Some(1.0));
    assert!(metric(&dashboard, "container_memory_working_set_bytes", &id).is_some());
    assert!(metric(&dashboard, "container_start_time_seconds", &id) > Some(1.7e9));
    let (_, text) = dashboard.get("/metrics").unwrap();
    let line = text.lines().find(|l| l.starts_with("container_oom_events_total{") && l.contains(&id)).unwrap();
    for label in ["pod=\"shop-0\"", "namespace=\"prod\"", "container=\"cart\"", "id=\"/glassbox/"] {
        assert!(line.contains(label), "{label} missing: {line}");
    }

    // Namespaces: its own pid and mount namespaces, by inode.
    let (code, body) = dashboard.get(&format!("/api/containers/{id}/namespaces")).unwrap();
    assert_eq!(code, 200, "{body}");
    let namespaces: Value = serde_json::from_str(&body).unwrap();
    let pid_ns = namespaces.as_array().unwrap().iter().find(|n| n["type"] == "pid").expect("a pid namespace");
    assert_eq!(pid_ns["shared_with"], Value::Null, "{namespaces}");
    let init = rt.pid(&id);
    assert_eq!(
        pid_ns["inode"].as_u64().unwrap().to_string(),
        host_ns(&init.to_string(), "pid").trim_start_matches("pid:[").trim_end_matches(']'),
        "{namespaces}"
    );

    // Deleted: the samples stay for the charts, the metrics go.
    assert_ok(&rt.delete_force(&id));
    dashboard.wait_cgroup(&id, |s| s["live"] == false);
    assert_eq!(metric(&dashboard, "container_oom_events_total", &id), None, "no stale series once it is gone");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn a_cpu_quota_shows_throttled_periods_and_a_full_pids_cgroup_a_refused_fork() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start(&rt, &hub);

    // 10 ms of CPU per 100 ms period: a busy loop is throttled in most periods.
    let busy = Bundle::busybox(&["sh", "-c", "while :; do :; done"]);
    busy.config_mut(|v| v["linux"]["resources"]["cpu"] = json!({ "quota": 10000, "period": 100000 }));
    let throttled = rt.id("dash-quota");
    start_with_hub(&rt, &throttled, &busy, &hub);

    // An inner shell tries to start 10 sleeps under pids.max 5.
    let forks = Bundle::busybox(&[
        "sh",
        "-c",
        "sleep 2; sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done' 2>/dev/null; exec sleep 30",
    ]);
    forks.config_mut(|v| v["linux"]["resources"]["pids"] = json!({ "limit": 5 }));
    let full = rt.id("dash-pids");
    start_with_hub(&rt, &full, &forks, &hub);

    let series = dashboard.wait_cgroup(&throttled, |s| last_sample(s)["cpu"]["throttled_periods"].as_u64() >= Some(3));
    let cpu = &last_sample(&series)["cpu"];
    assert_eq!((cpu["quota_us"].as_i64(), cpu["period_us"].as_u64()), (Some(10000), Some(100000)), "{cpu}");
    assert!(cpu["periods"].as_u64() >= cpu["throttled_periods"].as_u64(), "{cpu}");
    assert!(cpu["throttled_ns"].as_u64().unwrap() > 0 && cpu["usage_ns"].as_u64().unwrap() > 0, "{cpu}");
    assert_eq!(metric(&dashboard, "container_spec_cpu_quota", &throttled), Some(10000.0));
    assert_eq!(metric(&dashboard, "container_spec_cpu_period", &throttled), Some(100000.0));
    assert!(metric(&dashboard, "container_cpu_cfs_throttled_periods_total", &throttled) >= Some(3.0));
    assert!(metric(&dashboard, "container_cpu_cfs_throttled_seconds_total", &throttled) > Some(0.0));
    assert!(metric(&dashboard, "container_cpu_usage_seconds_total", &throttled) > Some(0.0));

    // The first sample is taken before the forks (the init sleeps 2 s first),
    // so the refusal is a counter going up between two samples.
    let series = dashboard.wait_cgroup(&full, |s| !s["markers"].as_array().unwrap().is_empty());
    let marker = &series["markers"][0];
    assert_eq!(marker["kind"], "fork_refused", "{series}");
    assert!(marker["detail"].as_str().unwrap().contains("pids.max 5"), "{marker}");
    let sample = last_sample(&series);
    assert_eq!(sample["pids"]["max"], 5, "{sample}");
    assert!(sample["pids"]["current"].as_u64().unwrap() <= 5, "{sample}");
    assert!(metric(&dashboard, "container_processes", &full) >= Some(1.0));
    assert_eq!(metric(&dashboard, "container_threads_max", &full), Some(5.0));

    for (id, bundle) in [(&throttled, &busy), (&full, &forks)] {
        assert_ok(&rt.delete_force(id));
        rt.assert_clean(id, bundle);
    }
}

/// containerd's CRI runs a pod with glassbox (tests/src/containerd.rs): the
/// dashboard, started afterwards on the shim's `--root`, reads the pod's
/// containers from there — with the Kubernetes names containerd put in
/// their annotations — samples their cgroups, and sees the app container
/// join the pod sandbox's IPC namespace and the host's network.
#[test]
fn a_cri_pod_is_read_from_the_shims_root_with_its_kubernetes_names_and_shared_namespaces() {
    use glassbox_cri::{ContainerSpec, PodSpec};
    use glassbox_e2e::containerd::{ContainerdCri, HANDLER, IMAGE};

    let ctrd = ContainerdCri::start(&glassbox_bin());
    ctrd.import_busybox();
    let mut cri = ctrd.connect();
    let pod = PodSpec {
        cgroup_parent: ctrd.cgroup_parent().into(),
        log_directory: ctrd.log_dir().display().to_string(),
        ..PodSpec::new("shop", HANDLER)
    };
    let pod_config = pod.config();
    let pod_id = cri.run_pod_sandbox(&pod_config, HANDLER).unwrap_or_else(|e| panic!("{e}\n{}", ctrd.log_tail(25)));
    let spec = ContainerSpec::new("cart", IMAGE, &["sleep", "300"]);
    let id = cri.create_container(&pod_id, &spec.config(), &pod_config).unwrap();
    cri.start_container(&id).unwrap();

    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let root = ctrd.runtime_root();
    let dashboard = Dashboard::start_with(&rt, &hub, &["--root", root.to_str().unwrap()]);
    let app = dashboard.wait_for(&id, |c| !c["kubernetes"].is_null());
    assert_eq!(app["kubernetes"], json!({ "pod": "shop", "namespace": "default", "container": "cart" }), "{app}");
    assert_eq!(app["annotations"]["io.kubernetes.cri.sandbox-id"], pod_id.as_str(), "{app}");
    let sandbox = dashboard.wait_for(&pod_id, |c| !c["kubernetes"].is_null());
    assert_eq!(sandbox["kubernetes"]["container"], "POD", "the pause container: {sandbox}");

    // Sampled under the pod's cgroup parent, with the pod labels in /metrics.
    let series = dashboard.wait_cgroup(&id, |s| !s["samples"].as_array().unwrap().is_empty());
    assert!(series["path"].as_str().unwrap().starts_with(ctrd.cgroup_parent()), "{series}");
    let (_, text) = dashboard.get("/metrics").unwrap();
    let line =
        text.lines().find(|l| l.starts_with("container_memory_usage_bytes{") && l.contains(&id)).expect("a series");
    assert!(
        line.contains("pod=\"shop\"") && line.contains("container=\"cart\"") && line.contains("namespace=\"default\""),
        "{line}"
    );

    let (_, body) = dashboard.get(&format!("/api/containers/{id}/namespaces")).unwrap();
    let namespaces: Value = serde_json::from_str(&body).unwrap();
    let shared =
        |kind: &str| namespaces.as_array().unwrap().iter().find(|n| n["type"] == kind).unwrap()["shared_with"].clone();
    assert_eq!(shared("ipc"), json!(format!("container:{pod_id}")), "{namespaces}");
    assert_eq!(shared("net"), "host", "a host-network pod: {namespaces}");
    assert_eq!(shared("pid"), Value::Null, "its own pid namespace: {namespaces}");

    drop(dashboard);
    cri.stop_container(&id, 1).unwrap();
    cri.remove_container(&id).unwrap();
    cri.stop_pod_sandbox(&pod_id).unwrap();
    cri.remove_pod_sandbox(&pod_id).unwrap();
    ctrd.assert_clean();
}

/// `run` of an init that is itself OOM-killed: the container ends and `run`
/// removes its cgroup at once, maybe before the sampler's first look. The
/// kernel's notification (v1's OOM eventfd, v2's memory.events) has the
/// dashboard sample it the moment the kill is counted, before that delete.
#[test]
fn an_init_oom_killed_under_run_is_marked_before_its_cgroup_goes() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start(&rt, &hub);
    // Two seconds first, so the sampler has found the cgroup and watches it.
    let bundle = Bundle::busybox(&["sh", "-c", &format!("sleep 2; {MEMORY_HOG}")]);
    bundle.config_mut(|v| v["linux"]["resources"]["memory"] = json!({ "limit": LIMIT, "swap": LIMIT }));
    let id = rt.id("dash-oomrun");
    let out = glassbox_e2e::dashboard::run_with_hub(&rt, &id, &bundle, &hub);
    assert_eq!(out.status.code(), Some(137), "the init is OOM-killed: {}", stderr(&out));
    let series = dashboard.wait_cgroup(&id, |s| s["live"] == false);
    assert_eq!(series["markers"][0]["kind"], "oom_kill", "{series}");
    assert_eq!(last_sample(&series)["memory"]["limit"], LIMIT, "{series}");
    assert_eq!(metric(&dashboard, "container_oom_events_total", &id), None, "the container is gone: no series");
    rt.assert_clean(&id, &bundle);
}
