//! `glassbox trace` from the command line, and reading its lines.

use std::process::{Command, Output, Stdio};

use crate::glassbox_bin;

/// `glassbox trace ARGS…` (options, then `--` and the command), its output.
pub fn trace(args: &[&str]) -> Output {
    Command::new(glassbox_bin()).arg("trace").args(args).stdin(Stdio::null()).output().expect("running glassbox trace")
}

/// The pid in a trace line's `[pid]` or `[pid/tid]` column.
pub fn pid_of(line: &str) -> Option<u32> {
    line.split('[').nth(1)?.split(']').next()?.split('/').next()?.parse().ok()
}
