//! cgroup v2 for real. This machine's cgroups are a v1/v2 hybrid it cannot
//! leave (its process manager holds a v1 memory cgroup), so this test boots
//! Debian's kernel under qemu with v1 switched off and runs
//! tests/vm/guest-checks.sh there as the VM's init: limits written to the v2
//! files (memory.max, cpu.max, cpu.weight …), update, pause/resume with
//! cgroup.freeze, events, an OOM kill, a pids limit, a rootless container
//! (uid 1000) in a cgroup2 subtree delegated to it, and nothing left behind;
//! and the dashboard's cgroup sampler (glassbox-dashboard, copied beside the
//! binary) reading those v2 files and PSI, through its API and /metrics.

use std::path::Path;
use std::process::Command;

use glassbox_e2e::{glassbox_bin, require_root};

#[test]
fn containers_on_a_pure_cgroup_v2_kernel() {
    require_root();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/cgroup-v2.sh");
    let out = Command::new("bash").arg(&script).arg(glassbox_bin()).output().expect("run tests/vm/cgroup-v2.sh");
    let console = String::from_utf8_lossy(&out.stdout);
    let report: Vec<&str> =
        console.lines().filter(|l| l.starts_with("ok ") || l.starts_with("not ok") || l.starts_with("    ")).collect();
    assert!(out.status.success(), "the VM run failed: {}\n{console}", String::from_utf8_lossy(&out.stderr));
    let summary = console.lines().find(|l| l.ends_with(" failed")).unwrap_or("no summary line");
    assert!(summary.ends_with(" 0 failed") && !summary.starts_with("0 passed"), "{summary}\n{}", report.join("\n"));
}
