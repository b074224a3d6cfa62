//! The dashboard holds the eBPF probes: it loads them once with their maps
//! pinned, a `--trace` runtime only registers with them, and the kernel's
//! side of the container reaches both the container's record and the
//! dashboard's API and `/metrics`. When it stops, the pins are gone. As
//! root; the probes test fails (never skips) when tracing is unavailable.

use std::path::PathBuf;

use glassbox_e2e::dashboard::Dashboard;
use glassbox_e2e::*;
use glassbox_events::{Kind, Source};

/// The value of an unlabelled series in the text format, or of one whose labels are `labels`.
fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn a_traced_container_registers_with_the_dashboards_probes_and_its_syscalls_reach_record_api_and_metrics() {
    let rt = Runtime::new();
    let hub = rt.scratch().join("hub.sock");
    let pins = PathBuf::from(format!("/sys/fs/bpf/glassbox-test-{}", unique_id("dash")));
    let pin = pins.to_string_lossy().into_owned();
    let dashboard = Dashboard::start_with(&rt, &hub, &["--pin-dir", &pin]);
    assert!(pins.join("OWNERS").exists(), "the dashboard did not pin its maps in {pin}");

    let id = rt.id("dash-traced");
    let bundle = Bundle::busybox(&["/bin/sh", "-c", "/bin/true"]);
    let mut args = vec!["--debug".to_string(), "--hub".into(), hub.to_string_lossy().into_owned()];
    args.extend(["run", &id, "--trace=execve", "--pin-dir", &pin, "--bundle"].map(String::from));
    args.push(bundle.path().to_string_lossy().into_owned());
    let out = rt.cmd_os(&args);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("following through the hub"), "the runtime did not register with the dashboard:\n{err}");
    assert!(!err.contains("loading the eBPF probes"), "the runtime loaded probes of its own:\n{err}");

    // The record: the dashboard wrote the kernel's lines into it.
    let record = record_of(rt.root(), &id);
    let kernel = record.iter().filter(|e| e.source == Source::Kernel).count();
    let mounts = record.iter().filter(|e| matches!(&e.kind, Kind::Syscall { name, .. } if name == "mount")).count();
    assert!(kernel > 100 && mounts > 0, "{kernel} kernel events, {mounts} mount calls in the record");

    // The API: the runtime's events (over the socket) and the kernel's (from
    // the probes) are all in the store, as many as the record holds.
    let view = dashboard.wait_for(&id, |c| c["events"].as_u64().unwrap_or(0) >= record.len() as u64);
    assert_eq!(view["status"], "deleted", "run deletes it: {view}");

    // /metrics: the kernel events taken, the syscalls by name, nothing lost.
    let (code, text) = dashboard.get("/metrics").unwrap();
    assert_eq!(code, 200);
    let taken = metric(&text, "glassbox_kernel_events_total").unwrap_or(0.0);
    assert!(taken >= kernel as f64, "glassbox_kernel_events_total {taken} < {kernel} kernel events in the record");
    let mount_calls = metric(&text, r#"glassbox_syscalls_total{syscall="mount"}"#).unwrap_or(0.0);
    assert!(mount_calls >= mounts as f64, "glassbox_syscalls_total mount {mount_calls} < {mounts}:\n{text}");
    assert_eq!(metric(&text, "glassbox_trace_records_lost_total"), Some(0.0), "{text}");

    drop(dashboard);
    assert!(!pins.exists(), "the dashboard left its pins in {pin}");
    assert!(!hub.exists(), "the dashboard left its socket");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn without_probes_or_when_they_cannot_load_the_dashboard_runs_on() {
    let rt = Runtime::new();
    // Not on a bpf filesystem: loading fails, said in one line, and the API answers all the same.
    let pins = rt.scratch().join("pins");
    let hub = rt.scratch().join("hub.sock");
    let dashboard = Dashboard::start_with(&rt, &hub, &["--pin-dir", &pins.to_string_lossy()]);
    let (code, text) = dashboard.get("/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(!text.contains("glassbox_kernel_events_total"), "probes reported without probes:\n{text}");
    assert!(!pins.exists(), "{} was made though no pins went there", pins.display());

    // What it says, from a second dashboard that then stops at the socket the first holds.
    let out = rt
        .command()
        .args(["dashboard", "--hub"])
        .arg(&hub)
        .args(["--listen", "127.0.0.1:0", "--pin-dir"])
        .arg(&pins)
        .output()
        .unwrap();
    let err = stderr(&out);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("without eBPF probes")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("not on a bpf filesystem"), "{err}");
    assert!(err.contains("another hub already listens"), "{err}");
    drop(dashboard);
}
