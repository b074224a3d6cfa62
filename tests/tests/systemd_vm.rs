//! The systemd cgroup driver for real. This machine's PID 1 is not systemd,
//! so these tests boot a Debian VM whose init is systemd, on pure cgroup v2
//! and on systemd's hybrid layout (v1 controllers, systemd's own tree in
//! cgroup2: this machine's layout)
//! (tests/vm/systemd-vm.sh; its root filesystem is built once with
//! mmdebstrap and cached, tests/vm/systemd-image.sh), and runs
//! tests/vm/guest-systemd-checks.sh there: `glassbox --systemd-cgroup`
//! by hand (the scope, its properties and files, update surviving a
//! daemon-reload, pause, delete stopping the unit) and podman with its
//! default cgroup manager, systemd, and glassbox as its runtime (run,
//! exec, top, stop, rm; `--memory 64m` as the scope's MemoryMax).

use std::path::Path;
use std::process::Command;

use glassbox_e2e::{glassbox_bin, require_root};

#[test]
fn glassbox_under_systemd_and_podman_with_its_systemd_cgroup_manager() {
    boot_and_check("v2");
}

#[test]
fn the_same_on_systemds_hybrid_cgroup_layout() {
    boot_and_check("hybrid");
}

fn boot_and_check(layout: &str) {
    require_root();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/systemd-vm.sh");
    let out =
        Command::new("bash").arg(&script).arg(glassbox_bin()).arg(layout).output().expect("run tests/vm/systemd-vm.sh");
    let console = String::from_utf8_lossy(&out.stdout);
    let report: Vec<&str> =
        console.lines().filter(|l| l.starts_with("ok ") || l.starts_with("not ok") || l.starts_with("    ")).collect();
    assert!(out.status.success(), "the VM run failed: {}\n{console}", String::from_utf8_lossy(&out.stderr));
    let summary = console.lines().find(|l| l.ends_with(" failed")).unwrap_or("no summary line");
    assert!(summary.ends_with(" 0 failed") && !summary.starts_with("0 passed"), "{summary}\n{}", report.join("\n"));
}
