#!/usr/bin/env bash
# The dashboard's cost, as issue 19 asks for it: events ingested per second
# from 50 concurrent runtime connections, memory held with 1 million
# events in store, and event-to-browser latency (an SSE client's, quiet and
# while the hub is flooded). Not a timed test: figures for the notes.
#
#   bash bench/dashboard.sh [EVENTS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
connections=${2:-50}
cargo build --release -q -p glassbox-dashboard --bin glassbox-dashboard --example hub_load
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/glassbox-dashboard --hub "$dir/hub.sock" --listen "127.0.0.1:$port" --root "$dir/root" 2>/dev/null &
dashboard=$!
trap 'kill $dashboard 2>/dev/null; wait $dashboard 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/hub.sock" ] && break; sleep 0.05; done
sleep 0.2
echo "dashboard pid $dashboard; memory before: $(grep VmRSS /proc/$dashboard/status)"
target/release/examples/hub_load --hub "$dir/hub.sock" --http "127.0.0.1:$port" --pid "$dashboard" \
  --connections "$connections" --events "$events"
