#!/usr/bin/env bash
# make-bundle.sh DIR [ARGS...]
#
# Builds an OCI bundle at DIR — the two things a runtime needs:
#   DIR/rootfs/     the container's root filesystem: Debian's static busybox
#                   and one symlink per applet (sh, ls, cat, ps, mount …)
#   DIR/config.json from `glassbox spec`; with ARGS, process.args = ARGS
# Re-running it rebuilds config.json and refreshes the rootfs in place.
# glassbox is $GLASSBOX, else target/release/glassbox of this repository.
set -euo pipefail

say() { printf '==> make-bundle: %s\n' "$*"; }

if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [ARGS...]   (ARGS become process.args, e.g. /bin/true)" >&2
    exit 2
fi
dir=$1
shift

repo=$(cd "$(dirname "$0")/.." && pwd)
glassbox=${GLASSBOX:-${CARGO_TARGET_DIR:-$repo/target}/release/glassbox}
if [ ! -x "$glassbox" ]; then
    echo "make-bundle.sh: no glassbox binary at $glassbox: run 'cargo build --release' or set GLASSBOX=/path/to/glassbox" >&2
    exit 1
fi
# A dynamic busybox would need the host's libc inside the rootfs; ldd
# fails on a static binary, which is what we want.
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    echo "make-bundle.sh: /bin/busybox is missing or not static: run scripts/setup.sh (it installs busybox-static)" >&2
    exit 1
fi

rootfs=$dir/rootfs
say "rootfs at $rootfs"
mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,tmp,root}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
cp /bin/busybox "$rootfs/bin/busybox"
# One symlink per applet: busybox looks at the name it was called by
# (argv[0]) to know which tool to be. `busybox --install -s` would do this,
# but it points each link at its own absolute path, which on Debian's merged
# /usr is /usr/bin/busybox — absent from this rootfs. Relative links work
# wherever the rootfs is mounted.
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sfn busybox "$rootfs/bin/$applet"
done

# Just enough user database for `id`, `ps` and `ls -l` to print names.
cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP

say "config.json from $glassbox spec"
rm -f "$dir/config.json"
"$glassbox" spec --bundle "$dir"
if [ $# -gt 0 ]; then
    say "process.args = $*"
    tmp=$(mktemp "$dir/config.json.XXXXXX")
    # `--` stops jq reading options, so ARGS like `-c` reach the container.
    jq '.process.args = $ARGS.positional' "$dir/config.json" --args -- "$@" > "$tmp"
    mv "$tmp" "$dir/config.json"
fi
say "bundle ready: $dir"
