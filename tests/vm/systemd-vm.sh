#!/usr/bin/env bash
# The systemd end-to-end check. This machine's PID 1 is not systemd, so the
# check boots a Debian VM whose init is systemd, on pure cgroup v2 or on
# systemd's hybrid layout (v1 controllers, systemd's own cgroup2 tree — this
# machine's layout) (the root filesystem is built once and cached by
# systemd-image.sh), and runs
# guest-systemd-checks.sh there: glassbox --systemd-cgroup by hand, and
# podman with its default cgroup manager (systemd) and glassbox as its
# runtime. glassbox, the checks and a busybox root filesystem come on a
# second small disk made here for each run; the guest prints its report on
# its second serial port, which this script prints.
# Usage: tests/vm/systemd-vm.sh GLASSBOX_BINARY [v2|hybrid]   (as root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
glassbox=$(realpath "${1:?usage: systemd-vm.sh GLASSBOX_BINARY [v2|hybrid]}")
case "${2:-v2}" in
    v2) unified=1 ;;
    hybrid) unified=0 ;;
    *) echo "systemd-vm.sh: the layout is v2 or hybrid, not $2" >&2; exit 2 ;;
esac
command -v qemu-system-x86_64 >/dev/null || { echo "systemd-vm.sh: install qemu-system-x86 (scripts/setup.sh does)" >&2; exit 1; }

image=$(bash "$here/systemd-image.sh" | tail -1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run=$work/run
mkdir -p "$run"
# The binary without its debug sections (a debug build is mostly those).
objcopy --strip-debug "$glassbox" "$run/glassbox"
cp "$here/guest-systemd-checks.sh" "$run/run.sh"
# A busybox root filesystem, as a directory for bundles and as a tarball
# for `podman import` (the VM has no network, so no registry).
rootfs=$run/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/:/bin/sh\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\n' > "$rootfs/etc/group"
tar -C "$rootfs" -cf "$run/rootfs.tar" .
size_mb=$(( $(du -sm "$run" | cut -f1) + 32 ))
mke2fs -q -t ext4 -L gbrun -d "$run" "$work/run.img" "${size_mb}M" >/dev/null

accel=tcg
if [ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo; then accel=kvm; fi
started=$(date +%s)
# The root disk is opened with snapshot=on: the guest's writes go to a
# temporary file and the cached image stays as built.
status=0
timeout 600 qemu-system-x86_64 -accel "$accel" -m 2048 -smp 2 -display none -no-reboot -monitor none \
    -serial "file:$work/console.log" -serial "file:$work/report.log" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=LABEL=gbroot rw console=ttyS0 panic=-1 systemd.unified_cgroup_hierarchy=$unified systemd.show_status=0" \
    -drive "file=$image/rootfs.img,format=raw,if=virtio,snapshot=on" \
    -drive "file=$work/run.img,format=raw,if=virtio,readonly=on" </dev/null || status=$?
tr -d '\r' < "$work/report.log"
echo "systemd-vm.sh: the VM ran $(( $(date +%s) - started )) s (accel $accel)"
if [ "$status" -ne 0 ] || ! grep -q "^guest: done" "$work/report.log"; then
    echo "systemd-vm.sh: the VM did not finish its checks (qemu exit $status); its console:" >&2
    tr -d '\r' < "$work/console.log" | tail -60 >&2
    exit 1
fi
