//! The end-to-end harness: it makes busybox bundles, drives the real
//! `glassbox` binary with a private `--root` per test, and checks from the
//! host side (/proc, /sys/fs/cgroup, mountinfo) that a container left nothing
//! behind. Tests live in `tests/tests/*.rs`, one file per feature area; they
//! must run as root because they make real namespaces, mounts and cgroups.

pub mod binary;
pub mod bundle;
pub mod clean;
pub mod console;
pub mod output;
pub mod runtime;
pub mod spec;

pub use binary::{glassbox_bin, require_root, unique_id};
pub use bundle::Bundle;
pub use clean::{host_ns, wait_until};
pub use output::{assert_fails, assert_ok, stderr, stdout};
pub use runtime::Runtime;
