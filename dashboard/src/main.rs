//! `glassbox-dashboard` (what `glassbox dashboard` runs): the hub. It reads
//! what the state roots hold, listens on the hub socket for every runtime's
//! events, and serves the JSON API and `/metrics` on a loopback address.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use glassbox_dashboard::{api, ingest, probes, scan, Shared};

#[derive(Parser)]
#[command(name = "glassbox dashboard", about = "The hub: every runtime's events, as a JSON API and Prometheus metrics")]
struct Args {
    /// The hub socket runtimes send their events to (the runtime's --hub).
    #[arg(long, env = "GLASSBOX_HUB")]
    hub: Option<PathBuf>,
    /// Where the API and /metrics are served; loopback addresses only.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// A state root to read at start (the runtime's --root); repeatable.
    #[arg(long = "root", default_value = "/run/glassbox")]
    roots: Vec<PathBuf>,
    /// The bpffs directory the eBPF probes' maps are pinned in (the runtime's --pin-dir).
    #[arg(long = "pin-dir", env = "GLASSBOX_PIN_DIR", default_value = glassbox_probes::DEFAULT_PIN_DIR)]
    pin_dir: PathBuf,
    /// The probes' ring buffer size (rounded up to a power of two).
    #[arg(long = "ring-bytes", default_value_t = glassbox_probes::PINNED_RING_BYTES)]
    ring_bytes: u32,
    /// Hold no eBPF probes: `--trace` runtimes then load their own.
    #[arg(long = "no-probes")]
    no_probes: bool,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("glassbox-dashboard: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    if !args.listen.ip().is_loopback() {
        // Another address would show every container's record to the network;
        // that needs a token, which is not there yet.
        bail!("--listen {}: only loopback addresses (127.0.0.1, [::1]) are served", args.listen);
    }
    let shared = Shared::new();
    for root in &args.roots {
        let n = scan::load_root(root, &shared);
        eprintln!("glassbox-dashboard: {n} container records under {}", root.display());
    }
    // Loaded before the socket and the port open: once the API answers, a
    // `--trace` runtime finds the pins.
    let probes = match args.no_probes {
        true => None,
        false => probes::Probes::start(shared.clone(), &args.pin_dir, args.ring_bytes)
            .inspect_err(|e| eprintln!("glassbox-dashboard: running without eBPF probes: {e}"))
            .ok(),
    };
    let hub = args.hub.clone().unwrap_or_else(ingest::default_hub_path);
    let listener = ingest::bind_hub(&hub)?;
    let serving = shared.clone();
    std::thread::spawn(move || ingest::serve(listener, serving));
    eprintln!("glassbox-dashboard: hub socket {}", hub.display());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let result = runtime.block_on(async {
        let tcp = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("bind {}", args.listen))?;
        eprintln!("glassbox-dashboard: http://{}/api/containers, http://{}/metrics", args.listen, args.listen);
        axum::serve(tcp, api::router(shared)).with_graceful_shutdown(stop_signal()).await.context("serving HTTP")
    });
    let _ = std::fs::remove_file(&hub);
    if let Some(p) = probes {
        p.stop();
    }
    result
}

/// SIGINT or SIGTERM: stop serving, remove the socket.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
