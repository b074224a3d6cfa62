#!/usr/bin/env bash
# The whole test suite: unit tests, and end-to-end tests that make real
# containers (namespaces, mounts, cgroups), which is why it needs root.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> test: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: run me as root: the end-to-end tests make real containers (namespaces, mounts, cgroups)" >&2
    echo "                 and must fail, not pass silently, without the privileges they test" >&2
    exit 1
fi

bash scripts/setup.sh

# rustup's stable toolchain is on the machine; make sure it is the one used.
export PATH="$HOME/.cargo/bin:$PATH"
if command -v rustup >/dev/null 2>&1; then
    rustup toolchain list | grep -q '^stable' || { say "rustup toolchain install stable"; rustup toolchain install stable --profile minimal; }
    export RUSTUP_TOOLCHAIN=stable
fi
say "$(rustc --version)"

say "cargo build --workspace --all-targets"
cargo build --workspace --all-targets

# Each test has its own --root, bundle and container ids, so tests may run in
# parallel; two threads match the two cores of the CI machine.
say "cargo test --workspace -- --test-threads=2"
cargo test --workspace -- --test-threads=2

# The parsers (config.json, event lines, eBPF records) under libFuzzer: a
# fixed number of runs from the committed seeds, ~1 min; a finding fails the
# suite with the reproducer's path. Without nightly or cargo-fuzz it is
# skipped, loudly, and said again on the last line.
say "bash scripts/fuzz.sh --check"
bash scripts/fuzz.sh --check
if [ -f fuzz/.skipped ]; then
    say "all tests passed, but $(cat fuzz/.skipped)"
else
    say "all tests passed"
fi
