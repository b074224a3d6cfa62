#!/usr/bin/env bash
# The README's main job: on a fresh Debian machine, as root, build glassbox,
# start the dashboard (left running: its URL is the last thing printed), and
# run one container under --explain that shows what it is made of — its own
# hostname, user, pid 1, mounts and capabilities — then one traced container
# that runs out of memory, for the dashboard's trace and cgroup views. The
# containers are removed; their records stay, and the dashboard shows them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n==> demo: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/demo.sh: run me as root: making a container needs namespaces, mounts and cgroups" >&2
    exit 1
fi

bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

say "cargo build --release (glassbox, and glassbox-dashboard beside it)"
cargo build --release -p glassbox -p glassbox-dashboard
export GLASSBOX=${GLASSBOX:-${CARGO_TARGET_DIR:-$repo/target}/release/glassbox}
URL=http://127.0.0.1:7878/

# The dashboard: the hub every runtime sends its events to, holding the
# eBPF probes `--trace` registers with. Started unless one already answers,
# and left running after the demo: `kill $(cat /run/glassbox-dashboard/dashboard.pid)`
# stops it. It would also start by itself as `glassbox dashboard &`.
if curl -sf "${URL}api/containers" >/dev/null 2>&1; then
    say "the dashboard already runs at $URL"
else
    say "glassbox dashboard (log: /run/glassbox-dashboard/dashboard.log)"
    # Its log and pid beside, not in, the state root: that holds containers only.
    mkdir -p /run/glassbox-dashboard
    setsid "$GLASSBOX" dashboard > /run/glassbox-dashboard/dashboard.log 2>&1 < /dev/null &
    echo $! > /run/glassbox-dashboard/dashboard.pid
    for _ in $(seq 100); do
        curl -sf "${URL}api/containers" >/dev/null 2>&1 && [ -S /run/glassbox/hub.sock ] && break
        sleep 0.1
    done
    curl -sf "${URL}api/containers" >/dev/null || { cat /run/glassbox-dashboard/dashboard.log >&2; exit 1; }
    sed 's/^/    /' /run/glassbox-dashboard/dashboard.log
fi

work=$(mktemp -d /tmp/glassbox-demo.XXXXXX)
id=glassbox-demo-$$
oom=glassbox-demo-oom-$$
cleanup() {
    # `run` deletes the container when it exits; this only matters if the
    # demo was interrupted half-way.
    "$GLASSBOX" delete --force "$id" >/dev/null 2>&1 || true
    "$GLASSBOX" delete --force "$oom" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

say "a busybox bundle in $work/bundle"
bash scripts/make-bundle.sh "$work/bundle" /bin/sh /demo.sh

# What the container runs: each line looks at one part of the isolation.
cat > "$work/bundle/rootfs/demo.sh" <<'SCRIPT'
echo "hostname: $(hostname)   (its own UTS namespace; config.json's \"hostname\")"
echo "user:     $(id)"
echo "my pid:   $$   (pid 1: the first process of its own PID namespace)"
echo
echo "processes it can see:"
ps
echo
echo "its mounts (its own mount namespace; / is the bundle's rootfs):"
cat /proc/self/mounts
echo
echo "its capabilities (bit masks: a small set; decode on the host with capsh --decode=HEX):"
grep Cap /proc/self/status
SCRIPT

# --explain narrates each stage on stderr as glassbox makes the container:
# what it did, the config.json field behind it, the syscall, the shell
# equivalent and how to check it from outside. (--step would pause before
# each stage.) Its events also reach the dashboard, as they happen.
say "glassbox run --explain --bundle $work/bundle $id"
"$GLASSBOX" run --explain --bundle "$work/bundle" "$id"

say "after exit: the container is gone ('glassbox list' is empty of it), and so is $work"
"$GLASSBOX" list
say "its record is kept: /run/glassbox/.events/$id.jsonl ($(wc -l < "/run/glassbox/.events/$id.jsonl") events; replay: glassbox events --follow $id)"

# A second container for the dashboard's other views: traced (every syscall,
# through the dashboard's probes), with a 32 MiB memory limit that a subshell
# runs past by doubling a string — the kernel's OOM killer ends it, and the
# cgroup chart marks the moment, tied to the killed process's exit in the
# trace. (A subshell, so the container lives on a second after: a killed
# init would end the container at once, and its cgroup could be gone before
# the dashboard read the OOM count. The two seconds first let the
# dashboard's once-a-second sampler meet the cgroup.)
say "a traced container whose subshell runs out of memory: $oom"
bash scripts/make-bundle.sh "$work/oom" /bin/sh -c \
    'sleep 2; (x=y; while :; do x=$x$x; done); echo "the subshell ended with status $? (137: SIGKILL)"; sleep 1' >/dev/null
jq '.process.terminal = false | .linux.resources.memory = {limit: 33554432, swap: 33554432}' \
    "$work/oom/config.json" > "$work/config.json" && mv "$work/config.json" "$work/oom/config.json"
trace=()
[ -e /sys/fs/bpf/glassbox/OWNERS ] && trace=(--trace=execve,exit_group)
"$GLASSBOX" run "${trace[@]}" --bundle "$work/oom" "$oom"

say "the dashboard keeps running: open $URL in a browser (its containers: $id, $oom)"
echo "    API: curl -s ${URL}api/containers    metrics: curl -s ${URL}metrics"
echo "    stop it: kill \$(cat /run/glassbox-dashboard/dashboard.pid)"
