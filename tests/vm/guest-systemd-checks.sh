#!/bin/sh
# Runs inside the systemd test VM (systemd-vm.sh), as root, with systemd as
# PID 1, on pure cgroup v2 or on systemd's hybrid layout (v1 controllers,
# systemd's own tree in cgroup2 at /sys/fs/cgroup/unified — this build
# machine's layout): glassbox --systemd-cgroup by hand, then podman with its
# default cgroup manager (systemd) and glassbox as its runtime.
# Prints one "ok"/"not ok" line per check and a last line "N passed, M failed".
R=/gbrun
GB=$R/glassbox
G="$GB --root /run/glassbox --systemd-cgroup"
pass=0
fail=0
check() { # check NAME CONDITION-COMMAND...
    name=$1; shift
    if "$@" >/tmp/check.out 2>&1; then
        pass=$((pass + 1)); echo "ok - $name"
    else
        fail=$((fail + 1)); echo "not ok - $name"; sed 's/^/    /' /tmp/check.out
    fi
}
is() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }
prop() { systemctl show -p "$2" --value "$1"; } # prop UNIT PROPERTY

# What differs between the layouts: where a controller's files are, their
# names, and the names of systemd's properties.
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
    LAYOUT=v2
    cgdir() { echo "/sys/fs/cgroup/$2"; }              # cgdir CONTROLLER RELATIVE-PATH
    MEMPROP=MemoryMax MEMFILE=memory.max
    CPUPROP=CPUWeight CPUPROPVALUE=39
    BURSTFILE=cpu.max.burst
    quota() { cat "$1/cpu.max"; }
    QUOTA="50000 100000"
else
    LAYOUT=hybrid
    cgdir() { echo "/sys/fs/cgroup/$1/$2"; }
    MEMPROP=MemoryLimit MEMFILE=memory.limit_in_bytes
    CPUPROP=CPUShares CPUPROPVALUE=1024
    BURSTFILE=cpu.cfs_burst_us
    quota() { echo "$(cat "$1/cpu.cfs_quota_us") $(cat "$1/cpu.cfs_period_us")"; }
    QUOTA="50000 100000"
fi
# gone UNIT RELATIVE-PATH: systemd has forgotten the unit (it collects a
# stopped scope soon after) and no hierarchy has its cgroup any more.
gone_now() {
    ! systemctl is-active -q "$1" && [ -z "$(systemctl list-units --all --plain --no-legend "$1")" ] &&
        [ ! -e "/sys/fs/cgroup/$2" ] && ! ls -d /sys/fs/cgroup/*/"$2" >/dev/null 2>&1
}
gone() {
    for i in $(seq 20); do gone_now "$1" "$2" && return 0; sleep 0.25; done
    systemctl status "$1"; ls -d "/sys/fs/cgroup/$2" /sys/fs/cgroup/*/"$2"; return 1
}

# A busybox root filesystem to copy into bundles (the run disk is read-only).
cp -a $R/rootfs /var/tmp/rootfs
make_bundle() { # NAME JQ-FILTER
    mkdir -p /var/tmp/b/$1
    cp -a /var/tmp/rootfs /var/tmp/b/$1/rootfs
    (cd /var/tmp/b/$1 && $GB spec)
    jq "$2" /var/tmp/b/$1/config.json > /var/tmp/b/$1/c.json && mv /var/tmp/b/$1/c.json /var/tmp/b/$1/config.json
}
make_bundle limits '.process.args = ["sleep", "300"] | .process.terminal = false
  | .linux.cgroupsPath = "machine.slice:gbtest:lim"
  | .linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 20},
                        "cpu": {"quota": 50000, "period": 100000, "shares": 1024, "burst": 10000}}'
make_bundle plain '.process.args = ["sleep", "300"] | .process.terminal = false'
make_bundle echo '.process.args = ["sh", "-c", "echo hello; grep -v \":/$\" /proc/self/cgroup"] | .process.terminal = false
  | .linux.cgroupsPath = "machine.slice:gbtest:echo"'
make_bundle killed '.process.args = ["sleep", "300"] | .process.terminal = false
  | .linux.cgroupsPath = "machine.slice:gbtest:kf" | .linux.resources = {"pids": {"limit": 20}}'
make_bundle badpath '.process.args = ["true"] | .process.terminal = false | .linux.cgroupsPath = "/not/systemd"'

echo "# cgroup layout: $LAYOUT"
check "PID 1 is systemd" is "$(cat /proc/1/comm)" "systemd"
if [ $LAYOUT = v2 ]; then
    check "the host is pure cgroup v2" sh -c "! grep -q ' cgroup ' /proc/mounts"
else
    check "the host is hybrid: v1 controllers, systemd's cgroup2 tree at unified" is \
        "$(stat -f -c %T /sys/fs/cgroup/memory) $(stat -f -c %T /sys/fs/cgroup/unified)" "cgroupfs cgroup2fs"
fi
check "glassbox features says systemd" sh -c "$GB features | jq -e '.linux.cgroup.systemd == true'"

# --- glassbox --systemd-cgroup by hand -----------------------------------------
U=gbtest-lim.scope
S=machine.slice/$U
$G run -d -b /var/tmp/b/limits lim
check "run -d: the scope is active" systemctl is-active -q $U
check "the scope is in machine.slice" is "$(prop $U Slice)" "machine.slice"
check "the scope is delegated" is "$(prop $U Delegate)" "yes"
check "its cgroup is $S" is "$(prop $U ControlGroup)" "/$S"
check "the init is in the scope's cgroup" grep -qx "$($G state lim | jq .pid)" "$(cgdir pids $S)/cgroup.procs"
check "state.json names the unit" is "$(jq -r .systemdUnit /run/glassbox/lim/state.json)" "$U"
check "memory.limit -> $MEMPROP property" is "$(prop $U $MEMPROP)" "67108864"
check "memory.limit -> $MEMFILE file" is "$(cat "$(cgdir memory $S)/$MEMFILE")" "67108864"
check "pids.limit -> TasksMax property" is "$(prop $U TasksMax)" "20"
check "pids.limit -> pids.max file" is "$(cat "$(cgdir pids $S)/pids.max")" "20"
check "cpu quota/period -> CPUQuotaPerSecUSec" is "$(prop $U CPUQuotaPerSecUSec)" "500ms"
check "cpu quota/period -> the quota files" is "$(quota "$(cgdir cpu $S)")" "$QUOTA"
check "cpu.shares 1024 -> $CPUPROP $CPUPROPVALUE" is "$(prop $U $CPUPROP)" "$CPUPROPVALUE"
check "cpu.burst (no systemd property) -> $BURSTFILE file" is "$(cat "$(cgdir cpu $S)/$BURSTFILE")" "10000"
if [ $LAYOUT = hybrid ]; then
    # systemd makes the scope in the hierarchies it manages; glassbox the rest.
    check "the init is in the freezer and cpuset hierarchies too (made by glassbox)" sh -c \
        "grep -qx $($G state lim | jq .pid) /sys/fs/cgroup/freezer/$S/cgroup.procs && grep -qx $($G state lim | jq .pid) /sys/fs/cgroup/cpuset/$S/cgroup.procs"
fi
check "exec: inside, every cgroup namespace root is the scope" is "$($G exec lim grep -v ':/$' /proc/self/cgroup)" ""
check "an exec'd process is in the scope" $G exec lim sh -c "grep -qx \$\$ $(if [ $LAYOUT = v2 ]; then echo /sys/fs/cgroup; else echo /sys/fs/cgroup/pids; fi)/cgroup.procs"
$G update --memory 128m --pids-limit 30 lim
check "update -> $MEMPROP property" is "$(prop $U $MEMPROP)" "134217728"
check "update -> $MEMFILE file" is "$(cat "$(cgdir memory $S)/$MEMFILE")" "134217728"
check "update -> TasksMax property" is "$(prop $U TasksMax)" "30"
systemctl daemon-reload
check "limits survive systemctl daemon-reload (they are systemd's own)" is \
    "$(cat "$(cgdir memory $S)/$MEMFILE") $(cat "$(cgdir pids $S)/pids.max")" "134217728 30"
$G pause lim
check "pause freezes the scope's cgroup" is "$($G state lim | jq -r .status)" "paused"
$G resume lim
check "resume thaws it" is "$($G state lim | jq -r .status)" "running"
$G kill lim KILL
sleep 0.5
check "after the init died, state says stopped" is "$($G state lim | jq -r .status)" "stopped"
$G delete lim
check "delete: the scope is gone, and its cgroup in every hierarchy" gone $U $S

$G run -d -b /var/tmp/b/plain plain
check "no cgroupsPath: glassbox-<id>.scope in system.slice" is "$(prop glassbox-plain.scope ControlGroup)" "/system.slice/glassbox-plain.scope"
$G delete -f plain
check "delete -f of a running container stops its scope" gone glassbox-plain.scope system.slice/glassbox-plain.scope

out=$($G run -b /var/tmp/b/echo echo 2>&1)
check "run in the foreground, inside its own cgroup namespace" is "$out" "hello"
check "run: the scope is gone after" gone gbtest-echo.scope machine.slice/gbtest-echo.scope

$G run -b /var/tmp/b/badpath bad >/tmp/bad.out 2>&1
check "a cgroupfs path with --systemd-cgroup fails (exit 1)" is "$?" "1"
check "  ... saying what form is wanted" grep -q 'slice:prefix:name' /tmp/bad.out
check "  ... and leaves no state behind" sh -c "! test -e /run/glassbox/bad"
$GB --root /run/glassbox run -b /var/tmp/b/echo nosd >/tmp/nosd.out 2>&1
check "without --systemd-cgroup, a slice:prefix:name path says to pass the flag" grep -q -- '--systemd-cgroup' /tmp/nosd.out

# A create killed (a debug build's fault points) just after the clone, before
# the scope exists, and just after the scope was made: delete --force finds
# the unit in <id>/cgroup and leaves nothing.
for point in create:clone create:go; do
    GLASSBOX_FAULT=$point $G create -b /var/tmp/b/killed kf >/dev/null 2>&1
    $G delete --force kf 2>/dev/null
    check "create killed at $point: delete --force leaves no scope" gone gbtest-kf.scope machine.slice/gbtest-kf.scope
    check "  ... and no state directory" sh -c "! test -e /run/glassbox/kf"
done

# --- podman, cgroup manager systemd (its default), glassbox as its runtime ------
P="podman --runtime $GB"
podman import -q $R/rootfs.tar localhost/bb >/dev/null
check "podman's cgroup manager is systemd (its default here)" is "$(podman info --format '{{.Host.CgroupManager}}')" "systemd"
check "podman run --rm" is "$($P run --rm --network none localhost/bb echo hello)" "hello"
cid=$($P run -d --name web --network none --memory 64m --pids-limit 50 localhost/bb sleep 300 2>/tmp/web.err)
PS=machine.slice/libpod-$cid.scope
check "podman run -d --memory 64m" is "$($P inspect -f '{{.State.Status}}' web)" "running"
check "  ... lands as $MEMPROP on libpod-<id>.scope" is "$(prop libpod-$cid.scope $MEMPROP)" "67108864"
check "  ... and TasksMax" is "$(prop libpod-$cid.scope TasksMax)" "50"
check "  ... in machine.slice" is "$(prop libpod-$cid.scope ControlGroup)" "/$PS"
check "  ... its $MEMFILE file" is "$(cat "$(cgdir memory $PS)/$MEMFILE")" "67108864"
# podman gives a container a cgroup namespace of its own on v2 only.
if [ $LAYOUT = v2 ]; then
    check "podman exec" is "$($P exec web cat /proc/self/cgroup)" "0::/"
else
    check "podman exec" sh -c "$P exec web cat /proc/self/cgroup | grep -q ':/$PS\$'"
fi
check "podman top lists the container's processes" sh -c "$P top web | grep -q sleep"
check "podman stop" sh -c "$P stop -t 1 web >/dev/null && test \"\$($P inspect -f '{{.State.Status}}' web)\" = exited"
check "podman rm" sh -c "$P rm web >/dev/null"
check "  ... the scope is gone" gone libpod-$cid.scope $PS
# runc, as a yardstick for the same request.
runc_cid=$(podman --runtime runc run -d --network none --memory 64m localhost/bb sleep 300 2>/dev/null)
check "runc's scope for the same podman run has the same $MEMPROP" is "$(prop libpod-$runc_cid.scope $MEMPROP)" "67108864"
podman --runtime runc rm -f -t 0 "$runc_cid" >/dev/null 2>&1

check "nothing left in /run/glassbox" sh -c "! ls /run/glassbox | grep -v '^\.events$'"
echo "$pass passed, $fail failed"
echo "guest: done"
