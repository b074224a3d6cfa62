//! An OCI image made by hand from the busybox root filesystem, for clients
//! that want an image rather than a bundle (containerd's CRI has no other
//! way in, and this machine reaches no registry). An image is a few content-
//! addressed files (image-spec "Image Layout"): the layer (a tar of the
//! root filesystem), a config (the default command, the layer's digest), a
//! manifest naming both, and `index.json` naming the manifest and the
//! image's name. Tar them up and `ctr images import` takes them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::output::assert_ok;

/// Writes `<dir>/image.tar`: an image of the busybox root filesystem named
/// `name` (e.g. `localhost/glassbox-busybox:cri`) whose default command is
/// `cmd`. Returns the archive's path.
pub fn busybox_image_archive(dir: &Path, name: &str, cmd: &[&str]) -> PathBuf {
    let rootfs = crate::Bundle::busybox_rootfs();
    let layout = dir.join("oci-layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("making the image layout");

    // The layer: the root filesystem as an uncompressed tar, so its digest
    // is also its diff_id (the digest of the uncompressed content).
    let layer_tar = dir.join("layer.tar");
    assert_ok(
        &Command::new("tar")
            .arg("-C")
            .arg(rootfs.path().join("rootfs"))
            .arg("-cf")
            .arg(&layer_tar)
            .arg(".")
            .output()
            .expect("running tar"),
    );
    let layer = blob(&layout, &std::fs::read(&layer_tar).expect("reading the layer"));
    std::fs::remove_file(&layer_tar).expect("removing the layer tar");

    let config = blob(
        &layout,
        &serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Env": ["PATH=/bin"], "Cmd": cmd },
            "rootfs": { "type": "layers", "diff_ids": [layer.digest] },
        }))
        .unwrap(),
    );
    let manifest = blob(
        &layout,
        &serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.descriptor("application/vnd.oci.image.config.v1+json"),
            "layers": [layer.descriptor("application/vnd.oci.image.layer.v1.tar")],
        }))
        .unwrap(),
    );
    let mut named = manifest.descriptor("application/vnd.oci.image.manifest.v1+json");
    // containerd's import takes the image's full name from this annotation.
    named["annotations"] = json!({ "io.containerd.image.name": name });
    let index = json!({ "schemaVersion": 2, "manifests": [named] });
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();

    let archive = dir.join("image.tar");
    assert_ok(
        &Command::new("tar").arg("-C").arg(&layout).arg("-cf").arg(&archive).arg(".").output().expect("running tar"),
    );
    std::fs::remove_dir_all(&layout).expect("removing the image layout");
    archive
}

/// A file stored under its own digest, as every blob of a layout is.
struct Blob {
    digest: String,
    size: usize,
}

impl Blob {
    fn descriptor(&self, media_type: &str) -> serde_json::Value {
        json!({ "mediaType": media_type, "digest": self.digest, "size": self.size })
    }
}

fn blob(layout: &Path, bytes: &[u8]) -> Blob {
    let hex: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).expect("writing a blob");
    Blob { digest: format!("sha256:{hex}"), size: bytes.len() }
}
