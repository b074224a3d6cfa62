#!/usr/bin/env bash
# The eBPF toolchain glassbox's tracer is built with (ebpf-probes/, see
# ENVIRONMENT.md "eBPF"): nightly's rust-src (the BPF target has no prebuilt
# core library), bpf-linker linked against nightly's own LLVM, and tracefs.
# Idempotent: each step looks first. Never fatal: when a step fails, the
# runtime still builds and runs and `glassbox trace` says tracing is
# unavailable and why; this script warns and exits 0.
set -uo pipefail

say() { printf '==> setup-ebpf: %s\n' "$*"; }
unavailable() {
    printf '==> setup-ebpf: WARNING: %s\n' "$*" >&2
    printf '==> setup-ebpf: WARNING: eBPF tracing (glassbox trace, run --trace) will be unavailable; the runtime itself is unaffected\n' >&2
    exit 0
}

if ! command -v rustup >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/rustup" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v rustup >/dev/null 2>&1 || unavailable "no rustup: the probes need a nightly toolchain next to stable"

# --- nightly + rust-src ------------------------------------------------------
# A nightly that is already here is kept as it is: the probes are pinned to
# what it can build (aya-ebpf 0.2.1; 0.3 wants rustc 1.98).
if rustc +nightly -V >/dev/null 2>&1; then
    say "nightly toolchain: $(rustc +nightly -V)"
else
    say "rustup toolchain install nightly --profile minimal"
    rustup toolchain install nightly --profile minimal || unavailable "could not install the nightly toolchain"
fi
if rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    say "rust-src already installed for nightly"
else
    say "rustup component add rust-src --toolchain nightly"
    rustup component add rust-src --toolchain nightly || unavailable "could not add rust-src to nightly (build-std needs it)"
fi
# Not for the build: scripts/lint.sh runs clippy over the BPF programs with
# it, and says so loudly when it cannot.
if rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^clippy'; then
    say "clippy already installed for nightly"
else
    say "rustup component add clippy --toolchain nightly"
    rustup component add clippy --toolchain nightly ||
        printf '==> setup-ebpf: WARNING: no clippy for nightly: scripts/lint.sh will not lint the BPF programs\n' >&2
fi

# --- bpf-linker --------------------------------------------------------------
# It links against nightly's libLLVM.so (LLVM 22); the rpath lets it find that
# library when run outside rustup too (rustup puts it on LD_LIBRARY_PATH only
# for commands it runs, such as `cargo +nightly`).
if rustup run nightly bpf-linker --version >/dev/null 2>&1; then
    say "bpf-linker: $(rustup run nightly bpf-linker --version)"
else
    sysroot=$(rustc +nightly --print sysroot)
    libllvm=$(ls "$sysroot"/lib/libLLVM.so.* 2>/dev/null | head -n1)
    [ -n "$libllvm" ] || unavailable "nightly has no libLLVM.so in $sysroot/lib to link bpf-linker against"
    prefix=$(mktemp -d)
    mkdir -p "$prefix/lib"
    ln -s "$libllvm" "$prefix/lib/libLLVM.so"
    say "cargo install bpf-linker (against $libllvm; about a minute)"
    if ! LLVM_PREFIX=$prefix RUSTFLAGS="-C link-arg=-Wl,-rpath,$sysroot/lib" \
        cargo install --force bpf-linker --no-default-features --features llvm-22; then
        rm -rf "$prefix"
        unavailable "cargo install bpf-linker failed (it needs LLVM 22 from the nightly toolchain)"
    fi
    rm -rf "$prefix"
    rustup run nightly bpf-linker --version >/dev/null 2>&1 || unavailable "bpf-linker was installed but does not run"
fi

# --- tracefs -----------------------------------------------------------------
# Tracepoint programs are attached by the id tracefs publishes under events/.
if [ -d /sys/kernel/tracing/events ]; then
    say "tracefs mounted at /sys/kernel/tracing"
else
    say "mount -t tracefs nodev /sys/kernel/tracing"
    mount -t tracefs nodev /sys/kernel/tracing || unavailable "could not mount tracefs at /sys/kernel/tracing"
fi

# --- BTF ---------------------------------------------------------------------
[ -r /sys/kernel/btf/vmlinux ] || unavailable "this kernel publishes no BTF (/sys/kernel/btf/vmlinux)"
say "eBPF toolchain ready"
