#!/usr/bin/env bash
# bench/dashboard.sh — what does the dashboard cost, and what can it take?
#
# Figures against the targets of issue 19, from one run of the load
# generator (dashboard/examples/hub_load.rs) and one run of paired starts:
#
# 1. Latency: from one event's send on the hub socket to its arrival in the
#    page's live stream (/api/stream, read by an SSE client as a browser's
#    EventSource would): p50/p99 on a quiet hub, then while it is flooded
#    (target p99 ≤ 100 ms).
# 2. Ingest: CONNS runtimes connected at once send EVENTS events in all, as
#    fast as the hub takes them (blocking sends): events taken per second
#    (target ≥ 500,000/s on this 2-CPU machine). 17 lines to a message, as
#    a runtime sends them (what waits, whenever it writes its record: a
#    default container's 153 events go in 9 messages); then once more at
#    one line a message, for comparison.
# 3. Memory: the dashboard's resident set with those events in its store
#    (VmRSS, and VmHWM, its peak) (target ≤ 200 MiB with 1,000,000).
# 4. Container start with the dashboard taking its events vs no hub at all,
#    in pairs, the two in turn, the first of each pair alternating (target:
#    no worse than +5%). Not hyperfine: it runs all of one command, then all
#    of the other, and on this VM the machine drifts by up to ±10% between
#    two such blocks — more than the difference measured.
#
# The dashboard runs with --no-probes: the probes' cost is bench/trace.sh's.
# Run as root. Environment: RUNS (default 30), WARMUP (3), CONNS (50),
# EVENTS (1000000 in all), PROBES (500 latency samples), PORT (17878),
# GLASSBOX (default: the release build, built here).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-50}
EVENTS=${EVENTS:-1000000}
PROBES=${PROBES:-500}

say() { printf '==> bench: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "bench/dashboard.sh: run me as root: the containers it starts need it" >&2
    exit 1
fi
for tool in jq; do
    command -v "$tool" >/dev/null || { echo "bench/dashboard.sh: $tool is missing (bash scripts/setup.sh)" >&2; exit 1; }
done
# shellcheck source=bench/glassbox.sh
source bench/glassbox.sh
use_glassbox
say "cargo build --release -p glassbox-dashboard (the dashboard and the load generator)"
cargo build --release -p glassbox-dashboard --bin glassbox-dashboard --example hub_load
target=${CARGO_TARGET_DIR:-$(pwd)/target}/release
DASHBOARD=$target/glassbox-dashboard
LOAD=$target/examples/hub_load

work=$(mktemp -d /tmp/glassbox-bench-dashboard.XXXXXX)
root=$work/root
hub=$work/hub.sock
mkdir -p "$root"
port=${PORT:-17878}   # a port of its own: the demo's dashboard may hold 7878
addr=127.0.0.1:$port
dash_pid=

start_dashboard() {
    "$DASHBOARD" --hub "$hub" --listen "$addr" --root "$root" --no-probes > "$work/dashboard.out" 2>&1 &
    dash_pid=$!
    for _ in $(seq 100); do
        [ -S "$hub" ] && curl -sf "http://$addr/metrics" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "bench/dashboard.sh: the dashboard did not start: $(cat "$work/dashboard.out")" >&2
    exit 1
}
stop_dashboard() {
    [ -n "$dash_pid" ] || return 0
    kill -TERM "$dash_pid" 2>/dev/null || true
    wait "$dash_pid" 2>/dev/null || true
    dash_pid=
}
cleanup() {
    stop_dashboard
    "$GLASSBOX" --root "$root" delete --force bench-dashboard >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1, 2 and 3: latency, ingest, memory -----------------------------------------
start_dashboard
say "latency ($PROBES events), then ingest: $CONNS connections, $EVENTS events in all"
load=$("$LOAD" --hub "$hub" --http "$addr" --pid "$dash_pid" --connections "$CONNS" --events "$EVENTS" --probes "$PROBES")
echo "$load"
stop_dashboard
start_dashboard
say "ingest again, one line a message"
single=$("$LOAD" --hub "$hub" --http "$addr" --pid "$dash_pid" --connections "$CONNS" --events "$EVENTS" --probes 10 \
    --lines-per-message 1 | grep '^ingest')
echo "$single"

# --- 4: container start with and without the dashboard ----------------------------
bundle=$work/bundle
bash scripts/make-bundle.sh "$bundle" /bin/true >/dev/null
jq '.process.terminal = false' "$bundle/config.json" > "$work/config.json"
mv "$work/config.json" "$bundle/config.json"
# One timed start (microseconds, from bash's own clock: no process is
# forked to read it) with the hub socket $1, into the file $2.
start_once() {
    "$GLASSBOX" --root "$root" delete --force bench-dashboard 2>/dev/null || true
    rm -rf "$root/.events"
    sleep 0.02
    local t0=$EPOCHREALTIME
    "$GLASSBOX" --hub "$1" --root "$root" run --bundle "$bundle" bench-dashboard >/dev/null
    local t1=$EPOCHREALTIME
    echo $(( ${t1/./} - ${t0/./} )) >> "$2"
}
say "container start: $RUNS pairs, no hub and the dashboard taking the events, in turn"
mkdir -p bench/results
: > "$work/off.us"; : > "$work/on.us"
for i in $(seq "$WARMUP"); do start_once "$work/nobody-listens.sock" /dev/null; start_once "$hub" /dev/null; done
for i in $(seq "$RUNS"); do
    if (( i % 2 )); then
        start_once "$work/nobody-listens.sock" "$work/off.us"; start_once "$hub" "$work/on.us"
    else
        start_once "$hub" "$work/on.us"; start_once "$work/nobody-listens.sock" "$work/off.us"
    fi
done
jq -n --rawfile off "$work/off.us" --rawfile on "$work/on.us" '
    def us: split("\n") | map(select(. != "") | tonumber / 1e6);
    def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    {results: [{command: "no-hub", times: ($off | us)}, {command: "dashboard", times: ($on | us)}]
        | map(. + {median: (.times | median), mean: (.times | add / length)})}' > bench/results/dashboard-start.json
jq -r '.results[] | "  \(.command): median \(.median * 1000 * 100 | floor / 100) ms, mean \(.mean * 1000 * 100 | floor / 100) ms over \(.times | length) runs"' \
    bench/results/dashboard-start.json
received=$(curl -sf "http://$addr/metrics" | awk '/^glassbox_events_received_total/ {print $2}')
stop_dashboard

# --- summary ---------------------------------------------------------------------
median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' bench/results/dashboard-start.json; }
off=$(median no-hub)
on=$(median dashboard)
rate=$(sed -n 's/^ingest: .*: \([0-9]*\) events\/s$/\1/p' <<< "$load")
rate_single=$(sed -n 's/^ingest: .*: \([0-9]*\) events\/s$/\1/p' <<< "$single")
p99_quiet=$(sed -n 's/^latency quiet: .*p99 \([0-9.]*\) ms.*/\1/p' <<< "$load")
p99_flood=$(sed -n 's/^latency while flooded: .*p99 \([0-9.]*\) ms.*/\1/p' <<< "$load")
rss_kib=$(( $(sed -n 's/^memory: VmRSS \([0-9]*\) MiB.*/\1/p' <<< "$load") * 1024 ))
hwm_kib=$(( $(sed -n 's/^memory: .*VmHWM \([0-9]*\) MiB.*/\1/p' <<< "$load") * 1024 ))
echo
echo "dashboard figures (targets of issue 19):"
awk -v r="$rate" 'BEGIN { printf "  ingest             %10.0f events/s   (target >= 500000)  %s\n", r, ((r >= 500000) ? "met" : "NOT met") }'
awk -v r="$rate_single" 'BEGIN { printf "  (a line a message  %10.0f events/s)\n", r }'
awk -v k="$rss_kib" -v h="$hwm_kib" -v n="$EVENTS" 'BEGIN {
    printf "  memory, %d events  %10.1f MiB (peak %.1f)  (target <= 200)  %s\n", n, k / 1024, h / 1024, ((k / 1024 <= 200) ? "met" : "NOT met") }'
awk -v p="$p99_quiet" 'BEGIN { printf "  latency p99, quiet %10.2f ms         (target <= 100)  %s\n", p, ((p <= 100) ? "met" : "NOT met") }'
awk -v p="$p99_flood" 'BEGIN { printf "  latency p99, flood %10.2f ms         (target <= 100)  %s\n", p, ((p <= 100) ? "met" : "NOT met") }'
awk -v a="$on" -v b="$off" 'BEGIN {
    printf "  start with it      %+10.1f%% (%.2f ms vs %.2f ms)  (target <= +5%%)  %s\n", (a / b - 1) * 100, a * 1000, b * 1000, ((a / b <= 1.05) ? "met" : "NOT met") }'
echo "  (the dashboard took $received events from the timed starts)"
