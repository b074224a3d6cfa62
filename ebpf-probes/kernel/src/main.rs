//! glassbox's eBPF programs, built for `bpfel-unknown-none` and embedded in
//! the loader (ebpf-probes/loader/build.rs). They follow one process tree:
//! the loader puts a pid in `TRACED`; `process.rs` adds every child forked
//! from it and reports forks, execs and exits; `syscalls.rs` reports each
//! syscall those processes make, or counts it (aggregate mode). See
//! bpf(2), bpf-helpers(7) and the kernel's Documentation/trace/events.rst.
#![no_std]
#![no_main]

mod detail;
mod maps;
mod namespaces;
mod process;
mod syscalls;

/// The verifier rejects any path that could reach a panic, so this is
/// never called; no_std still wants one.
#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// The license the kernel checks before letting a program call GPL-only
/// helpers (bpf_probe_read_*, the ring buffer).
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
