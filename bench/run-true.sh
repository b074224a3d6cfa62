#!/usr/bin/env bash
# bench/run-true.sh — how long does it take to make a container, run
# /bin/true in it and tear it down again?
#
# For glassbox, runc, crun (and youki if it is on PATH) this times
#   RUNTIME --root DIR run --bundle BUNDLE ID
# which is create → start → wait for exit → delete, in ONE hyperfine
# invocation so that all runtimes see the same machine load, then measures
# each one's peak RSS with GNU time. Output: hyperfine's own report, its JSON
# (bench/results/run-true.json) and a summary table.
#
# Run as root. Environment: RUNS (default 30), WARMUP (3), RSS_RUNS (10),
# ROUNDS (150: glassbox, --no-events and crun in turns), PAUSED and PAUSE
# (20 more rounds with 0.2 s before each run), STATE_ON (tmpfs, the
# default, or disk: where the state directories are, see below), GLASSBOX
# (default: target/release/glassbox, built here), BASELINE (another glassbox
# binary — say, a release build of an earlier commit — timed beside it, in
# hyperfine and round by round: what a change costs at start).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
RSS_RUNS=${RSS_RUNS:-10}

say() { printf '==> bench: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "bench/run-true.sh: run me as root: every runtime here makes namespaces, mounts and cgroups" >&2
    exit 1
fi

bash scripts/setup.sh
# shellcheck source=bench/glassbox.sh
source bench/glassbox.sh
use_glassbox

# --- crun and this machine's hybrid cgroups ---------------------------------
# shellcheck source=bench/hugetlb-v1.sh
source bench/hugetlb-v1.sh

# --- the runtimes -------------------------------------------------------------
# glassbox three times: as it ships (events on), with --no-events (what the
# events cost), and with --explain narrating to /dev/null (what the
# narration costs; hyperfine throws the output away).
names=(glassbox glassbox-no-events glassbox-explain runc crun)
bins=("$GLASSBOX" "$GLASSBOX" "$GLASSBOX" "$(command -v runc)" "$(command -v crun)")
globals=("" "--no-events" "" "" "")
runflags=("" "" "--explain" "" "")
if [ -n "${BASELINE:-}" ]; then
    names+=(glassbox-baseline)
    bins+=("$BASELINE")
    globals+=("")
    runflags+=("")
fi
if command -v youki >/dev/null 2>&1; then
    names+=(youki)
    bins+=("$(command -v youki)")
    globals+=("")
    runflags+=("")
fi

work=$(mktemp -d /tmp/glassbox-bench.XXXXXX)
# The runtimes' state directories (--root) are on a tmpfs, as on a usual
# host, where /run is one (runc keeps its state in /run/runc, glassbox in
# /run/glassbox). On this VM /run and /tmp are on the root ext4 filesystem,
# whose journal makes each file made or removed cost tens of µs more than
# on a tmpfs — for every runtime, and for glassbox's events record once
# more. STATE_ON=disk keeps them in $work instead.
state=$work/state
mkdir -p "$state"
cleanup() {
    for i in "${!names[@]}"; do
        "${bins[$i]}" --root "$state/root-${names[$i]}" delete --force "bench-${names[$i]}" >/dev/null 2>&1 || true
    done
    if mountpoint -q "$state"; then umount "$state"; fi
    rm -rf "$work"
    restore_hugetlb
}
trap cleanup EXIT
STATE_ON=${STATE_ON:-tmpfs}
if [ "$STATE_ON" = tmpfs ]; then
    mount -t tmpfs -o size=256m,mode=0700 glassbox-bench-state "$state"
fi
move_hugetlb_to_v1

bundle=$work/bundle
bash scripts/make-bundle.sh "$bundle" /bin/true >/dev/null
# No terminal: `run` then needs no tty or console socket, and measures only
# the container itself. ociVersion 1.0.2: crun 1.8 refuses "1.2.0" ("unknown
# version specified"), and nothing in this config needs more than 1.0.
# cgroupsPath: one cgroup of the benchmark's own, at the same place for
# every runtime, which each removes when its `run` ends.
jq '.process.terminal = false | .ociVersion = "1.0.2" | .linux.cgroupsPath = "/glassbox-bench"' \
    "$bundle/config.json" > "$work/config.json"
mv "$work/config.json" "$bundle/config.json"

# One command per runtime, each with its own --root (state directory).
# `run` deletes the container when /bin/true exits, so the same id is free
# again for the next run; the --prepare step (not timed) removes anything a
# failed run left, so one failure cannot make every later run fail too.
run_cmd() { echo "${bins[$1]} ${globals[$1]} --root $state/root-${names[$1]} run ${runflags[$1]} --bundle $bundle bench-${names[$1]}"; }
hf_args=(-N --warmup "$WARMUP" --runs "$RUNS")
for i in "${!names[@]}"; do
    mkdir -p "$state/root-${names[$i]}"
    # Fail early, with the runtime's own message, rather than inside hyperfine.
    if ! out=$($(run_cmd "$i") 2>&1); then
        echo "bench/run-true.sh: ${names[$i]} cannot run the bundle: $out" >&2
        exit 1
    fi
    hf_args+=(--prepare "sh -c '${bins[$i]} --root $state/root-${names[$i]} delete --force bench-${names[$i]} 2>/dev/null || true'")
    hf_args+=(--command-name "${names[$i]}" "$(run_cmd "$i")")
done

mkdir -p bench/results
json=bench/results/run-true.json
say "hyperfine: ${names[*]} — $RUNS runs each after $WARMUP warm-up runs; state directories on $STATE_ON"
hyperfine "${hf_args[@]}" --export-json "$json"

# --- peak memory ---------------------------------------------------------------
# GNU time's %M is the largest resident set (KiB) of the runtime or any
# process it waited for (its init helper, the container), i.e. the peak
# memory one `run` needs. We keep the median over RSS_RUNS runs.
declare -A rss
for i in "${!names[@]}"; do
    samples=()
    for _ in $(seq "$RSS_RUNS"); do
        /usr/bin/time -f %M -o "$work/rss" $(run_cmd "$i") >/dev/null 2>&1
        samples+=("$(tail -n1 "$work/rss")")
    done
    rss[${names[$i]}]=$(printf '%s\n' "${samples[@]}" | median)
done

# --- summary ---------------------------------------------------------------------
crun_median=$(jq -r '.results[] | select(.command == "crun") | .median' "$json")
echo
printf '%-10s %12s %14s %20s\n' runtime "median ms" "ratio vs crun" "peak RSS MiB (median)"
for name in "${names[@]}"; do
    median=$(jq -r --arg n "$name" '.results[] | select(.command == $n) | .median' "$json")
    awk -v n="$name" -v m="$median" -v c="$crun_median" -v r="${rss[$name]}" \
        'BEGIN { printf "%-10s %12.1f %14.2f %20.1f\n", n, m * 1000, m / c, r / 1024 }'
done
echo
on=$(jq -r '.results[] | select(.command == "glassbox") | .median' "$json")
off=$(jq -r '.results[] | select(.command == "glassbox-no-events") | .median' "$json")
explain=$(jq -r '.results[] | select(.command == "glassbox-explain") | .median' "$json")
awk -v on="$on" -v off="$off" -v ex="$explain" 'BEGIN {
    printf "hyperfine medians: events on vs off %+.1f%%; --explain to /dev/null vs off %+.1f%%\n",
        (on / off - 1) * 100, (ex / off - 1) * 100 }'

# --- in turns: events on vs off, and glassbox vs crun ---------------------------
# hyperfine times each command's runs one block after the other, so a few
# seconds of load elsewhere on the machine land on one command only (here the
# first write into a cgroup.procs waits for an RCU grace period: 1 to 15 ms),
# enough to move a 5% difference either way. Here glassbox, glassbox
# --no-events and crun take turns, timed with bash's $EPOCHREALTIME, and
# their medians compare. The rounds go through all six orders of the three,
# so each follows each other one equally often: what one run leaves the
# kernel to finish (a cgroup's removal, an RCU grace period) lands on the
# next, and a plain rotation (0 1 2, 1 2 0, 2 0 1) put crun right before
# glassbox twice as often as before --no-events.
ROUNDS=${ROUNDS:-150}
for i in "${!names[@]}"; do [ "${names[$i]}" = crun ] && crun_index=$i; done
# time_one INDEX [SERIES]: one run, its microseconds appended to $work/SERIES-INDEX.us
time_one() {
    local start=$EPOCHREALTIME
    $(run_cmd "$1") >/dev/null 2>&1
    local end=$EPOCHREALTIME
    echo "$(( (${end/./} - ${start/./}) ))" >> "$work/${2:-turns}-$1.us"
}
turn=(0 1 "$crun_index")
orders=("0 1 2" "0 2 1" "1 0 2" "1 2 0" "2 0 1" "2 1 0")
for r in $(seq "$ROUNDS"); do
    for k in ${orders[$((r % 6))]}; do
        time_one "${turn[$k]}"
    done
done
awk -v on="$(median "$work/turns-0.us")" -v off="$(median "$work/turns-1.us")" \
    -v crun="$(median "$work/turns-$crun_index.us")" -v n="$ROUNDS" 'BEGIN {
    printf "in turns, %d rounds: glassbox %.2f ms, --no-events %.2f ms, crun %.2f ms\n", n, on / 1000, off / 1000, crun / 1000
    printf "glassbox vs crun: %.2f (target: at most 1)\n", on / crun
    printf "events on vs off, medians: %+.1f%%, %+.2f ms\n", (on / off - 1) * 100, (on - off) / 1000 }'
# What the events cost, round by round: the two runs of one round see the
# same moment of the machine, so their difference leaves out most of what
# moves both (the no-events median alone moves by 50% from one run of this
# script to the next on a busy VM). The median of the differences, and the
# range that holds the true median with 95% confidence whatever the
# distribution (the order statistics k and n+1-k of the sorted differences,
# k = n/2 - 1.96·√n/2: a sign-test interval), as a share of the --no-events
# median; the verdict is what that range says about the target.
paste "$work/turns-0.us" "$work/turns-1.us" | awk '{ print $1 - $2 }' | sort -n |
    awk -v off="$(median "$work/turns-1.us")" '{ d[NR] = $1 } END {
    n = NR; k = int(n / 2 - 0.98 * sqrt(n)); if (k < 1) k = 1
    mid = d[int((n + 1) / 2)]; lo = d[k]; hi = d[n + 1 - k]
    printf "events on vs off, round by round: %+.1f%% (%+.2f ms); 95%% range %+.1f%% … %+.1f%%\n",
        mid / off * 100, mid / 1000, lo / off * 100, hi / off * 100
    if (hi / off * 100 <= 5) verdict = "within the target (at most +5%) with 95% confidence"
    else if (lo / off * 100 > 5) verdict = "over the target (at most +5%) with 95% confidence"
    else verdict = "the range holds +5%: more ROUNDS to tell"
    print "events verdict: " verdict }'

# --- against BASELINE: what a change costs, round by round ----------------------
# The same paired comparison as for the events: glassbox and the baseline
# binary one after the other in each round, first one then the other.
if [ -n "${BASELINE:-}" ]; then
    for i in "${!names[@]}"; do [ "${names[$i]}" = glassbox-baseline ] && base_index=$i; done
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) -eq 0 ]; then pair=(0 "$base_index"); else pair=("$base_index" 0); fi
        for k in "${pair[@]}"; do time_one "$k" base; done
    done
    paste "$work/base-0.us" "$work/base-$base_index.us" | awk '{ print $1 - $2 }' | sort -n |
        awk -v b="$(median "$work/base-$base_index.us")" -v g="$(median "$work/base-0.us")" '{ d[NR] = $1 } END {
        n = NR; k = int(n / 2 - 0.98 * sqrt(n)); if (k < 1) k = 1
        mid = d[int((n + 1) / 2)]; lo = d[k]; hi = d[n + 1 - k]
        printf "against the baseline, %d rounds: glassbox %.2f ms, baseline %.2f ms\n", n, g / 1000, b / 1000
        printf "glassbox vs baseline, round by round: %+.1f%% (%+.3f ms); 95%% range %+.1f%% … %+.1f%%\n",
            mid / b * 100, mid / 1000, lo / b * 100, hi / b * 100 }'
fi

# --- after a pause: what one `run` costs on a quiet machine --------------------
# Back to back, the kernel's switch for cgroup.procs writes stays on from one
# run to the next; after a pause the first such write waits for an RCU grace
# period (book: cgroup.md) — 10 ms and more here. glassbox avoids that write
# (clone3 into the v2 cgroup, the init writing itself into the v1 ones);
# runc and crun do not. PAUSED rounds (default 20), PAUSE seconds apart.
PAUSED=${PAUSED:-20}
PAUSE=${PAUSE:-0.2}
if [ "$PAUSED" -gt 0 ]; then
    for r in $(seq "$PAUSED"); do
        for k in ${orders[$((r % 6))]}; do
            sleep "$PAUSE"
            time_one "${turn[$k]}" paused
        done
    done
    awk -v on="$(median "$work/paused-0.us")" -v off="$(median "$work/paused-1.us")" \
        -v crun="$(median "$work/paused-$crun_index.us")" -v n="$PAUSED" -v p="$PAUSE" 'BEGIN {
        printf "after a %s s pause, %d rounds: glassbox %.2f ms, --no-events %.2f ms, crun %.2f ms\n", p, n, on / 1000, off / 1000, crun / 1000
        printf "after a pause: glassbox vs crun %.2f, events on vs off %+.1f%%\n", on / crun, (on / off - 1) * 100 }'
fi
echo
say "raw timings: $json"
