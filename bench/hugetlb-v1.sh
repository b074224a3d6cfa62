# bench/hugetlb-v1.sh — sourced by bench/run-true.sh and scripts/hot-symbols.sh.
#
# crun 1.8 refuses a hybrid layout whose cgroup2 tree still holds a
# controller ("cgroups in hybrid mode not supported, drop all controllers
# from cgroupv2"). Here that is hugetlb; mounting it as a v1 hierarchy moves
# it out of the v2 tree. Only the benchmark does this (and
# scripts/hot-symbols.sh, to see the code glassbox runs then); the test suite
# must pass without it. The caller defines say() and calls restore_hugetlb at
# exit, which undoes the move, but only if the hierarchy is
# empty again: any process on the machine (podman, another test) may have
# made cgroups there meanwhile, and unmounting would strand them, so then it
# stays mounted and the script says so. On a machine where hugetlb is already
# a mounted v1 hierarchy (plain v1), nothing is touched.
HUGETLB=/sys/fs/cgroup/hugetlb
moved_hugetlb=no
move_hugetlb_to_v1() {
    if findmnt -rn -t cgroup -o OPTIONS | grep -qE '(^|,)hugetlb(,|$)'; then
        return 0    # already a mounted v1 hierarchy: crun is content
    fi
    say "mounting hugetlb as a cgroup v1 hierarchy at $HUGETLB, as crun needs on this hybrid layout"
    mkdir -p "$HUGETLB"
    mount -t cgroup -o hugetlb none "$HUGETLB"
    moved_hugetlb=yes
}
hugetlb_cgroups() { awk '$1 == "hugetlb" { print $3 }' /proc/cgroups; }
restore_hugetlb() {
    [ "$moved_hugetlb" = yes ] || return 0
    moved_hugetlb=no
    # A removed cgroup lingers while the kernel takes it offline, and the
    # kernel frees a hierarchy at umount only if its root has no child left:
    # wait up to 5 s for the root to be alone.
    for _ in $(seq 50); do
        [ "$(hugetlb_cgroups)" -le 1 ] && break
        sleep 0.1
    done
    if [ "$(hugetlb_cgroups)" -gt 1 ]; then
        say "leaving $HUGETLB mounted: it holds cgroups this script did not make:"
        find "$HUGETLB" -mindepth 1 -type d | sed 's/^/      /'
        say "once their owners remove them, 'umount $HUGETLB' hands hugetlb back to cgroup v2"
        return 0
    fi
    say "unmounting $HUGETLB: hugetlb goes back to cgroup v2"
    umount "$HUGETLB" && rmdir "$HUGETLB"
}

