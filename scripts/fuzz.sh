#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]   fuzz each target for SECONDS (default 300)
# scripts/fuzz.sh --check                 the short, repeatable run scripts/test.sh makes
#
# The targets (fuzz/fuzz_targets/, one cargo-fuzz crate outside the main
# workspace): `config` (config.json parsed, checked and planned),
# `event_line` (an events.jsonl line read back, rewritten, narrated) and
# `kernel_record` (raw eBPF ring records decoded into events). Each starts
# from fuzz/seeds/<target> (real inputs: fuzz/make-seeds.sh). A long run
# keeps what it learns in fuzz/corpus/<target> (not committed); --check
# starts from the seeds alone, with a fixed random seed and a fixed number of
# runs. A correct tree passes every time (nothing but a real crash, panic,
# hang or huge allocation fails it, and then with its reproducer); the path
# explored is nearly the same from run to run, not exactly (hash-map order
# differs between processes), so a rare bug may show up in one run only.
#
# libFuzzer stops at the first crash, panic, input slower than -timeout or
# allocation above -rss_limit_mb/-malloc_limit_mb, and saves the input in
# fuzz/artifacts/<target>/; this script then fails, naming the file and how
# to replay it. A finding becomes a unit test in the crate where the bug
# lives (see fuzz/README.md).
#
# Needs a nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz:
# both are installed here if missing (the machine's nightly is kept as it
# is). Without them --check prints a loud SKIPPED line and exits 0 — the
# test suite must not depend on crates.io being up — and a long run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> fuzz: %s\n' "$*"; }
TARGETS=(config event_line kernel_record)
CARGO_FUZZ_VERSION=0.13.2
# --check: runs per target, about 20 s each on the 2-CPU machine (1 min in all).
CHECK_RUNS=(config=40000 event_line=250000 kernel_record=60000)

check=false
seconds=300
if [ "${1:-}" = "--check" ]; then
    check=true
    shift
elif [ -n "${1:-}" ]; then
    [[ $1 =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS] [TARGET...] | --check" >&2; exit 2; }
    seconds=$1
    shift
fi
[ $# -gt 0 ] && TARGETS=("$@")

# A missing tool: --check (the test suite) goes on without fuzzing, loudly;
# a run asked for by hand fails.
unavailable() {
    if $check; then
        printf '==> fuzz: ######## FUZZING SKIPPED: %s ########\n' "$*" >&2
        printf 'fuzzing skipped: %s\n' "$*" > fuzz/.skipped
        exit 0
    fi
    echo "scripts/fuzz.sh: $*" >&2
    exit 1
}
rm -f fuzz/.skipped

export PATH="$HOME/.cargo/bin:$PATH"
command -v rustup >/dev/null 2>&1 || unavailable "no rustup: the fuzz targets need a nightly toolchain"
if ! rustc +nightly -V >/dev/null 2>&1; then
    say "rustup toolchain install nightly --profile minimal"
    rustup toolchain install nightly --profile minimal || unavailable "could not install the nightly toolchain"
fi
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    say "cargo install cargo-fuzz $CARGO_FUZZ_VERSION (about a minute, once)"
    cargo install --locked --force cargo-fuzz --version "$CARGO_FUZZ_VERSION" ||
        unavailable "could not install cargo-fuzz $CARGO_FUZZ_VERSION"
fi

# -O -a: optimised (fuzz/Cargo.toml keeps that light), with debug
# assertions and so overflow checks: an overflow is a finding too. The
# probes are not built: the decoder is fuzzed, not the kernel side.
fuzz() { RUSTUP_TOOLCHAIN=nightly GLASSBOX_NO_PROBES=1 cargo fuzz "$@"; }
say "cargo +nightly fuzz build ($(rustc +nightly -V))"
fuzz build -O -a

# -rss_limit_mb: a whole process above 2 GiB is a leak or a huge allocation;
# -malloc_limit_mb: one allocation above 256 MiB is one (nothing glassbox
# reads needs more); -timeout: one input taking over 10 s is a hang.
LIMITS=(-rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 -print_final_stats=1)
failed=()
for target in "${TARGETS[@]}"; do
    [ -d "fuzz/seeds/$target" ] || { echo "scripts/fuzz.sh: no target $target (fuzz/seeds/$target)" >&2; exit 2; }
    if $check; then
        runs=""
        for r in "${CHECK_RUNS[@]}"; do [ "${r%%=*}" = "$target" ] && runs=${r#*=}; done
        corpus=$(mktemp -d)
        args=(-seed=1 -runs="${runs:-50000}" -max_total_time=120)
        say "$target: ${runs:-50000} runs from fuzz/seeds/$target (seed 1)"
    else
        corpus=fuzz/corpus/$target
        mkdir -p "$corpus"
        args=(-max_total_time="$seconds")
        say "$target: $seconds s, corpus $corpus"
    fi
    # A dictionary (fuzz/dicts/<target>.dict) lets mutations write whole
    # field names and values, so the planners behind the parser are reached.
    [ -f "fuzz/dicts/$target.dict" ] && args+=(-dict="fuzz/dicts/$target.dict")
    mkdir -p "fuzz/artifacts/$target"
    log=$(mktemp)
    if fuzz run -O -a "$target" "$corpus" "fuzz/seeds/$target" -- "${LIMITS[@]}" "${args[@]}" \
        -artifact_prefix="$PWD/fuzz/artifacts/$target/" >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -n 2 | sed "s/^/    $target: /" || true
    else
        # What went wrong, without libFuzzer's dump of the input's bytes.
        grep -E -A2 'panicked at|^==[0-9]+==ERROR|ERROR: libFuzzer|^SUMMARY' "$log" | head -n 20 >&2 || tail -n 20 "$log" >&2
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        failed+=("$target${artifact:+: $artifact}")
        say "FOUND A BUG in $target${artifact:+: reproducer $artifact}"
        [ -n "$artifact" ] && say "replay it: RUSTUP_TOOLCHAIN=nightly GLASSBOX_NO_PROBES=1 cargo fuzz run -O -a $target $artifact"
    fi
    rm -f "$log"
    $check && rm -rf "$corpus"
done

if [ ${#failed[@]} -gt 0 ]; then
    say "failed: ${failed[*]}"
    exit 1
fi
say "no findings in: ${TARGETS[*]}"
