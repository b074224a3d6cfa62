//! The end-to-end harness: it makes busybox bundles, drives the real
//! `glassbox` binary with a private `--root` per test, and checks from the
//! host side (/proc, /sys/fs/cgroup, mountinfo) that a container left nothing
//! behind. Tests live in `tests/tests/*.rs`, one file per feature area; they
//! must run as root because they make real namespaces, mounts and cgroups.
//!
//! Run: `cargo build -p glassbox && cargo test -p glassbox-e2e` (as root).
//! `GLASSBOX_BIN=/path/to/glassbox` tests another build; otherwise the binary
//! is looked for in `$CARGO_TARGET_DIR/debug`, then `<workspace>/target/debug`,
//! and refused when a file it was built from changed since (forgotten build).
//! Every test has its own `--root`, ids and bundles, so they run in parallel.

pub mod attack;
pub mod binary;
pub mod bundle;
pub mod clean;
pub mod console;
pub mod containerd;
pub mod dashboard;
pub mod oci_image;
pub mod output;
pub mod record;
pub mod refused;
pub mod rootless;
pub mod runtime;
pub mod spec;
pub mod trace;

pub use binary::{glassbox_bin, glassbox_cri_bin, require_root, unique_id};
pub use bundle::Bundle;
pub use clean::{host_ns, wait_until};
pub use output::{assert_fails, assert_ok, stderr, stdout};
pub use record::{kept_record_path, record_of, record_path};
pub use refused::refused;
pub use runtime::{run_in_container, Runtime};
