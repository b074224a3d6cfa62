#!/usr/bin/env bash
# The root filesystem of the systemd test VM: Debian 12 with systemd as PID 1,
# dbus, podman (with conmon, crun and runc) and the kernel that boots it,
# built from Debian's packages with mmdebstrap. It is big (~1 GiB) and slow to
# make (minutes), so it is built once into a cache directory keyed by a hash
# of everything that goes into it, and reused until that recipe changes.
# Nothing of glassbox is in it: each run brings the binary and its checks on a
# second, small disk (systemd-vm.sh), so rebuilding glassbox never rebuilds this.
#
# Usage: tests/vm/systemd-image.sh   (as root) — prints the cache directory,
# which holds rootfs.img (raw ext4), vmlinuz and initrd.img.
# GLASSBOX_VM_CACHE overrides the cache's parent (default /var/cache/glassbox-vm).
set -euo pipefail
command -v mmdebstrap >/dev/null || { echo "systemd-image.sh: install mmdebstrap (scripts/setup.sh does)" >&2; exit 1; }
command -v mke2fs >/dev/null || { echo "systemd-image.sh: install e2fsprogs (scripts/setup.sh does)" >&2; exit 1; }

SUITE=bookworm
MIRROR="http://deb.debian.org/debian"
#   systemd systemd-sysv dbus   PID 1 and the system bus the systemd driver talks to
#   linux-image-amd64 initramfs-tools kmod udev   a kernel whose modules match the root
#   podman conmon crun runc      the engine (and runc, crun to compare with)
#   busybox-static jq procps iproute2 util-linux e2fsprogs   what the checks use
PACKAGES="systemd systemd-sysv dbus udev kmod linux-image-amd64 initramfs-tools
podman conmon crun runc golang-github-containers-common
busybox-static jq procps iproute2 util-linux e2fsprogs"

# The one unit baked in: at the end of boot, mount the disk labelled gbrun
# (made for each run by systemd-vm.sh) and run its run.sh, whose output goes
# to the second serial port; then power off, whatever happened.
read -r -d '' RUNNER_UNIT <<'UNIT' || true
[Unit]
Description=glassbox checks from the disk labelled gbrun
DefaultDependencies=no
After=multi-user.target dbus.service
Wants=dbus.service
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
TimeoutStartSec=infinity
ExecStart=/bin/sh -c 'mkdir -p /gbrun && mount -o ro LABEL=gbrun /gbrun && exec /bin/sh /gbrun/run.sh >/dev/ttyS1 2>&1'

[Install]
WantedBy=multi-user.target
UNIT

key=$(printf '%s\n%s\n%s\n%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "$RUNNER_UNIT" | sha256sum | cut -c1-16)
cache=${GLASSBOX_VM_CACHE:-/var/cache/glassbox-vm}/systemd-$SUITE-$key
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9   # two test runs at once: the second waits for the first's image
if [ -f "$cache/complete" ]; then
    echo "$cache"
    exit 0
fi

started=$(date +%s)
echo "systemd-image.sh: building $cache (mmdebstrap $SUITE; takes minutes, once)" >&2
work=$(mktemp -d "$(dirname "$cache")/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
unit_file=$work/glassbox-vm.service
printf '%s\n' "$RUNNER_UNIT" > "$unit_file"
# One more try if the first fails: a mirror's passing hiccup should not fail a test run.
build() {
    rm -rf "$root"
    # shellcheck disable=SC2086
    mmdebstrap --variant=apt --aptopt='APT::Install-Recommends "false"' \
        --include="$(echo $PACKAGES | tr ' ' ',')" \
        --customize-hook="copy-in $unit_file /etc/systemd/system" \
        --customize-hook='chroot "$1" systemctl enable glassbox-vm.service' \
        --customize-hook='chroot "$1" systemctl mask serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer' \
        --customize-hook='echo glassbox-vm > "$1/etc/hostname"' \
        --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
        "$SUITE" "$root" "$MIRROR" >&2
}
build || { echo "systemd-image.sh: mmdebstrap failed; trying once more" >&2; sleep 5; build; }

mkdir -p "$work/out"
cp -L "$root"/boot/vmlinuz-* "$work/out/vmlinuz"
cp -L "$root"/boot/initrd.img-* "$work/out/initrd.img"
size_mb=$(( $(du -sm "$root" | cut -f1) + 768 ))
mke2fs -q -t ext4 -L gbroot -d "$root" "$work/out/rootfs.img" "${size_mb}M" >&2
touch "$work/out/complete"
rm -rf "$cache"
mv "$work/out" "$cache"
echo "systemd-image.sh: built in $(( $(date +%s) - started )) s" >&2
echo "$cache"
