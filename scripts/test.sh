#!/usr/bin/env bash
# The whole test suite: the lints (scripts/lint.sh: rustfmt, clippy with
# warnings as errors, a SAFETY comment on every unsafe block), unit tests,
# and end-to-end tests that make real containers (namespaces, mounts,
# cgroups), which is why it needs root. Exits non-zero if anything fails.
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
# A dashboard left running (scripts/demo.sh leaves one) holds the default hub
# socket and the default eBPF pins: every runtime the tests start would send
# it its events, and register its --trace with its probes instead of loading
# its own. The tests name their own hub and pins where they want one (flags
# and variables given per command win over these).
export GLASSBOX_HUB=/nonexistent/glassbox-tests/hub.sock
export GLASSBOX_PIN_DIR=/nonexistent/glassbox-tests/pins
if command -v rustup >/dev/null 2>&1; then
    rustup toolchain list | grep -q '^stable' || { say "rustup toolchain install stable"; rustup toolchain install stable --profile minimal; }
    # The minimal profile has neither: the lints need both.
    for component in rustfmt clippy; do
        rustup component list --toolchain stable --installed | grep -q "^$component" ||
            { say "rustup component add $component --toolchain stable"; rustup component add "$component" --toolchain stable; }
    done
    export RUSTUP_TOOLCHAIN=stable
fi
say "$(rustc --version)"

# First: a style slip or a warning fails before the build and the tests.
say "bash scripts/lint.sh"
bash scripts/lint.sh

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
skipped=()
for note in target/.lint-skipped fuzz/.skipped; do
    if [ -f "$note" ]; then skipped+=("$(cat "$note")"); fi
done
if [ ${#skipped[@]} -gt 0 ]; then
    say "all tests passed, but $(IFS=';'; echo "${skipped[*]}" | sed 's/;/; and /g')"
else
    say "all tests passed"
fi
