//! Finding the binary under test and refusing to run unprivileged: an
//! end-to-end suite that silently passes as a normal user would prove nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Panics unless the effective uid is 0 (see geteuid(2)).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        panic!("end-to-end tests make real containers and must run as root");
    }
}

/// `$GLASSBOX_BIN`, else `$CARGO_TARGET_DIR/debug/glassbox` when that is
/// set, else `<workspace>/target/debug/glassbox`.
/// Asks for root too: every test finds the binary through here, so none
/// can pass silently as a normal user.
pub fn glassbox_bin() -> PathBuf {
    require_root();
    let path = if let Some(p) = std::env::var_os("GLASSBOX_BIN") {
        PathBuf::from(p)
    } else if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(t).join("debug/glassbox")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/glassbox")
    };
    if !path.is_file() {
        panic!(
            "the glassbox binary is missing at {}: run `cargo build -p glassbox` first, \
             or point GLASSBOX_BIN at a built binary",
            path.display()
        );
    }
    path
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// `{name}-{pid}-{n}`: unique across the parallel threads and test binaries
/// that may run at once on this machine.
pub fn unique_id(name: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{n}", std::process::id())
}
