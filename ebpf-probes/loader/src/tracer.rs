//! The [`Tracer`]: loads the embedded eBPF object with aya, attaches its five
//! programs (three tracepoints, two raw tracepoints), and gives the caller the traced-pid map to fill and
//! the ring buffer to read. Dropping it detaches everything (the programs
//! and maps live only as long as their file descriptors).
//!
//! ```text
//!  Tracer::load ── set globals (mode, tracefs offsets), ring size ──▶ bpf(BPF_PROG_LOAD) ×5
//!  tracer.follow(pid, slot) ──▶ TRACED[pid] = slot   (forks of pid inherit it in the kernel)
//!  kernel: sys_exit / sched_* ──▶ RECORDS ring ──▶ tracer.wait() + drain() ──▶ Vec<KernelRecord>
//!                         └─ ring full ──▶ LOST += 1 ──▶ tracer.lost()
//!  aggregate mode: sys_exit ──▶ STATS[nr] ──▶ tracer.summary()
//! ```

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use aya::maps::{MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::{RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use glassbox_probes_common::{detail_names, globals, maps, SyscallStats, TaskOffsets, MAX_SYSCALLS};

use crate::error::{TraceError, Unavailable};
use crate::record::KernelRecord;
use crate::session::Sessions;
use crate::stream::RecordStream;
use crate::summary::SyscallSummary;
use crate::tracefs;

/// How to trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOptions {
    /// Size of the ring buffer records wait in until read. Rounded up to a
    /// power of two of at least one page, as BPF_MAP_TYPE_RINGBUF requires.
    /// A syscall record takes 112 bytes of it (104 + an 8-byte header).
    pub ring_bytes: u32,
    /// Count syscalls per number with a latency histogram in the kernel
    /// instead of sending one record per call (forks, execs and exits are
    /// still sent).
    pub aggregate: bool,
    /// With `aggregate`: count calls only, at syscall entry, with no
    /// program on syscall return at all — no latency, no errors, about half
    /// the cost of counting with latencies.
    pub counts_only: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions { ring_bytes: 4 << 20, aggregate: false, counts_only: false }
    }
}

/// (program, tracepoint category, tracepoint name): tracepoint programs,
/// which read the kernel's formatted record (offsets from tracefs).
const TRACEPOINTS: [(&str, &str, &str); 3] = [
    ("sched_process_fork", "sched", "sched_process_fork"),
    ("sched_process_exec", "sched", "sched_process_exec"),
    ("sched_process_exit", "sched", "sched_process_exit"),
];

/// Raw tracepoint programs (program, tracepoint): the per-syscall hooks,
/// which skip the record formatting because they run so often, and the
/// forked child's namespaces (a raw tracepoint: it reads the task structs).
const RAW_TRACEPOINTS: [(&str, &str); 3] =
    [("sys_enter", "sys_enter"), ("sys_exit", "sys_exit"), (detail_names::NS_FORK_PROGRAM, "sched_process_fork")];

/// Loaded, attached probes following a set of process trees.
pub struct Tracer {
    ebpf: Ebpf,
    ring: RingBuf<MapData>,
    sessions: Sessions,
    /// The bpffs directory TRACED and OWNERS are pinned in (a hub's tracer).
    pinned: Option<PathBuf>,
    /// What earlier records say about later ones (details, parents, namespaces).
    stream: RecordStream,
    ring_bytes: u32,
    aggregate: bool,
    counts_only: bool,
    /// Why namespace records are off (no BTF), if they are.
    ns_unavailable: Option<String>,
}

impl Tracer {
    /// Loads and attaches the probes. Nothing is traced until [`follow`](Self::follow).
    pub fn load(opts: &TraceOptions) -> Result<Tracer, Unavailable> {
        Self::load_inner(opts, None)
    }

    /// Loads the probes and pins TRACED and OWNERS in `dir` (on a bpffs),
    /// with OWNERS[0] naming this process: what a hub does, so that
    /// runtimes register through the pins ([`Sessions::from_pins`]). The
    /// pins are removed when the tracer is dropped.
    pub fn load_pinned(opts: &TraceOptions, dir: &Path) -> Result<Tracer, Unavailable> {
        let mut tracer = Self::load_inner(opts, Some(dir))?;
        let hub = crate::session::owner_info(std::process::id(), "glassbox dashboard", Path::new(""));
        tracer.sessions.update(0, &hub)?;
        Ok(tracer)
    }

    fn load_inner(opts: &TraceOptions, pin: Option<&Path>) -> Result<Tracer, Unavailable> {
        let object = crate::probes::object().map_err(Unavailable::NotBuilt)?;
        // SAFETY: geteuid(2) takes no arguments and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let tracefs = tracefs::ensure_mounted().map_err(|e| if root { e } else { Unavailable::NotRoot })?;
        let fork_child = tracefs::field_offset(&tracefs, "sched", "sched_process_fork", "child_pid")?;
        let exec_filename = tracefs::field_offset(&tracefs, "sched", "sched_process_exec", "filename")?;
        let ring_bytes = ring_size(opts.ring_bytes);
        // 0: a record per call; 1: counts and latencies; 2: counts only.
        let aggregate = match (opts.aggregate, opts.counts_only) {
            (false, _) => 0u8,
            (true, false) => 1,
            (true, true) => 2,
        };
        // Kernel struct offsets for the namespace probe, from BTF; without
        // them the probe stays off (available = 0) and the rest works.
        let (offsets, ns_unavailable) = match crate::btf::read_sys_fs().and_then(|b| crate::btf::task_offsets(&b)) {
            Ok(o) => (o, None),
            Err(why) => (TaskOffsets::default(), Some(format!("namespaces are unavailable: {why}"))),
        };

        let mut ebpf = EbpfLoader::new()
            .set_global(globals::AGGREGATE, &aggregate, true)
            .set_global(globals::FORK_CHILD_PID_OFFSET, &fork_child, true)
            .set_global(globals::EXEC_FILENAME_OFFSET, &exec_filename, true)
            .set_global(globals::RING_BYTES, &(ring_bytes as u64), true)
            .set_global(globals::PENDING_MASK, &(pending_slots() - 1), true)
            .set_global(detail_names::TASK_OFFSETS, &offsets, true)
            .set_max_entries(maps::RECORDS, ring_bytes)
            .set_max_entries(maps::TRACED, pid_max())
            .set_max_entries(maps::PENDING_SLOTS, pending_slots())
            .load(object)
            .map_err(|e| if root { Unavailable::Load(e) } else { Unavailable::NotRoot })?;
        for (name, category, tracepoint) in TRACEPOINTS {
            let failed = |source| Unavailable::Program { name, tracepoint, source };
            let program: &mut TracePoint =
                ebpf.program_mut(name).ok_or(Unavailable::Missing(name))?.try_into().map_err(failed)?;
            program.load().map_err(failed)?;
            program.attach(category, tracepoint).map_err(failed)?;
        }
        for (name, tracepoint) in RAW_TRACEPOINTS {
            if name == "sys_exit" && aggregate == 2 {
                // Counting needs no return: not even an empty program there
                // (any program attached costs every syscall on the machine).
                continue;
            }
            let failed = |source| Unavailable::Program { name, tracepoint, source };
            let program: &mut RawTracePoint =
                ebpf.program_mut(name).ok_or(Unavailable::Missing(name))?.try_into().map_err(failed)?;
            program.load().map_err(failed)?;
            program.attach(tracepoint).map_err(failed)?;
        }
        if let Some(dir) = pin {
            for name in [maps::TRACED, maps::OWNERS] {
                let map = ebpf.map(name).ok_or(Unavailable::Missing(name))?;
                map.pin(dir.join(name)).map_err(|e| Unavailable::Pin(dir.join(name), e.to_string()))?;
            }
        }
        let ring = take_map(&mut ebpf, maps::RECORDS)?;
        let sessions = Sessions::new(take_map(&mut ebpf, maps::TRACED)?, take_map(&mut ebpf, maps::OWNERS)?);
        Ok(Tracer {
            ebpf,
            ring,
            sessions,
            pinned: pin.map(Path::to_path_buf),
            stream: RecordStream::new(),
            ring_bytes,
            aggregate: opts.aggregate,
            counts_only: opts.aggregate && opts.counts_only,
            ns_unavailable,
        })
    }

    /// Follows `pid` and, from now on, every process it forks, for the
    /// session in owner slot `slot` (1..=255; see [`Sessions`]).
    pub fn follow(&mut self, pid: u32, slot: u8) -> Result<(), TraceError> {
        self.sessions.follow(pid, slot)
    }

    /// The owner slots: claim one, look one up, free one.
    pub fn sessions(&mut self) -> &mut Sessions {
        &mut self.sessions
    }

    /// Waits up to `timeout_ms` (poll(2)) for records on the ring buffer or
    /// for `also` (a pidfd, a pipe, a signalfd) to be readable or closed;
    /// returns whether `also` was. The records are then taken with [`drain`](Self::drain).
    pub fn wait(&self, also: Option<BorrowedFd>, timeout_ms: i32) -> std::io::Result<bool> {
        let mut fds = vec![libc::pollfd { fd: self.ring.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        fds.extend(also.map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }));
        // SAFETY: fds is a valid array of fds.len() pollfds.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) } < 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
        }
        Ok(fds.get(1).is_some_and(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0))
    }

    /// Every record waiting now, without blocking.
    pub fn drain(&mut self) -> Vec<KernelRecord> {
        self.drain_owned().into_iter().map(|(_, rec)| rec).collect()
    }

    /// Every record waiting now, with the owner slot of its session.
    pub fn drain_owned(&mut self) -> Vec<(u8, KernelRecord)> {
        let mut out = Vec::new();
        self.drain_owned_into(&mut out);
        out
    }

    /// [`drain_owned`](Self::drain_owned), onto the end of `out`: a reader
    /// that drains a flood turn after turn keeps one vector (a new one each
    /// turn, grown by doubling to tens of megabytes, had each of its huge
    /// pages faulted in and zeroed anew: most of the hub's time, under perf).
    pub fn drain_owned_into(&mut self, out: &mut Vec<(u8, KernelRecord)>) {
        // One pass in ring order: a detail comes right before its syscall,
        // and a thread's next detail may be in the same batch.
        while let Some(item) = self.ring.next() {
            if let Some(rec) = self.stream.push(&item) {
                out.push((crate::record_owner(&item), rec));
            }
        }
    }

    /// Why namespace records are not sent (the kernel has no BTF), if so.
    pub fn namespaces_unavailable(&self) -> Option<&str> {
        self.ns_unavailable.as_deref()
    }

    /// Records the kernel could not send because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        let Some(map) = self.ebpf.map(maps::LOST) else { return 0 };
        let Ok(lost) = PerCpuArray::<_, u64>::try_from(map) else { return 0 };
        lost.get(&0, 0).map(|per_cpu| per_cpu.iter().sum()).unwrap_or(0)
    }

    /// Records read that this loader could not decode (should stay 0).
    pub fn undecodable(&self) -> u64 {
        self.stream.undecodable()
    }

    /// The ring buffer's real size (after rounding).
    pub fn ring_bytes(&self) -> u32 {
        self.ring_bytes
    }

    /// Whether syscalls are being counted rather than recorded.
    pub fn aggregate(&self) -> bool {
        self.aggregate
    }

    /// Whether only calls are counted (no latencies, no errors).
    pub fn counts_only(&self) -> bool {
        self.counts_only
    }

    /// Aggregate mode: the syscalls made so far, most frequent first.
    pub fn summary(&self) -> Result<Vec<SyscallSummary>, TraceError> {
        let err = |what: &'static str| move |source| TraceError { map: maps::STATS, what: what.to_string(), source };
        let map = self.ebpf.map(maps::STATS).ok_or(MapError::InvalidName { name: maps::STATS.into() });
        let stats =
            PerCpuArray::<_, SyscallStats>::try_from(map.map_err(err("finding it"))?).map_err(err("opening it"))?;
        let mut out = Vec::new();
        for nr in 0..MAX_SYSCALLS {
            let per_cpu = stats.get(&nr, 0).map_err(err("reading it"))?;
            out.extend(SyscallSummary::from_per_cpu(nr, &per_cpu));
        }
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.nr.cmp(&b.nr)));
        Ok(out)
    }
}

impl Drop for Tracer {
    /// A hub's pins go with it: a pinned map would outlive the process.
    fn drop(&mut self) {
        if let Some(dir) = &self.pinned {
            for name in [maps::TRACED, maps::OWNERS] {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
    }
}

/// The ring buffer's fd, readable when records wait: for callers that poll
/// it together with their own fds (a pidfd, a socket).
impl AsRawFd for Tracer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.ring.as_raw_fd()
    }
}

fn take_map<M>(ebpf: &mut Ebpf, name: &'static str) -> Result<M, Unavailable>
where
    M: TryFrom<aya::maps::Map, Error = MapError>,
{
    let map = ebpf.take_map(name).ok_or(Unavailable::Missing(name))?;
    M::try_from(map).map_err(|source| Unavailable::Map { name, source })
}

/// /proc/sys/kernel/pid_max: pids are below it, so it sizes TRACED (a pid
/// above a pid_max raised after loading cannot be followed).
fn pid_max() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 22)
        .clamp(1024, 1 << 22)
}

/// PENDING_SLOTS' size: a slot per thread id up to pid_max, rounded up to a
/// power of two (the kernel side indexes it by tid & (size − 1)); at most
/// 64 Ki slots of 64 bytes.
fn pending_slots() -> u32 {
    pid_max().next_power_of_two().min(1 << 16)
}

/// The next power of two ≥ `bytes`, and at least a page.
fn ring_size(bytes: u32) -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as u32;
    bytes.max(page).checked_next_power_of_two().unwrap_or(1 << 31)
}

#[cfg(test)]
mod capture_seeds;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_round_up_to_a_power_of_two_pages() {
        assert_eq!(ring_size(0), 4096);
        assert_eq!(ring_size(4096), 4096);
        assert_eq!(ring_size(5000), 8192);
        assert_eq!(ring_size(1 << 22), 1 << 22);
    }
}
