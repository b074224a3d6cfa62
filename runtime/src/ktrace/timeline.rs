//! The live timeline `--trace` prints on stderr: the runtime's stages and
//! the kernel's syscalls, forks, execs and exits of the container, merged
//! by time (both stamp CLOCK_MONOTONIC). It follows the container's
//! events.jsonl like `events --follow` does; kernel lines arrive there in
//! batches, so each line is held back a moment ([`HOLD_NS`]) and lines are
//! printed in `ts_ns` order rather than in the order they were written.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use glassbox_events::{Event, Kind, Outcome, ProcessChange, Source, Tail};
use glassbox_probes::{format_ns, format_ret, Formatter, KernelRecord, SyscallRecord};

/// How long a line waits for earlier lines that may still come.
pub const HOLD_NS: u64 = 300_000_000;

/// Which lines `--trace=LIST` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `None`: everything (`all`); otherwise these syscall numbers only
    /// (and no fork/exec/exit lines).
    pub syscalls: Option<HashSet<u32>>,
}

impl Filter {
    /// `all`, or syscall names separated by commas; an unknown name is an error naming it.
    pub fn parse(list: &str) -> Result<Filter, String> {
        if list.split(',').any(|w| w.trim() == "all") {
            return Ok(Filter { syscalls: None });
        }
        let mut set = HashSet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let nr = glassbox_probes::syscall_number(name).ok_or_else(|| {
                format!("--trace: there is no syscall named {name:?} on x86_64 (try mount, clone, execve, or all)")
            })?;
            set.insert(nr);
        }
        if set.is_empty() {
            return Err("--trace=: name syscalls (e.g. --trace=mount,clone,execve) or use --trace=all".into());
        }
        Ok(Filter { syscalls: Some(set) })
    }

    /// A quick look at a raw line: a kernel syscall line of a syscall not
    /// listed is skipped without being parsed (a busy container writes
    /// millions of them).
    fn may_show(&self, line: &str) -> bool {
        let Some(set) = &self.syscalls else { return true };
        if !line.contains(r#""source":"kernel","type":"syscall""#) {
            return true;
        }
        let nr = line.split(r#""nr":"#).nth(1).and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next());
        nr.and_then(|n| n.parse::<u32>().ok()).is_none_or(|n| set.contains(&n))
    }

    fn shows(&self, e: &Event, narrated: bool) -> bool {
        match (&e.kind, e.source) {
            (Kind::Dropped { .. }, _) => true,
            // With --explain the narrator tells the stages.
            (_, Source::Runtime) => !narrated && !matches!(e.kind, Kind::Step { .. }),
            (Kind::Syscall { nr, .. }, _) => self.syscalls.as_ref().is_none_or(|s| s.contains(nr)),
            _ => self.syscalls.is_none(),
        }
    }
}

/// A line waiting for the earlier ones that may still come.
struct Held {
    ts_ns: u64,
    seq: u64,
    text: String,
}

/// The printer: reads the record, holds lines back, prints them in order.
pub struct Timeline {
    paths: Vec<PathBuf>,
    tail: Option<Tail>,
    filter: Filter,
    narrated: bool,
    since_ns: u64,
    held: Vec<Held>,
    fmt: Formatter,
    start: Option<u64>,
    /// Processes the kernel saw forked (fork events in the record).
    pub forked: HashSet<u32>,
    /// Processes whose exit the record holds.
    pub exited: HashSet<u32>,
}

impl Timeline {
    /// Follows the record (the live file, or the kept one once delete has
    /// moved it) from the moment the command began.
    pub fn new(req: &super::TraceRequest) -> Timeline {
        Timeline {
            paths: req.record_paths(),
            tail: None,
            filter: req.filter.clone(),
            narrated: req.narrated,
            since_ns: req.since_ns,
            held: Vec::new(),
            fmt: Formatter::new(),
            start: None,
            forked: HashSet::new(),
            exited: HashSet::new(),
        }
    }

    /// Reads what is new and prints the lines older than `hold_ns` ago;
    /// returns how many of the new lines the filter may show.
    pub fn pump(&mut self, hold_ns: u64) -> usize {
        if self.tail.is_none() {
            self.tail = self.paths.iter().find_map(|p| Tail::open(p).ok());
        }
        let Some(tail) = &mut self.tail else { return 0 };
        let filter = &self.filter;
        let lines = tail.lines(|l| filter.may_show(l));
        // Each line is made into text as it arrives, while the container is
        // still being made: at the end only the sorting and printing are left
        // for the command to wait for.
        for e in lines.iter().filter_map(|l| glassbox_events::from_line(l).ok()) {
            match e.kind {
                Kind::Process { change: ProcessChange::Fork, .. } => {
                    self.forked.insert(e.pid as u32);
                }
                Kind::Process { change: ProcessChange::Exit, .. } => {
                    self.exited.insert(e.pid as u32);
                }
                _ => {}
            }
            if e.ts_ns >= self.since_ns && self.filter.shows(&e, self.narrated) {
                let text = self.line(&e);
                self.held.push(Held { ts_ns: e.ts_ns, seq: e.seq, text });
            }
        }
        let before = crate::recorder::monotonic_ns().saturating_sub(hold_ns);
        self.held.sort_by_key(|h| (h.ts_ns, h.seq));
        let n = self.held.partition_point(|h| h.ts_ns <= before);
        if n == 0 {
            return lines.len();
        }
        let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
        for h in self.held.drain(..n) {
            let start = *self.start.get_or_insert(h.ts_ns);
            let t = h.ts_ns.saturating_sub(start) as f64 / 1e9;
            let _ = writeln!(err, "{t:11.6} {}", h.text);
        }
        let _ = err.flush();
        lines.len()
    }

    /// Prints everything left.
    pub fn finish(&mut self) {
        self.pump(0);
    }

    fn line(&mut self, e: &Event) -> String {
        let pid = e.pid as u32;
        let kernel = |fmt: &mut Formatter, rec: KernelRecord| fmt.line(&rec);
        match &e.kind {
            Kind::StageBegin { stage } => format!("[{pid}] ▶ {}", stage.name()),
            Kind::StageEnd { stage, duration_ns, outcome } => {
                let how = if *outcome == Outcome::Ok { "done" } else { "FAILED" };
                format!("[{pid}] ■ {} {how} in {}", stage.name(), format_ns(*duration_ns))
            }
            Kind::Status { status } => format!("[{pid}] status: {status}"),
            Kind::Error { stage, message } => format!("[{pid}] error in {}: {message}", stage.name()),
            Kind::Dropped { sink, count } => format!("{count} events lost ({sink}): see the line above"),
            Kind::Step { action, .. } => format!("[{pid}] · {action}"),
            Kind::Syscall { name, ret, latency_ns, decoded: Some(decoded), .. } => {
                let call = glassbox_probes::decoded_args(name, decoded);
                format!("[{pid}] {name}({call}) = {}  <{}>", format_ret(*ret), format_ns(*latency_ns))
            }
            Kind::Syscall { nr, args, ret, latency_ns, .. } => {
                let mut a = [0u64; 6];
                a.iter_mut().zip(args).for_each(|(d, s)| *d = *s);
                let rec = SyscallRecord {
                    nr: *nr,
                    tid: pid,
                    tgid: pid,
                    args: a,
                    ret: *ret,
                    ts_ns: e.ts_ns,
                    latency_ns: *latency_ns,
                    ..Default::default()
                };
                kernel(&mut self.fmt, KernelRecord::Syscall(rec.into()))
            }
            Kind::Process { change: ProcessChange::Namespaces, ns, .. } => {
                let list: Vec<String> = ns
                    .iter()
                    .flatten()
                    .filter(|(_, n)| n.as_u64() != Some(0))
                    .map(|(k, n)| format!("{k}:[{n}]"))
                    .collect();
                format!("[{pid}] namespaces {}", list.join(" "))
            }
            Kind::Process { change, ppid, filename, exit_code, .. } => {
                let ts_ns = e.ts_ns;
                let rec = match change {
                    ProcessChange::Fork => KernelRecord::Fork {
                        ts_ns,
                        parent: ppid.unwrap_or(0) as u32,
                        child: pid,
                        thread: false,
                        cgroup_id: 0,
                    },
                    ProcessChange::Exec => KernelRecord::Exec {
                        ts_ns,
                        pid,
                        ppid: ppid.map(|p| p as u32),
                        filename: filename.clone().unwrap_or_default(),
                        cgroup_id: 0,
                    },
                    // (Namespaces events are printed by the arm above.)
                    ProcessChange::Exit | ProcessChange::Namespaces => {
                        KernelRecord::Exit { ts_ns, pid, exit_code: *exit_code, cgroup_id: 0 }
                    }
                };
                kernel(&mut self.fmt, rec)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_syscalls_and_an_unknown_one_is_named_back() {
        assert_eq!(Filter::parse("all").unwrap().syscalls, None);
        let f = Filter::parse("mount,execve").unwrap().syscalls.unwrap();
        assert!(f.contains(&165) && f.contains(&59) && f.len() == 2);
        let mount = Filter::parse("mount").unwrap();
        let line = |nr: u32| format!(r#"{{"pid":1,"source":"kernel","type":"syscall","nr":{nr},"name":"x"}}"#);
        assert!(mount.may_show(&line(165)) && !mount.may_show(&line(0)));
        assert!(mount.may_show(r#"{"source":"runtime","type":"stage_begin"}"#));
        let e = Filter::parse("mount,mnt").unwrap_err();
        assert!(e.contains("\"mnt\""), "{e}");
    }
}
