#!/bin/sh
# Runs inside the systemd test VM (systemd-vm.sh), as root, on pure cgroup
# v2 with systemd as PID 1: glassbox --systemd-cgroup by hand, then podman
# with its default cgroup manager (systemd) and glassbox as its runtime.
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
gone_now() { ! systemctl is-active -q "$1" && [ -z "$(systemctl list-units --all --plain --no-legend "$1")" ] && [ ! -e "$2" ]; }
gone() { # gone UNIT CGROUP-DIR: the unit unknown to systemd (it forgets a stopped scope at its next collection) and the directory removed
    for i in $(seq 20); do gone_now "$1" "$2" && return 0; sleep 0.25; done
    systemctl status "$1"; ls -d "$2"; return 1
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
make_bundle echo '.process.args = ["sh", "-c", "echo hello from $(cat /proc/self/cgroup)"] | .process.terminal = false
  | .linux.cgroupsPath = "machine.slice:gbtest:echo"'
make_bundle killed '.process.args = ["sleep", "300"] | .process.terminal = false
  | .linux.cgroupsPath = "machine.slice:gbtest:kf" | .linux.resources = {"pids": {"limit": 20}}'
make_bundle badpath '.process.args = ["true"] | .process.terminal = false | .linux.cgroupsPath = "/not/systemd"'

check "PID 1 is systemd" is "$(cat /proc/1/comm)" "systemd"
check "the host is pure cgroup v2" is "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)" "cgroup2"
check "glassbox features says systemd" sh -c "$GB features | jq -e '.linux.cgroup.systemd == true'"

# --- glassbox --systemd-cgroup by hand -----------------------------------------
U=gbtest-lim.scope
D=/sys/fs/cgroup/machine.slice/$U
$G run -d -b /var/tmp/b/limits lim
check "run -d: the scope is active" systemctl is-active -q $U
check "the scope is in machine.slice" is "$(prop $U Slice)" "machine.slice"
check "the scope is delegated" is "$(prop $U Delegate)" "yes"
check "its cgroup is machine.slice/$U" is "$(prop $U ControlGroup)" "/machine.slice/$U"
check "the init is in the scope's cgroup" grep -qx "$($G state lim | jq .pid)" $D/cgroup.procs
check "state.json names the unit" is "$(jq -r .systemdUnit /run/glassbox/lim/state.json)" "$U"
check "memory.limit -> MemoryMax property" is "$(prop $U MemoryMax)" "67108864"
check "memory.limit -> memory.max file" is "$(cat $D/memory.max)" "67108864"
check "pids.limit -> TasksMax property" is "$(prop $U TasksMax)" "20"
check "pids.limit -> pids.max file" is "$(cat $D/pids.max)" "20"
check "cpu quota/period -> CPUQuotaPerSecUSec" is "$(prop $U CPUQuotaPerSecUSec)" "500ms"
check "cpu quota/period -> cpu.max file" is "$(cat $D/cpu.max)" "50000 100000"
check "cpu.shares 1024 -> CPUWeight 39" is "$(prop $U CPUWeight)" "39"
check "cpu.burst (no systemd property) -> cpu.max.burst file" is "$(cat $D/cpu.max.burst)" "10000"
check "exec: inside, the cgroup namespace root is the scope" is "$($G exec lim cat /proc/self/cgroup)" "0::/"
check "an exec'd process is in the scope" $G exec lim sh -c 'grep -qx $$ /sys/fs/cgroup/cgroup.procs'
$G update --memory 128m --pids-limit 30 lim
check "update -> MemoryMax property" is "$(prop $U MemoryMax)" "134217728"
check "update -> memory.max file" is "$(cat $D/memory.max)" "134217728"
check "update -> TasksMax property" is "$(prop $U TasksMax)" "30"
systemctl daemon-reload
check "limits survive systemctl daemon-reload (they are systemd's own)" is "$(cat $D/memory.max) $(cat $D/pids.max)" "134217728 30"
$G pause lim
check "pause freezes the scope's cgroup" is "$($G state lim | jq -r .status)" "paused"
$G resume lim
check "resume thaws it" is "$($G state lim | jq -r .status)" "running"
$G kill lim KILL
sleep 0.5
check "after the init died, state says stopped" is "$($G state lim | jq -r .status)" "stopped"
$G delete lim
check "delete: the scope is gone, and its cgroup" gone $U $D

$G run -d -b /var/tmp/b/plain plain
check "no cgroupsPath: glassbox-<id>.scope in system.slice" is "$(prop glassbox-plain.scope ControlGroup)" "/system.slice/glassbox-plain.scope"
$G delete -f plain
check "delete -f of a running container stops its scope" gone glassbox-plain.scope /sys/fs/cgroup/system.slice/glassbox-plain.scope

out=$($G run -b /var/tmp/b/echo echo 2>&1)
check "run in the foreground" is "$out" "hello from 0::/"
check "run: the scope is gone after" gone gbtest-echo.scope /sys/fs/cgroup/machine.slice/gbtest-echo.scope

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
    check "create killed at $point: delete --force leaves no scope" gone gbtest-kf.scope /sys/fs/cgroup/machine.slice/gbtest-kf.scope
    check "  ... and no state directory" sh -c "! test -e /run/glassbox/kf"
done

# --- podman, cgroup manager systemd (its default), glassbox as its runtime ------
P="podman --runtime $GB"
podman import -q $R/rootfs.tar localhost/bb >/dev/null
check "podman's cgroup manager is systemd (its default here)" is "$(podman info --format '{{.Host.CgroupManager}}')" "systemd"
check "podman run --rm" is "$($P run --rm --network none localhost/bb echo hello)" "hello"
cid=$($P run -d --name web --network none --memory 64m --pids-limit 50 localhost/bb sleep 300 2>/tmp/web.err)
check "podman run -d --memory 64m" is "$($P inspect -f '{{.State.Status}}' web)" "running"
check "  ... lands as MemoryMax on libpod-<id>.scope" is "$(prop libpod-$cid.scope MemoryMax)" "67108864"
check "  ... and TasksMax" is "$(prop libpod-$cid.scope TasksMax)" "50"
check "  ... in machine.slice" is "$(prop libpod-$cid.scope ControlGroup)" "/machine.slice/libpod-$cid.scope"
check "  ... its memory.max file" is "$(cat /sys/fs/cgroup/machine.slice/libpod-$cid.scope/memory.max)" "67108864"
check "podman exec" is "$($P exec web cat /proc/self/cgroup)" "0::/"
check "podman top lists the container's processes" sh -c "$P top web | grep -q sleep"
check "podman stop" sh -c "$P stop -t 1 web >/dev/null && test \"\$($P inspect -f '{{.State.Status}}' web)\" = exited"
check "podman rm" sh -c "$P rm web >/dev/null"
check "  ... the scope is gone" gone libpod-$cid.scope /sys/fs/cgroup/machine.slice/libpod-$cid.scope
# runc, as a yardstick for the same request.
runc_cid=$(podman --runtime runc run -d --network none --memory 64m localhost/bb sleep 300 2>/dev/null)
check "runc's scope for the same podman run has the same MemoryMax" is "$(prop libpod-$runc_cid.scope MemoryMax)" "67108864"
podman --runtime runc rm -f -t 0 "$runc_cid" >/dev/null 2>&1

check "nothing left in /run/glassbox" sh -c "! ls /run/glassbox | grep -v '^\.events$'"
echo "$pass passed, $fail failed"
echo "guest: done"
