//! glassbox's eBPF programs, built for `bpfel-unknown-none` and embedded in
//! the loader (ebpf-probes/loader/build.rs). They follow one process tree:
//! the loader puts a pid in `TRACED`; `process.rs` adds every child forked
//! from it and reports forks, execs and exits; `syscalls.rs` reports each
//! syscall those processes make, or counts it (aggregate mode). See
//! bpf(2), bpf-helpers(7) and the kernel's Documentation/trace/events.rst.
//!
//! Every `unsafe` block says why it is sound (clippy's
//! `undocumented_unsafe_blocks`, set in Cargo.toml, and scripts/test.sh runs
//! clippy here). Most are calls of kernel helpers, which aya declares
//! unsafe as a whole: a helper that takes no pointer cannot hurt memory,
//! and `bpf_probe_read_*` copes with any address (a bad one is an error,
//! not a fault). The rest go through pointers into map memory, which the
//! verifier has already bounded; what Rust asks beyond that — that no one
//! else writes the value at the same time — each block argues.
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
