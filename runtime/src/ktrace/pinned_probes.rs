//! The probes pinned for every `--trace` runtime: what `glassbox hub` runs
//! today. It loads the eBPF probes once, pins TRACED and OWNERS in a bpffs
//! directory (/sys/fs/bpf/glassbox/ unless `--pin-dir` says otherwise;
//! bpf(2) BPF_OBJ_PIN), and writes every traced session's kernel records
//! into its container's events.jsonl, until SIGINT or SIGTERM removes the
//! pins. Runtimes started with `--trace` find the pins and only register (an
//! owner slot and their pid), so they never pay for loading the probes. One
//! line per session start and end on stdout.
//!
//! This is the kernel's half of the hub. The other half, taking the
//! runtimes' events on the hub's socket (the recorder's `hub_client`), is
//! not here yet: `glassbox hub` does not listen on hub.sock.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use glassbox_probes::{map_names, TraceOptions, Tracer};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::writer::Writer;

/// statfs(2)'s f_type of a bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

pub fn run(pin_dir: &Path, ring_bytes: u32) -> Result<i32> {
    ensure_bpffs(pin_dir)?;
    if let Some((_, pid)) = super::pinned_sessions(pin_dir) {
        bail!("another glassbox hub (pid {pid}) holds the maps pinned in {}; stop it first", pin_dir.display());
    }
    let made_dir = !pin_dir.exists();
    // Pins left by a hub that was killed (SIGKILL) point at dead sessions.
    for name in [map_names::TRACED, map_names::OWNERS] {
        let _ = std::fs::remove_file(pin_dir.join(name));
    }
    std::fs::create_dir_all(pin_dir).with_context(|| format!("making {}", pin_dir.display()))?;

    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None).context("sigprocmask")?;
    let sigfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC).context("signalfd")?;

    let result = serve(pin_dir, ring_bytes, &sigfd);
    if made_dir {
        let _ = std::fs::remove_dir(pin_dir);
    }
    result
}

fn serve(pin_dir: &Path, ring_bytes: u32, sigfd: &SignalFd) -> Result<i32> {
    let opts = TraceOptions { ring_bytes, aggregate: false };
    let mut tracer = Tracer::load_pinned(&opts, pin_dir)?;
    if let Some(why) = tracer.namespaces_unavailable() {
        say(&format!("glassbox hub: no namespaces events: {why}"));
    }
    say(&format!(
        "glassbox hub: probes loaded, maps pinned in {} (ring buffer {} bytes); `--trace` runtimes register here; \
         Ctrl-C stops",
        pin_dir.display(),
        tracer.ring_bytes()
    ));
    let mut writer = Writer::default();
    let mut last_check = Instant::now();
    loop {
        let stop = tracer.wait(Some(sigfd.as_fd()), if writer.backlog() > 0 { 0 } else { 20 }).unwrap_or(false);
        let lost = tracer.lost();
        let records = tracer.drain_owned();
        for slot in writer.write(tracer.sessions(), records, lost) {
            let s = &writer.sessions[&slot];
            say(&format!(
                "session {slot}: container {} (runtime pid {}) → {}",
                s.container,
                s.info.pid,
                s.events_path.display()
            ));
        }
        if last_check.elapsed() > Duration::from_millis(500) {
            writer.check_alive();
            last_check = Instant::now();
        }
        for mut s in writer.end_finished(tracer.sessions()) {
            let lost_here = lost.saturating_sub(s.lost_at_start);
            if lost_here > 0 {
                s.report_lost(lost_here);
            }
            say(&format!(
                "session {} ended: container {}, {} kernel events, {lost_here} records lost",
                s.slot, s.container, s.written
            ));
        }
        if stop {
            break;
        }
    }
    say(&format!("glassbox hub: stopping; {} sessions still open, pins removed", writer.sessions.len()));
    drop(tracer);
    Ok(0)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Pins need a bpf filesystem: mount one at /sys/fs/bpf when the pin
/// directory is under it and nothing is mounted there yet.
fn ensure_bpffs(pin_dir: &Path) -> Result<()> {
    let parent = pin_dir.parent().unwrap_or(Path::new("/"));
    if is_bpffs(parent) {
        return Ok(());
    }
    let bpf = Path::new("/sys/fs/bpf");
    if parent.starts_with(bpf) {
        nix::mount::mount(Some("bpf"), bpf, Some("bpf"), nix::mount::MsFlags::empty(), None::<&str>)
            .context("mounting a bpf filesystem at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)")?;
        if is_bpffs(parent) {
            return Ok(());
        }
    }
    bail!("{}: not on a bpf filesystem; pins must live on one (mount -t bpf bpf /sys/fs/bpf)", parent.display())
}

fn is_bpffs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir).is_ok_and(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
}
