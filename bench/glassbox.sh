# bench/glassbox.sh — sourced by the benchmarks (after `cd` to the repository
# and a say() of their own): the glassbox binary they measure, and a median.

# $GLASSBOX, else the release build of this checkout (built now). Then a
# warning if the build's link order is stale: runtime/link/hot-symbols.txt
# names the functions of one build; after a dependency or toolchain update
# most names change, and what is measured is an unordered binary (more
# memory, more page faults) until `bash scripts/hot-symbols.sh` is run.
use_glassbox() {
    export PATH="$HOME/.cargo/bin:$PATH"
    if [ -z "${GLASSBOX:-}" ]; then
        say "cargo build --release -p glassbox"
        cargo build --release -p glassbox
        GLASSBOX=${CARGO_TARGET_DIR:-$(pwd)/target}/release/glassbox
    fi
    export GLASSBOX
    local hot=runtime/link/hot-symbols.txt found listed
    found=$(nm --defined-only "$GLASSBOX" | awk '{print $3}' | sort | comm -12 - <(sort "$hot") | wc -l)
    listed=$(wc -l < "$hot")
    if [ $((found * 10)) -lt $((listed * 9)) ]; then
        say "WARNING: only $found of the $listed functions in $hot are in this build: the list is stale; run 'bash scripts/hot-symbols.sh' first"
    fi
}

# The median of the numbers in file $1 (or on stdin), one per line.
median() { sort -n "${1:-/dev/stdin}" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
