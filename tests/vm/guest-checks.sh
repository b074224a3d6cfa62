#!/bin/sh
# Runs inside the test VM, on a pure cgroup v2 host: makes real containers
# with glassbox and checks their cgroup from outside and inside. Prints one
# "ok"/"not ok" line per check and a last line "N passed, M failed".
G="/glassbox --root /run/glassbox"
B=/bundles
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
cg() { cat "/sys/fs/cgroup/glassbox/$1/$2"; }
is() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }

check "the host is pure cgroup v2" is "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)" "cgroup2"
check "no cgroup v1 hierarchy is mounted" sh -c "! grep -q ' cgroup ' /proc/mounts"

$G run -d -b $B/limits lim >/tmp/run.out 2>&1 || cat /tmp/run.out
check "run -d with limits" is "$($G state lim | grep -c '"running"')" "1"
check "memory.limit -> memory.max" is "$(cg lim memory.max)" "67108864"
check "memory.swap -> memory.swap.max (swap - limit)" is "$(cg lim memory.swap.max)" "0"
check "pids.limit -> pids.max" is "$(cg lim pids.max)" "20"
check "cpu quota/period -> cpu.max" is "$(cg lim cpu.max)" "50000 100000"
check "cpu.shares 1024 -> cpu.weight 39" is "$(cg lim cpu.weight)" "39"
check "the init is in the cgroup" grep -qx "$($G state lim | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')" /sys/fs/cgroup/glassbox/lim/cgroup.procs
check "inside, the cgroup namespace root is the container's cgroup" is "$($G exec lim cat /proc/self/cgroup)" "0::/"
check "inside, /sys/fs/cgroup is the container's own cgroup2" is "$($G exec lim cat /sys/fs/cgroup/memory.max)" "67108864"
$G update --memory 128m --pids-limit 30 lim
check "update raises memory.max live" is "$(cg lim memory.max)" "134217728"
check "update raises pids.max live" is "$(cg lim pids.max)" "30"
check "update refuses a v1-only field" sh -c "! $G update -r /bundles/swappiness.json lim 2>&1 | grep -q swappiness && exit 1 || true"
$G pause lim
check "pause writes cgroup.freeze" is "$(cg lim cgroup.freeze)" "1"
check "pause: status paused" is "$($G state lim | grep -c '"paused"')" "1"
$G resume lim
check "resume thaws" is "$(cg lim cgroup.freeze)" "0"
check "events --stats reads pids.current" sh -c "$G events --stats lim | grep -q '\"current\":$(cg lim pids.current)'"
check "ps lists the container's pids from cgroup.procs" sh -c "$G ps --format json lim | grep -q \"\$(head -1 /sys/fs/cgroup/glassbox/lim/cgroup.procs)\""
$G delete -f lim
check "delete removes the cgroup" sh -c "! test -e /sys/fs/cgroup/glassbox/lim"

$G run -d -b $B/spin spin
sleep 1
check "a cpu quota throttles: nr_throttled in cpu.stat" sh -c "test \$(awk '/^nr_throttled/ { print \$2 }' /sys/fs/cgroup/glassbox/spin/cpu.stat) -gt 0"
$G pause spin
a=$(awk '/^usage_usec/ { print $2 }' /sys/fs/cgroup/glassbox/spin/cpu.stat); sleep 0.5
b=$(awk '/^usage_usec/ { print $2 }' /sys/fs/cgroup/glassbox/spin/cpu.stat)
check "a paused loop uses no CPU" is "$b" "$a"
$G resume spin
$G delete -f spin

$G run -d -b $B/oomchild oomchild
$G events --interval 1s oomchild >/tmp/events.out 2>&1 &
watcher=$!
# Once the first stats line is out, events has read the OOM counter it
# compares against: the hog's OOM kill comes after.
for i in $(seq 40); do grep -q '"type":"stats"' /tmp/events.out && break; sleep 0.25; done
$G exec oomchild sh -c 'x=$(head -c 200000000 /dev/zero | tr "\\0" a)'
check "an exec'd process past memory.max is OOM-killed (exit 137)" is "$?" "137"
for i in $(seq 40); do grep -q '"type":"oom"' /tmp/events.out && break; sleep 0.5; done
kill $watcher
check "events reports the OOM kill of an exec'd process" sh -c "grep -q '\"type\":\"oom\"' /tmp/events.out || { cat /sys/fs/cgroup/glassbox/oomchild/memory.events; tail -c 300 /tmp/events.out; exit 1; }"
check "the init survives another process's OOM kill" is "$($G state oomchild | grep -c '"running"')" "1"
$G delete -f oomchild

$G run -b $B/oom oom >/tmp/oom.out 2>&1
check "a process past memory.max is OOM-killed (exit 137)" is "$?" "137"
check "the OOM container's cgroup is gone" sh -c "! test -e /sys/fs/cgroup/glassbox/oom"

$G run -b $B/forkbomb fork >/tmp/fork.out 2>&1
check "pids.max stops a fork bomb" sh -c "grep -q 'init alive' /tmp/fork.out && grep -qi 'fork' /tmp/fork.out"

$G run -b $B/devices-deny dev >/tmp/dev.out 2>&1
check "eBPF device filter: a denied device cannot be opened" grep -q kmsg-denied /tmp/dev.out
check "eBPF device filter: the devices every container needs still work" grep -q null-ok /tmp/dev.out
$G run -b $B/devices-allow dev >/tmp/dev.out 2>&1
check "eBPF device filter: an allowed device can be opened" grep -q kmsg-open /tmp/dev.out
$G run -b $B/devices-default dev >/tmp/dev.out 2>&1
check "eBPF device filter, default spec: mknod of any device is allowed" grep -q mknod-ok /tmp/dev.out
check "eBPF device filter, default spec: a device not allowed cannot be opened" grep -q kmsg-denied /tmp/dev.out
check "eBPF device filter, default spec: /dev/null works" grep -q null-ok /tmp/dev.out

# Rootless (uid 1000, no capability) with a delegated cgroup2 subtree: the
# subtree and its shell cgroup are rl's (cgroups(7), "Cgroups v2
# delegation"); rl's commands start in /deleg/shell, so that moving a
# process into /deleg/rl stays below /deleg, the common ancestor rl may write.
echo +pids > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/deleg/shell /tmp/rl-root
for f in /sys/fs/cgroup/deleg /sys/fs/cgroup/deleg/shell /tmp/rl-root $B/rootless; do chown -R 1000:1000 "$f"; done
as_rl() { sh -c 'echo $$ > /sys/fs/cgroup/deleg/shell/cgroup.procs && exec su -s /bin/sh rl -c "$1"' sh "/glassbox --root /tmp/rl-root $*"; }
as_rl run -d -b $B/rootless rl >/tmp/rl.out 2>&1 || cat /tmp/rl.out
rlpid=$(as_rl state rl | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
check "rootless: the container's cgroup is made in the delegated subtree" test -d /sys/fs/cgroup/deleg/rl
check "rootless: pids.limit -> pids.max there" is "$(cat /sys/fs/cgroup/deleg/rl/pids.max)" "20"
check "rootless: the init is in it" grep -qx "$rlpid" /sys/fs/cgroup/deleg/rl/cgroup.procs
check "rootless: the init runs as uid 1000 on the host" sh -c "grep -q '^Uid:[[:space:]]*1000[[:space:]]' /proc/$rlpid/status"
check "rootless: root inside" is "$(as_rl exec rl id -u)" "0"
check "rootless: ps reads the cgroup" is "$(as_rl ps --format json rl | tr -d '[]' | tr ',' '\n' | wc -l)" "1"
as_rl pause rl
check "rootless: pause freezes the delegated cgroup" is "$(cat /sys/fs/cgroup/deleg/rl/cgroup.freeze)" "1"
as_rl resume rl
as_rl delete -f rl
check "rootless: delete removes its cgroup" sh -c "! test -e /sys/fs/cgroup/deleg/rl"
check "rootless: no state left" sh -c "test -z \"\$(ls /tmp/rl-root)\""

# The dashboard's cgroup sampler on pure v2: the same containers as above,
# read from memory.max/memory.events/cpu.stat/cpu.max and the PSI files.
check "glassbox-dashboard is in the VM" test -x /glassbox-dashboard
ip link set lo up
/glassbox dashboard --root /run/glassbox >/tmp/dash.log 2>&1 &
dash=$!
api() { wget -qO - "http://127.0.0.1:7878$1"; }
for i in $(seq 40); do api /api/containers >/dev/null 2>&1 && break; sleep 0.25; done
$G run -d -b $B/oomchild dashoom
$G run -d -b $B/spin dashspin
sleep 1.5
$G exec dashoom sh -c 'x=$(head -c 200000000 /dev/zero | tr "\\0" a)'
sleep 2.5
api /api/containers/dashoom/cgroup >/tmp/cg.json 2>&1
check "dashboard on v2: the layout is v2, the path the container's" sh -c 'grep -q "\"version\":\"v2\",\"path\":\"/glassbox/dashoom\"" /tmp/cg.json || { head -c 600 /tmp/cg.json; cat /tmp/dash.log; exit 1; }'
check "dashboard on v2: the limit from memory.max" grep -q '"limit":33554432' /tmp/cg.json
check "dashboard on v2: the OOM kill from memory.events, marked" grep -q '"kind":"oom_kill"' /tmp/cg.json
check "dashboard on v2: pressure from the cgroup's PSI files" grep -q '"psi":{"cpu_some_avg10"' /tmp/cg.json
api /api/containers/dashspin/cgroup >/tmp/spin.json 2>&1
check "dashboard on v2: quota and throttled periods from cpu.max and cpu.stat" sh -c 'grep -q "\"quota_us\":10000,\"period_us\":100000" /tmp/spin.json && grep -q "\"throttled_periods\":[1-9]" /tmp/spin.json || { tail -c 600 /tmp/spin.json; exit 1; }'
api /metrics >/tmp/metrics.txt 2>&1
check "dashboard on v2: container_oom_events_total in /metrics" grep -q '^container_oom_events_total{.*name="dashoom".*} 1$' /tmp/metrics.txt
check "dashboard on v2: container_cpu_cfs_throttled_periods_total in /metrics" grep -q '^container_cpu_cfs_throttled_periods_total{.*name="dashspin"' /tmp/metrics.txt
$G delete -f dashoom
$G delete -f dashspin
# Notified (inotify on memory.events and pids.events): an init OOM-killed
# under run is marked before run's delete; a refused fork is marked.
$G run -b $B/oomlate dashoomrun >/dev/null 2>&1
sleep 0.5
api /api/containers/dashoomrun/cgroup >/tmp/oomrun.json 2>&1
check "dashboard on v2: an init OOM-killed under run is marked before its cgroup goes" grep -q '"kind":"oom_kill"' /tmp/oomrun.json
$G run -d -b $B/forklate dashfork
sleep 3.5
api /api/containers/dashfork/cgroup >/tmp/fork.json 2>&1
check "dashboard on v2: a refused fork is marked, from pids.events" grep -q '"kind":"fork_refused"' /tmp/fork.json
$G delete -f dashfork
kill $dash; wait $dash

check "nothing left under /sys/fs/cgroup/glassbox" sh -c "test -z \"\$(find /sys/fs/cgroup/glassbox -mindepth 1 -type d)\""
check "no state left" sh -c "test -z \"\$(ls /run/glassbox)\""

echo "$pass passed, $fail failed"
