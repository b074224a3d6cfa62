#!/usr/bin/env bash
# Remakes fuzz/seeds/ — where each fuzz target starts from — out of real
# inputs, as root, with glassbox built (target/debug) and its eBPF probes:
#   config/         `glassbox spec`, `glassbox spec --rootless`, and the
#                   reference bundle of tests/tests/events_sequence.rs (nearly
#                   every field a container uses)
#   event_line/     lines of that bundle's record from `glassbox run --trace`:
#                   one of each (source, type, stage, action or syscall)
#   kernel_record/  the ring buffer's raw records of the same run (see
#                   ebpf-probes/loader/src/tracer/capture_seeds.rs)
# The seeds are committed; rerun this when a format changes (a new field, a
# new record kind) and review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

say() { printf '==> make-seeds: %s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { echo "fuzz/make-seeds.sh: run me as root (containers, eBPF)" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"

say "cargo build -p glassbox"
cargo build -q -p glassbox
glassbox=$repo/target/debug/glassbox
work=$(mktemp -d /tmp/glassbox-seeds.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The reference bundle maps the container's root to uid 100000, which must
# be able to reach its rootfs: mktemp made the directory 0700.
chmod 0755 "$work"
seeds=$repo/fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{config,event_line,kernel_record}

say "config seeds"
mkdir -p "$work/spec" "$work/rootless"
"$glassbox" spec --bundle "$work/spec" && cp "$work/spec/config.json" "$seeds/config/default.json"
"$glassbox" spec --rootless --bundle "$work/rootless" && cp "$work/rootless/config.json" "$seeds/config/rootless.json"
GLASSBOX=$glassbox bash scripts/make-bundle.sh "$work/box" /bin/true >/dev/null
# The reference bundle (tests/tests/events_sequence.rs), in jq.
jq '
  .linux.namespaces = ([.linux.namespaces[] | select(.type | IN("pid","network","ipc","uts","mount","cgroup","user") | not)]
                       + [{type:"pid"},{type:"network"},{type:"ipc"},{type:"uts"},{type:"mount"},{type:"cgroup"},{type:"user"}])
  | .linux.uidMappings = [{containerID:0, hostID:100000, size:65536}]
  | .linux.gidMappings = [{containerID:0, hostID:100000, size:65536}]
  | .hostname = "reference"
  | .linux.sysctl = {"net.ipv4.ip_forward": "1"}
  | .process.rlimits = [{type:"RLIMIT_NOFILE", soft:512, hard:1024}]
  | .linux.maskedPaths = ["/proc/acpi", "/proc/keys"]
  | .linux.readonlyPaths = ["/proc/sys"]
  | .linux.resources = {memory:{limit:67108864}, devices:[{allow:false, access:"rwm"}]}
  | .linux.seccomp = {defaultAction:"SCMP_ACT_ALLOW", architectures:["SCMP_ARCH_X86_64"],
                      syscalls:[{names:["mkdir","mkdirat"], action:"SCMP_ACT_ERRNO", errnoRet:1}]}
  | .hooks = {prestart:[{path:"/bin/true", args:["true"]}]}
' "$work/box/config.json" > "$work/reference.json"
mv "$work/reference.json" "$work/box/config.json"
cp "$work/box/config.json" "$seeds/config/reference.json"
# What podman hands a runtime (its seccomp profile, resources, annotations),
# caught by a wrapper around runc on its way to `create`.
if command -v podman >/dev/null && command -v runc >/dev/null; then
    cat > "$work/catch-config" <<CATCH
#!/bin/sh
prev=
for a in "\$@"; do
    [ "\$prev" = --bundle ] && cp "\$a/config.json" "$seeds/config/podman.json"
    prev=\$a
done
exec runc "\$@"
CATCH
    chmod +x "$work/catch-config"
    podman run --rm --runtime "$work/catch-config" --cgroup-manager cgroupfs --network none \
        --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --memory 64m --memory-swap 128m \
        --cpu-shares 512 --cpus 0.5 --pids-limit 100 --hostname fuzzbox --cap-drop NET_RAW \
        --security-opt no-new-privileges --rootfs "$work/box/rootfs" /bin/true >/dev/null ||
        say "podman run failed: no podman seed"
else
    say "no podman or runc: no podman seed"
fi

say "event line seeds (glassbox run --trace of the reference bundle)"
"$glassbox" --root "$work/root" run --trace --bundle "$work/box" seed-lines >/dev/null 2>"$work/trace.err" ||
    { tail -n 5 "$work/trace.err" >&2; exit 1; }
record=$work/root/.events/seed-lines.jsonl
[ -s "$record" ] || { echo "fuzz/make-seeds.sh: no record at $record" >&2; exit 1; }
n=0
while IFS= read -r line; do
    key=$(jq -r '[.source, .type, (.stage // ""), (.action // .name // .change // "")] | join("-")' <<<"$line")
    file=$seeds/event_line/${key//[^a-zA-Z0-9_-]/_}.json
    [ -e "$file" ] || { printf '%s\n' "$line" > "$file"; n=$((n + 1)); }
done < "$record"
say "$n event lines"

say "kernel record seeds (the raw ring of a glassbox run)"
GLASSBOX_SEED_DIR=$seeds/kernel_record \
GLASSBOX_SEED_COMMAND="$glassbox --root $work/root run --bundle $work/box seed-records" \
    cargo test -q -p glassbox-probes --lib -- --ignored --exact tracer::capture_seeds::capture_kernel_record_seeds
say "seeds: $(find "$seeds" -type f | wc -l) files in fuzz/seeds"
