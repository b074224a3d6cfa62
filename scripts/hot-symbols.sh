#!/usr/bin/env bash
# hot-symbols.sh — find the functions a container's life really runs, so the
# linker can put them side by side (runtime/link/hot-symbols.txt).
#
# Why: a runtime lives a few milliseconds. Every page of its code it touches
# is a page fault, and the kernel's fault-around maps the 16 neighbouring
# pages of the binary with it. Spread over the whole 2.7 MB of code, the few
# hundred functions a `run` needs drag nearly all of it into memory (peak RSS)
# and cost a fault for each 64 KiB window (time). Packed together, they fill
# a few windows only. runtime/build.rs hands the list to the linker (lld's
# --symbol-ordering-file); names missing from a build are skipped, so a stale
# list costs memory, never correctness.
#
# How, exactly, without a profiler:
#  1. build glassbox with every function aligned to its own 4 KiB page
#     (LLVM's -align-all-functions=12, given to the final LTO link only, so
#     every symbol keeps the name it has in a normal release build);
#  2. copy it onto a fresh ext4 image on a loop device whose read-ahead is 0
#     and mount it again, so none of the binary is in the page cache and a
#     page fault reads exactly the page it needs (fault-around maps only
#     pages already cached);
#  3. run the workload with that copy: `run` of /bin/true (on this
#     machine's cgroups, then with hugetlb as a v1 hierarchy, as
#     bench/run-true.sh has it), then a create/start/state/exec/kill/delete
#     round;
#  4. ask mincore(2) which pages of the file are cached now: those were
#     touched by some glassbox process (the runtime, the container's init,
#     hooks) — one function per page, so those are the functions that ran.
# The list is written in two parts, `run`'s functions first.
#
# Run as root after a toolchain or dependency update (symbol names carry a
# hash of the crate's build settings); it rebuilds target/release/glassbox
# normally at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
say() { printf '==> hot-symbols: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "hot-symbols.sh: run me as root (a loop device, a mount, containers)" >&2
    exit 1
fi
export PATH="$HOME/.cargo/bin:$PATH"
for tool in python3 nm readelf mkfs.ext4 losetup jq; do
    command -v "$tool" >/dev/null 2>&1 || { echo "hot-symbols.sh: needs $tool (python3, binutils, e2fsprogs, util-linux, jq)" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-$repo/target}
out=$repo/runtime/link/hot-symbols.txt

# shellcheck source=bench/hugetlb-v1.sh
source bench/hugetlb-v1.sh

work=$(mktemp -d /tmp/glassbox-hot.XXXXXX)
loop=""
cleanup() {
    restore_hugetlb
    [ -d "$work/root" ] && "$work/mnt/glassbox" --root "$work/root" delete --force hot-life >/dev/null 2>&1 || true
    mountpoint -q "$work/mnt" && umount "$work/mnt"
    [ -n "$loop" ] && losetup -d "$loop"
    rm -rf "$work"
}
trap cleanup EXIT

say "building glassbox with one function per page (-align-all-functions=12)"
# The ordering list must not apply to this build: build.rs reads this.
GLASSBOX_NO_HOT_ORDER=1 cargo rustc --release -p glassbox --bin glassbox -- -C llvm-args=-align-all-functions=12
cp "$target/release/glassbox" "$work/glassbox-aligned"

say "a cold copy on a loop device without read-ahead"
truncate -s 256M "$work/disk.img"
mkfs.ext4 -q "$work/disk.img"
loop=$(losetup -f --show "$work/disk.img")
echo 0 > "/sys/block/${loop#/dev/}/queue/read_ahead_kb"
mkdir "$work/mnt"
mount "$loop" "$work/mnt"
cp "$work/glassbox-aligned" "$work/mnt/glassbox"
umount "$work/mnt"
mount -o ro "$loop" "$work/mnt"
G=$work/mnt/glassbox

GLASSBOX=$work/glassbox-aligned bash scripts/make-bundle.sh "$work/bundle" /bin/true >/dev/null
jq '.process.terminal = false | .linux.cgroupsPath = "/glassbox-hot"' "$work/bundle/config.json" > "$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"

cached_pages() {
    python3 - "$G" <<'PY'
import ctypes, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
addr = libc.mmap(None, size, 1, 2, fd, 0)  # PROT_READ, MAP_PRIVATE
pages = (size + 4095) // 4096
vec = (ctypes.c_ubyte * pages)()
if libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size), vec) != 0:
    sys.exit("mincore failed: errno %d" % ctypes.get_errno())
print(" ".join(str(i) for i in range(pages) if vec[i] & 1))
PY
}

say "workload 1: run /bin/true, on this machine's cgroups and as the benchmark sees them"
"$G" --root "$work/root" run --bundle "$work/bundle" hot-run >/dev/null
move_hugetlb_to_v1
"$G" --root "$work/root" run --bundle "$work/bundle" hot-run >/dev/null
restore_hugetlb
cached_pages > "$work/pages-run"

say "workload 2: create, start, state, exec, kill, delete"
jq '.process.args = ["sleep", "30"]' "$work/bundle/config.json" > "$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"
"$G" --root "$work/root" create --bundle "$work/bundle" hot-life
"$G" --root "$work/root" start hot-life
"$G" --root "$work/root" state hot-life >/dev/null
"$G" --root "$work/root" exec hot-life true
"$G" --root "$work/root" list >/dev/null
"$G" --root "$work/root" kill hot-life KILL
for _ in $(seq 50); do
    "$G" --root "$work/root" state hot-life | grep -q '"stopped"' && break
    sleep 0.1
done
"$G" --root "$work/root" delete hot-life
cached_pages > "$work/pages-all"

say "pages → functions"
mkdir -p "$(dirname "$out")"
python3 - "$work/glassbox-aligned" "$work/pages-run" "$work/pages-all" "$out" <<'PY'
import subprocess, sys
binary, run_file, all_file, out = sys.argv[1:5]
pages_run = set(int(p) for p in open(run_file).read().split())
pages_all = set(int(p) for p in open(all_file).read().split())
# Loadable segments: a symbol's address → its offset in the file.
segments = []
for line in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if f and f[0] == "LOAD":
        offset, vaddr, filesz = int(f[1], 16), int(f[2], 16), int(f[4], 16)
        segments.append((vaddr, vaddr + filesz, offset))
def file_pages(addr, size):
    for start, end, offset in segments:
        if start <= addr < end:
            first = addr - start + offset
            return range(first // 4096, (first + size - 1) // 4096 + 1)
    return range(0)
functions = []
for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4 and f[2] in "tT" and int(f[1], 16) > 0:
        functions.append((int(f[0], 16), int(f[1], 16), f[3]))
functions.sort()
run, rest, seen = [], [], set()
for addr, size, name in functions:
    pages = file_pages(addr, size)
    if name in seen:
        continue
    if any(p in pages_run for p in pages):
        run.append((name, size)); seen.add(name)
    elif any(p in pages_all for p in pages):
        rest.append((name, size)); seen.add(name)
with open(out, "w") as f:
    f.write("".join(name + "\n" for name, _ in run + rest))
kib = lambda part: sum(size for _, size in part) // 1024
total = sum(size for _, size, _ in functions) // 1024
print(f"{len(run)} functions ({kib(run)} KiB) run /bin/true, {len(rest)} more ({kib(rest)} KiB) the other verbs, "
      f"of {len(functions)} ({total} KiB) → {out}")
PY

say "rebuilding target/release/glassbox with the new order"
cargo build --release -p glassbox
