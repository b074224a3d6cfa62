//! Pressure stall information (Documentation/accounting/psi.rst): how much
//! of the time some (or all) of the cgroup's tasks were stalled waiting for
//! CPU, memory or I/O. Each `<resource>.pressure` file has a `some` line
//! (at least one task waited) and a `full` line (every runnable task waited
//! at once, so no work was done), with averages over 10, 60 and 300 s in
//! percent and a `total` of µs stalled since the cgroup was made.
//!
//! Only cgroup2 directories have these files, and only on kernels built
//! with CONFIG_PSI and not booted with `psi=0`. On a hybrid host they are in
//! the unified tree (`/sys/fs/cgroup/unified/<path>`), if the container has
//! a directory there; on pure v1 there is none, and the sample's `psi` is null.

use std::path::Path;

use serde::Serialize;

use super::read;

/// The 10 s averages the charts show, and the totals cAdvisor's
/// `container_pressure_*_seconds_total` count.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Psi {
    pub cpu_some_avg10: f64,
    pub memory_some_avg10: f64,
    pub memory_full_avg10: f64,
    pub io_some_avg10: f64,
    pub io_full_avg10: f64,
    pub cpu_some_total_us: u64,
    pub cpu_full_total_us: u64,
    pub memory_some_total_us: u64,
    pub memory_full_total_us: u64,
    pub io_some_total_us: u64,
    pub io_full_total_us: u64,
}

/// One line of a pressure file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Line {
    pub avg10: f64,
    pub total_us: u64,
}

/// The `some` and `full` lines of one pressure file's text.
pub fn parse(text: &str) -> (Line, Line) {
    let mut some_full = (Line::default(), Line::default());
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let slot = match fields.next() {
            Some("some") => &mut some_full.0,
            Some("full") => &mut some_full.1,
            _ => continue,
        };
        for field in fields {
            match field.split_once('=') {
                Some(("avg10", v)) => slot.avg10 = v.parse().unwrap_or(0.0),
                Some(("total", v)) => slot.total_us = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    some_full
}

/// The three pressure files of a cgroup2 directory; None if it has none.
pub fn read_dir(dir: &Path) -> Option<Psi> {
    let (cpu_some, cpu_full) = parse(&read(dir, "cpu.pressure")?);
    let (memory_some, memory_full) = parse(&read(dir, "memory.pressure").unwrap_or_default());
    let (io_some, io_full) = parse(&read(dir, "io.pressure").unwrap_or_default());
    Some(Psi {
        cpu_some_avg10: cpu_some.avg10,
        memory_some_avg10: memory_some.avg10,
        memory_full_avg10: memory_full.avg10,
        io_some_avg10: io_some.avg10,
        io_full_avg10: io_full.avg10,
        cpu_some_total_us: cpu_some.total_us,
        cpu_full_total_us: cpu_full.total_us,
        memory_some_total_us: memory_some.total_us,
        memory_full_total_us: memory_full.total_us,
        io_some_total_us: io_some.total_us,
        io_full_total_us: io_full.total_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_and_full_lines_give_averages_and_totals() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_dir(dir.path()), None, "no pressure files: no psi");
        std::fs::write(
            dir.path().join("cpu.pressure"),
            "some avg10=12.50 avg60=3.00 avg300=1.00 total=4000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=10\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("memory.pressure"),
            "some avg10=1.25 avg60=0 avg300=0 total=77\nfull avg10=0.75 avg60=0 avg300=0 total=66\n",
        )
        .unwrap();
        let psi = read_dir(dir.path()).unwrap();
        assert_eq!((psi.cpu_some_avg10, psi.cpu_some_total_us, psi.cpu_full_total_us), (12.5, 4000, 10));
        assert_eq!((psi.memory_some_avg10, psi.memory_full_avg10, psi.memory_full_total_us), (1.25, 0.75, 66));
        assert_eq!((psi.io_some_avg10, psi.io_full_total_us), (0.0, 0), "no io.pressure: zeros");
    }
}
