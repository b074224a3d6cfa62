#!/usr/bin/env bash
# The README's main job: on a fresh Debian machine, as root, build glassbox
# and run one container that shows what it is made of — its own hostname,
# user, pid 1, mounts and capabilities — then remove every trace of it.
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

say "cargo build --release"
cargo build --release -p glassbox
export GLASSBOX=${GLASSBOX:-${CARGO_TARGET_DIR:-$repo/target}/release/glassbox}

work=$(mktemp -d /tmp/glassbox-demo.XXXXXX)
id=glassbox-demo-$$
cleanup() {
    # `run` deletes the container when it exits; this only matters if the
    # demo was interrupted half-way.
    "$GLASSBOX" delete --force "$id" >/dev/null 2>&1 || true
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
# each stage; the dashboard comes with a later issue.)
say "glassbox run --explain --bundle $work/bundle $id"
"$GLASSBOX" run --explain --bundle "$work/bundle" "$id"

say "after exit: the container is gone ('glassbox list' is empty of it), and so is $work"
"$GLASSBOX" list
say "its record is kept: /run/glassbox/.events/$id.jsonl ($(wc -l < "/run/glassbox/.events/$id.jsonl") events; replay: glassbox events --follow $id)"
