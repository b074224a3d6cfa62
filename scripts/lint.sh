#!/usr/bin/env bash
# The lint half of scripts/test.sh (it runs this first), or alone: style
# (rustfmt.toml) and clippy with warnings as errors, over the main
# workspace and the three crates built outside it — fuzz/ (cargo-fuzz),
# runtime/glassbox-exec (rustc alone, from runtime/build.rs) and the BPF
# programs in ebpf-probes/kernel (nightly, from the loader's build.rs).
# Among clippy's lints, `undocumented_unsafe_blocks` (set in each crate):
# every `unsafe` block and impl says, in a `// SAFETY:` comment, why it is
# sound. Exits non-zero on the first finding.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> lint: %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

say "cargo fmt --all --check"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
cargo fmt --manifest-path ebpf-probes/kernel/Cargo.toml --check
rustfmt --edition 2021 --check runtime/glassbox-exec/main.rs

say "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# Shares target/ with the workspace: the dependencies are checked once.
say "cargo clippy --manifest-path fuzz/Cargo.toml -- -D warnings"
cargo clippy --manifest-path fuzz/Cargo.toml --target-dir target -- -D warnings

# One file, no cargo: clippy-driver stands in for the rustc that
# runtime/build.rs runs, and stops at the metadata (nothing is linked).
say "clippy-driver runtime/glassbox-exec/main.rs -D warnings"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clippy-driver --edition 2021 --crate-type bin --crate-name glassbox_exec -C panic=abort --emit=metadata \
    --out-dir "$out" runtime/glassbox-exec/main.rs -D warnings

# The BPF programs need what their build needs — nightly with rust-src
# (scripts/setup-ebpf.sh), and clippy for nightly, which setup-ebpf.sh adds
# too. Without them, or when this nightly cannot compile the crate at all
# (the loader's build then goes on without probes, and so does this), the
# lint is skipped, loudly, and said again on test.sh's last line. Only the
# SAFETY lint fails it: a newer nightly's new warnings must not.
rm -f target/.lint-skipped
skip_bpf() {
    printf '==> lint: ######## BPF PROGRAMS NOT LINTED: %s ########\n' "$*" >&2
    mkdir -p target
    printf 'the BPF programs were not linted: %s\n' "$*" > target/.lint-skipped
}
# `bpf check`, `bpf clippy -- <lint flags>`: as the loader's build.rs builds them.
bpf() {
    local command=$1
    shift
    (cd ebpf-probes/kernel && RUSTUP_TOOLCHAIN=nightly CARGO_TARGET_DIR=../../target/bpf-probes cargo "$command" \
        --release --target bpfel-unknown-none -Z build-std=core --ignore-rust-version "$@")
}
sysroot=$(RUSTUP_TOOLCHAIN=nightly rustc --print sysroot 2>/dev/null || true)
if [ -z "$sysroot" ] || [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
    skip_bpf "no nightly toolchain with rust-src (bash scripts/setup-ebpf.sh)"
elif ! RUSTUP_TOOLCHAIN=nightly cargo clippy --version >/dev/null 2>&1; then
    skip_bpf "no clippy for nightly (rustup component add clippy --toolchain nightly)"
elif ! bpf check --quiet; then
    skip_bpf "ebpf-probes/kernel does not compile with $(RUSTUP_TOOLCHAIN=nightly rustc -V)"
else
    say "cargo +nightly clippy (ebpf-probes/kernel, bpfel-unknown-none) -- -D clippy::undocumented_unsafe_blocks"
    bpf clippy --quiet -- -D clippy::undocumented_unsafe_blocks
fi
say "clean"
