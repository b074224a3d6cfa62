//! What the escape tests (tests/tests/escape_*.rs) share: a secret on the
//! host that a container must neither read nor write next to, and the
//! bundle an attack runs in.

use std::path::Path;

use serde_json::json;

use crate::Bundle;

/// A file on the host the container must not read, and a place it must not write.
pub struct HostSecret {
    pub dir: tempfile::TempDir,
    pub token: String,
}

impl HostSecret {
    pub fn plant() -> HostSecret {
        let dir = tempfile::Builder::new().prefix("glassbox-escape-").tempdir_in("/tmp").unwrap();
        let token = format!("host-secret-{}", crate::unique_id("token"));
        std::fs::write(dir.path().join("secret"), &token).unwrap();
        HostSecret { dir, token }
    }

    /// A shell line that, run from a directory of the host, reads the secret
    /// into the container's /tmp/stolen and writes a file next to it: `..`
    /// enough times reaches `/` from anywhere.
    pub fn attack(&self) -> String {
        let up = "../".repeat(24);
        let dir = self.dir.path().display();
        format!("cat {up}{dir}/secret > /tmp/stolen 2>/dev/null; echo pwned > {up}{dir}/written 2>/dev/null; true")
    }

    #[track_caller]
    pub fn assert_untouched(&self, rootfs: &Path, how: &str) {
        let stolen = std::fs::read_to_string(rootfs.join("tmp/stolen")).unwrap_or_default();
        assert!(!stolen.contains(&self.token), "{how}: the container read the host's file");
        assert!(!self.dir.path().join("written").exists(), "{how}: the container wrote a host file");
    }
}

/// A busybox bundle running `sh -c script`, its root writable (the attack
/// leaves its loot in /tmp), with `edit` applied.
pub fn attack_bundle(script: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    let bundle = Bundle::busybox(&["sh", "-c", script]);
    bundle.config_mut(|v| {
        v["root"]["readonly"] = json!(false);
        edit(v)
    });
    bundle
}
