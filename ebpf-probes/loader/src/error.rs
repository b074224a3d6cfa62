//! Why tracing cannot run (one reason, said once, with what to do), and what
//! can go wrong once it runs.

/// Tracing is unavailable; the runtime itself is unaffected.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("tracing is unavailable: the eBPF probes were not built ({0}); run scripts/setup.sh, then rebuild")]
    NotBuilt(&'static str),
    #[error(
        "tracing is unavailable: loading eBPF programs needs root (CAP_BPF and CAP_PERFMON); run glassbox as root"
    )]
    NotRoot,
    #[error(
        "tracing is unavailable: tracefs is not mounted at /sys/kernel/tracing and mounting it failed ({0}); \
         try `mount -t tracefs nodev /sys/kernel/tracing`"
    )]
    NoTracefs(std::io::Error),
    #[error("tracing is unavailable: reading a tracepoint's format from tracefs: {0}")]
    Tracepoint(String),
    #[error("tracing is unavailable: the kernel refused the eBPF object: {0}")]
    Load(#[source] aya::EbpfError),
    #[error(
        "tracing is unavailable: the eBPF object has no program or map {0:?} (a loader built against other probes?)"
    )]
    Missing(&'static str),
    #[error("tracing is unavailable: program {name} could not be loaded or attached to {tracepoint}: {source}")]
    Program {
        name: &'static str,
        tracepoint: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error(
        "tracing is unavailable: pinning a map at {0} failed ({1}); is a bpffs mounted there, or another hub running?"
    )]
    Pin(std::path::PathBuf, String),
    #[error("tracing is unavailable: opening map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    /// The hub could not write its own entry in the maps it pins.
    #[error("tracing is unavailable: {0}")]
    Session(#[from] TraceError),
}

/// A map operation on a running tracer failed.
#[derive(Debug, thiserror::Error)]
#[error("eBPF map {map}: {what}: {source}")]
pub struct TraceError {
    pub map: &'static str,
    pub what: String,
    #[source]
    pub source: aya::maps::MapError,
}
