#!/usr/bin/env bash
# The cgroup v2 end-to-end check. This machine's own cgroups are a v1/v2
# hybrid it cannot leave, so the check boots Debian's kernel under qemu with
# cgroup v1 switched off (cgroup_no_v1=all), in a VM whose whole root
# filesystem is an initramfs built here: busybox, the glassbox binary with
# its shared libraries, bundles, and guest-checks.sh as the VM's init.
# Usage: tests/vm/cgroup-v2.sh GLASSBOX_BINARY   (as root; prints the guest's report)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
glassbox=$(realpath "${1:?usage: cgroup-v2.sh GLASSBOX_BINARY}")
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "cgroup-v2.sh: no /boot/vmlinuz-*: install linux-image-amd64 (scripts/setup.sh does)" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "cgroup-v2.sh: install qemu-system-x86 (scripts/setup.sh does)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,etc,newroot}

# busybox with relative applet links (its --install would point at the host's path).
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
# glassbox and the shared libraries it needs, at the same paths as here.
cp "$glassbox" "$root/glassbox"
for lib in $(ldd "$glassbox" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
# The dashboard, beside it as `glassbox dashboard` looks for it: its cgroup
# sampler is checked on pure v2 here (the host is hybrid).
dashboard=$(dirname "$glassbox")/glassbox-dashboard
if [ -x "$dashboard" ]; then
    cp "$dashboard" "$root/glassbox-dashboard"
    for lib in $(ldd "$dashboard" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
fi

# Bundles: a busybox rootfs each, config.json from `glassbox spec`, edited with jq.
make_bundle() { # NAME JQ-FILTER [SPEC-FLAG]
    local dir=$root/bundles/$1
    mkdir -p "$dir/rootfs"/{bin,proc,sys,dev,tmp,etc}
    cp /bin/busybox "$dir/rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"; done
    (cd "$dir" && "$glassbox" spec ${3:-})
    jq "$2" "$dir/config.json" > "$dir/config.tmp" && mv "$dir/config.tmp" "$dir/config.json"
}
make_bundle limits '.process.args = ["sleep", "300"]
  | .linux.resources = {"memory": {"limit": 67108864, "swap": 67108864}, "pids": {"limit": 20},
                        "cpu": {"quota": 50000, "period": 100000, "shares": 1024}}'
make_bundle oom '.process.args = ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr \"\\\\0\" a); echo survived"]
  | .linux.resources = {"memory": {"limit": 33554432, "swap": 33554432}}'
make_bundle spin '.process.args = ["sh", "-c", "while :; do :; done"]
  | .linux.resources = {"cpu": {"quota": 10000, "period": 100000}}'
make_bundle oomchild '.process.args = ["sleep", "300"]
  | .linux.resources = {"memory": {"limit": 33554432, "swap": 33554432}}'
make_bundle oomlate '.process.args = ["sh", "-c", "sleep 2; x=$(head -c 200000000 /dev/zero | tr \"\\\\0\" a)"]
  | .linux.resources = {"memory": {"limit": 33554432, "swap": 33554432}}'
make_bundle forklate '.process.args = ["sh", "-c", "sleep 2; sh -c '\''for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done'\'' 2>/dev/null; exec sleep 30"]
  | .linux.resources = {"pids": {"limit": 5}}'
make_bundle forkbomb '.process.args = ["sh", "-c", "seq 30 | while read i; do sleep 5 & done 2>&1; echo init alive"]
  | .linux.resources = {"pids": {"limit": 10}}'
# /dev/kmsg (c 1:11) is not among the devices every container gets.
kmsg='.process.args = ["sh", "-c", "head -c1 /dev/kmsg >/dev/null 2>&1 && echo kmsg-open || echo kmsg-denied; cat /dev/null && echo null-ok"]
  | .linux.devices = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 292}]
  | .process.capabilities.bounding += ["CAP_SYSLOG"] | .process.capabilities.effective += ["CAP_SYSLOG"]
  | .process.capabilities.permitted += ["CAP_SYSLOG"]'
make_bundle devices-deny "$kmsg"' | .linux.resources = {"devices": [{"allow": false, "access": "rwm"}]}'
make_bundle devices-allow "$kmsg"' | .linux.resources = {"devices": [{"allow": true, "access": "rwm"}]}'
# The default spec as it is ("deny all", then the rules every container
# gets): making a node is allowed, opening it is not (write-only: that
# open of /dev/kmsg needs no capability, only the cgroup can refuse it).
make_bundle devices-default '.process.args = ["sh", "-c", "mknod /dev/kmsg2 c 1 11 && echo mknod-ok; ( : > /dev/kmsg2 ) 2>/dev/null && echo kmsg-open || echo kmsg-denied; echo x > /dev/null && echo null-ok"]
  | .process.capabilities.bounding += ["CAP_MKNOD"] | .process.capabilities.effective += ["CAP_MKNOD"]
  | .process.capabilities.permitted += ["CAP_MKNOD"]'
echo '{"memory": {"swappiness": 10}}' > "$root/bundles/swappiness.json"
# Rootless with a delegated cgroup2 subtree: the guest's user rl (uid 1000)
# runs it, its cgroup in /deleg, which the guest hands to rl as systemd
# hands a user's session its subtree.
make_bundle rootless '.process.args = ["sleep", "300"]
  | .linux.uidMappings = [{"containerID": 0, "hostID": 1000, "size": 1}]
  | .linux.gidMappings = [{"containerID": 0, "hostID": 1000, "size": 1}]
  | .linux.cgroupsPath = "/deleg/rl" | .linux.resources = {"pids": {"limit": 20}}' --rootless
printf 'root:x:0:0:root:/:/bin/sh\nrl:x:1000:1000:rootless:/tmp:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nrl:x:1000:\n' > "$root/etc/group"
cp "$here/guest-checks.sh" "$root/guest-checks.sh"

# /init: pivot_root cannot leave the initramfs (rootfs), so copy it onto a
# tmpfs and switch_root there first; then mount a pure cgroup2 hierarchy.
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
if [ "$$" = 1 ] && [ ! -e /proc/self/../1/root/.on-tmpfs ]; then
    mount -t tmpfs -o size=900m tmpfs /newroot
    for d in /*; do [ "$d" = /newroot ] || [ "$d" = /proc ] || cp -a "$d" /newroot/; done
    mkdir -p /newroot/proc /newroot/newroot && touch /newroot/.on-tmpfs
    umount /proc
    exec switch_root /newroot /init
fi
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
sh /guest-checks.sh
echo "guest: done"
poweroff -f
INIT
chmod +x "$root/init" "$root/guest-checks.sh"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

accel=tcg
if [ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo; then accel=kvm; fi
timeout 600 qemu-system-x86_64 -accel "$accel" -m 1536 -smp 2 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all rdinit=/init" </dev/null | tr -d '\r' | tee "$work/console.log"
grep -q "^guest: done" "$work/console.log" || { echo "cgroup-v2.sh: the VM did not finish its checks" >&2; exit 1; }
