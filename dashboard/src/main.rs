//! `glassbox-dashboard` (what `glassbox dashboard` runs): the hub. It reads
//! what the state roots hold, listens on the hub socket for every runtime's
//! events, and serves the JSON API and `/metrics` on a loopback address.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use glassbox_dashboard::{api, auth, cgroup, hub_group, ingest, probes, roots, scan, Shared};

#[derive(Parser)]
#[command(
    name = "glassbox dashboard",
    about = "The hub: every runtime's events and the eBPF probes' records, as a live web page, a JSON API and \
             Prometheus metrics"
)]
struct Args {
    /// The hub socket runtimes send their events to (the runtime's --hub).
    #[arg(long, env = "GLASSBOX_HUB")]
    hub: Option<PathBuf>,
    /// Where the API and /metrics are served; loopback addresses only, unless --public.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Serve a non-loopback --listen address; every request then needs the token.
    #[arg(long)]
    public: bool,
    /// The token every HTTP request must show (Authorization: Bearer, or ?token=);
    /// with --public and none given, one is generated and printed.
    #[arg(long, env = "GLASSBOX_DASHBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Let this group's members' runtimes send to the hub socket (0660, that group);
    /// without it the socket is root's alone (0600).
    #[arg(long)]
    hub_group: Option<String>,
    /// A state root to read (the runtime's --root); repeatable. Default:
    /// /run/glassbox and containerd's /run/containerd/runc/<namespace>.
    #[arg(long = "root")]
    roots: Vec<PathBuf>,
    /// The built book served under /book (default: book/book of the source
    /// tree, else /usr/share/doc/glassbox/book).
    #[arg(long)]
    book: Option<PathBuf>,
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

/// mimalloc rather than glibc's malloc: the hub allocates a line, an
/// event's strings and a page's message for every event, and frees them as
/// fast; with glibc, a third of the reading thread's time went to malloc,
/// free and the consolidation of its free lists (bench/dashboard.sh, perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its mimalloc.h, `enum mi_option_e`;
/// the Rust bindings name no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Memory freed is kept for reuse rather than given back to the kernel a
    // second later: the detail rings free as much as they allocate, at a
    // steady level (under 100 MiB with a million events), and memory given
    // back was faulted in and zeroed again at once — a tenth of the ingest
    // thread's time.
    // SAFETY: sets one of mimalloc's tunables; -1 is its documented "never purge".
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    never_preempt_a_runtime();
    if let Err(e) = run(Args::parse()) {
        eprintln!("glassbox-dashboard: error: {e:#}");
        std::process::exit(1);
    }
}

/// The dashboard watches; it must not slow down what it watches. A runtime
/// sending its events wakes the hub's reading thread, and a woken thread of
/// the normal policy may preempt the runtime on its CPU at once — a dozen
/// context switches in the middle of a container's start. Under
/// SCHED_BATCH (sched(7)) a woken thread never preempts: it runs on an idle
/// CPU, or when the runtime's time slice allows. Set before any thread
/// starts, so every thread of the dashboard inherits it. Best effort.
fn never_preempt_a_runtime() {
    let param = nix::libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads the parameter struct we pass and
    // changes only this process's scheduling policy.
    if unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_BATCH, &param) } != 0 {
        eprintln!(
            "glassbox-dashboard: SCHED_BATCH refused ({}); running at the normal policy",
            std::io::Error::last_os_error()
        );
    }
}

fn run(args: Args) -> Result<()> {
    let public = !args.listen.ip().is_loopback();
    if public && !args.public {
        // Another address shows every container's record to the network.
        bail!(
            "--listen {}: only loopback addresses (127.0.0.1, [::1]) are served unless --public is given \
             (every request then needs a token: --token T, or one is generated and printed)",
            args.listen
        );
    }
    let token = match (&args.token, public) {
        (Some(t), _) => Some(auth::Token::given(t)?),
        (None, true) => {
            let t = auth::Token::generate()?;
            eprintln!("glassbox-dashboard: token (every request needs it): {}", t.as_str());
            eprintln!("glassbox-dashboard: open http://{}/?token={}", args.listen, t.as_str());
            Some(t)
        }
        (None, false) => None,
    };
    let shared = Shared::with_roots(roots::Roots::from_args(args.roots.clone()));
    // The records the page reads back once memory let them go (containerd
    // namespaces made later are scanned for state.json, not for records).
    shared.web.set_roots(shared.roots.dirs());
    if let Some(book) = glassbox_dashboard::book::find(args.book.as_deref()) {
        let _ = shared.web.book.set(book);
    }
    for root in shared.roots.dirs() {
        let n = scan::load_root(&root, &shared);
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
    if let Some(group) = &args.hub_group {
        let shared_with = hub_group::share(&hub, group);
        let gid = shared_with.inspect_err(|_| {
            let _ = std::fs::remove_file(&hub);
        })?;
        if let Some(warning) = hub_group::unreachable_dir(&hub, gid) {
            eprintln!("glassbox-dashboard: warning: {warning}");
        }
    }
    let serving = shared.clone();
    std::thread::spawn(move || ingest::serve(listener, serving));
    eprintln!("glassbox-dashboard: hub socket {}", hub.display());
    cgroup::sampler::spawn(shared.clone());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let result = runtime.block_on(async {
        let tcp = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("bind {}", args.listen))?;
        eprintln!("glassbox-dashboard: http://{}/ (API under /api, /metrics)", args.listen);
        let live = shared.web.live.clone();
        let stopping = async move {
            stop_signal().await;
            live.close(); // the open pages' streams end, so shutdown does not wait for them
        };
        axum::serve(tcp, auth::protect(api::router(shared), token))
            .with_graceful_shutdown(stopping)
            .await
            .context("serving HTTP")
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
