//! Reading a finished command: its text, and the runc conventions every verb
//! follows (success = exit 0; failure = exit 1 with one line on stderr).

use std::process::Output;

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Panics with both streams unless the command exited 0.
#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "expected success, got {:?}\nstdout: {}\nstderr: {}", o.status, stdout(o), stderr(o));
}

/// Asserts a runtime error: exit status 1 and exactly one non-empty line on
/// stderr. Returns that line so the caller can check what it names.
#[track_caller]
pub fn assert_fails(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1, got {:?}\nstdout: {}\nstderr: {}", o.status, stdout(o), err);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line on stderr, got:\n{err}");
    lines[0].to_string()
}
