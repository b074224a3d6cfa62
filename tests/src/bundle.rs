//! A throwaway OCI bundle (runtime-spec "Filesystem Bundle"): a rootfs made
//! of Debian's static busybox with one symlink per applet, and a config.json
//! produced by `glassbox spec` and then adjusted with serde_json.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use tempfile::TempDir;

use crate::binary::glassbox_bin;
use crate::output::assert_ok;

const BUSYBOX: &str = "/bin/busybox";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
user:x:1000:1000:user:/home/user:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

const GROUP: &str = "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n";

pub struct Bundle {
    dir: Option<TempDir>,
}

/// The applet names `busybox --list` prints, asked once per test binary.
fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .unwrap_or_else(|e| panic!("running {BUSYBOX} --list: {e} (apt-get install busybox-static)"));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "busybox")
            .map(String::from)
            .collect()
    })
}

impl Bundle {
    /// A busybox bundle whose process runs `args`, without a terminal.
    pub fn busybox(args: &[&str]) -> Bundle {
        let dir = Bundle::busybox_rootfs();
        let out = Command::new(glassbox_bin())
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path())
            .output()
            .expect("running glassbox spec");
        assert_ok(&out);
        Bundle::with_args(dir, args)
    }

    /// The same for a rootless container of `rt`'s user: the bundle is the
    /// user's, and its config.json is what `glassbox spec --rootless` writes
    /// when that user runs it.
    pub fn busybox_rootless(rt: &crate::Runtime, args: &[&str]) -> Bundle {
        let user = rt.user().expect("a rootless runtime");
        let dir = Bundle::busybox_rootfs();
        user.chown_tree(dir.path());
        let mut spec = rt.command();
        spec.arg("spec").arg("--rootless").arg("--bundle").arg(dir.path());
        assert_ok(&spec.output().expect("running glassbox spec --rootless"));
        Bundle::with_args(dir, args)
    }

    /// The bundle directory with a busybox rootfs, no config.json yet.
    pub(crate) fn busybox_rootfs() -> TempDir {
        crate::binary::require_root();
        let dir = tempfile::Builder::new().prefix("glassbox-e2e-").tempdir().expect("making the bundle's temp dir");
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root", "home/user"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("making rootfs dirs");
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox"))
            .unwrap_or_else(|e| panic!("copying {BUSYBOX}: {e} (apt-get install busybox-static)"));
        for applet in applets() {
            let _ = symlink("busybox", rootfs.join("bin").join(applet));
        }
        std::fs::write(rootfs.join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(rootfs.join("etc/group"), GROUP).unwrap();
        std::fs::write(rootfs.join("etc/hostname"), "busybox\n").unwrap();
        dir
    }

    /// `args` as process.args, no terminal.
    fn with_args(dir: TempDir, args: &[&str]) -> Bundle {
        let bundle = Bundle { dir: Some(dir) };
        let args: Vec<Value> = args.iter().map(|a| Value::from(*a)).collect();
        bundle.config_mut(|v| {
            v["process"]["args"] = Value::Array(args);
            v["process"]["terminal"] = Value::Bool(false);
        });
        bundle
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("bundle alive").path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.json")
    }

    pub fn config(&self) -> Value {
        let text = std::fs::read(self.config_path()).expect("reading config.json");
        serde_json::from_slice(&text).expect("config.json parses")
    }

    /// Reads config.json, lets `f` change it, writes it back.
    pub fn config_mut(&self, f: impl FnOnce(&mut Value)) {
        let mut v = self.config();
        f(&mut v);
        let text = serde_json::to_vec_pretty(&v).unwrap();
        std::fs::write(self.config_path(), text).expect("writing config.json");
    }

    /// Replaces config.json with raw bytes (for malformed-config tests).
    pub fn write_raw_config(&self, bytes: &[u8]) {
        std::fs::write(self.config_path(), bytes).expect("writing config.json");
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        // A mount left under the bundle (a runtime bug) may be a bind of a host
        // directory: deleting through it would delete host files. Detach
        // what we can; if anything is still mounted, leak the directory.
        let path = dir.path().to_path_buf();
        crate::clean::detach_mounts_under(&path);
        if crate::clean::mounts_under(&path).is_empty() {
            drop(dir);
        } else {
            eprintln!("leaving {} in place: still mounted under it", path.display());
            let _ = dir.keep();
        }
    }
}
