//! Finding the binary under test and refusing to run unprivileged: an
//! end-to-end suite that silently passes as a normal user would prove nothing.

use std::path::{Path, PathBuf};
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
    // `cargo test -p glassbox-e2e` builds the tests, not the binary they
    // run: without this, an edit to the runtime would be tested against the
    // build before it, and pass or fail for the wrong reason.
    static STALE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let stale =
        STALE.get_or_init(|| std::env::var_os("GLASSBOX_BIN").is_none().then(|| input_newer_than(&path)).flatten());
    if let Some(newer) = stale {
        panic!("{} is older than {}: run `cargo build -p glassbox` first", path.display(), newer.display());
    }
    path
}

/// The `glassbox-cri` command (cri/): `$GLASSBOX_CRI_BIN`, else the same
/// target directory `glassbox_bin` looks in, and refused when stale.
pub fn glassbox_cri_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GLASSBOX_CRI_BIN") {
        return PathBuf::from(p);
    }
    let dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).join("debug"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug"),
    };
    let path = dir.join("glassbox-cri");
    if !path.is_file() {
        panic!("the glassbox-cri binary is missing at {}: run `cargo build -p glassbox-cri` first", path.display());
    }
    if let Some(newer) = input_newer_than(&path) {
        panic!("{} is older than {}: run `cargo build -p glassbox-cri` first", path.display(), newer.display());
    }
    path
}

/// An input of `binary`'s build that changed after it was built, if one
/// did: the inputs are those cargo lists in `<binary>.d` (sources, build
/// scripts' inputs), the same it compares to decide a rebuild.
fn input_newer_than(binary: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let deps = std::fs::read_to_string(binary.with_extension("d")).ok()?;
    // `target: input input …`, a space inside a name escaped as `\ `.
    let inputs = deps.split_once(": ")?.1.replace("\\ ", "\0");
    inputs
        .split_whitespace()
        .map(|p| PathBuf::from(p.replace('\0', " ")))
        .find(|input| std::fs::metadata(input).and_then(|m| m.modified()).is_ok_and(|changed| changed > built))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// `{name}-{pid}-{n}`: unique across the parallel threads and test binaries
/// that may run at once on this machine.
pub fn unique_id(name: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_edited_after_the_build_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let (binary, source) = (dir.path().join("glassbox"), dir.path().join("my lib.rs"));
        std::fs::write(&source, "").unwrap();
        std::fs::write(&binary, "").unwrap();
        let deps = format!("{}: {}\n", binary.display(), source.display().to_string().replace(' ', "\\ "));
        std::fs::write(binary.with_extension("d"), deps).unwrap();
        let set = |p: &Path, secs| {
            let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
        };
        set(&source, 1000);
        set(&binary, 2000);
        assert_eq!(input_newer_than(&binary), None);
        set(&source, 3000);
        assert_eq!(input_newer_than(&binary), Some(source));
    }
}
