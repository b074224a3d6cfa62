//! `process.args[0]`: finding the container's program before `Ready`, so
//! that a typo fails `create` (or `exec`) rather than `start`, and saying
//! why it cannot be run the way a shell and the engines do.
//!
//! The search is execvp(3)'s, with the container's PATH and inside its root
//! (the init has pivoted by then): a name with a `/` is taken as it is; a
//! bare name is looked for in each PATH directory in turn, a file there
//! that is not executable is passed over, and only if nothing executable is
//! found is it reported — as "permission denied" when such a file was seen.
//!
//! Two outcomes, two exit statuses, the shell's convention (bash(1),
//! "EXIT STATUS"): **127** when there is nothing by that name, **126** when
//! there is but it cannot be executed. The process that finds out exits
//! with that status, and `run` and `exec` pass it on. The message carries
//! the words engines look for: podman turns "executable file not found in"
//! or "no such file or directory" into 127 and "permission denied" into 126
//! for its own `run` and `exec`.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use glassbox_events::StepArgs;
use oci_spec::runtime::Process;

use super::init::Failure;
use super::sealed_exec::{CapsToCarry, SealedExec};
use crate::security;

/// The shell's exit status for a command that was not found.
pub const NOT_FOUND: i32 = 127;
/// The shell's exit status for a command found but not executable.
pub const NOT_EXECUTABLE: i32 = 126;

/// Why process.args[0] cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum NotRunnable {
    #[error(
        "process.args[0] {program:?}: no such executable in the container: executable file not found in $PATH \
         (searched PATH={path} of process.env)"
    )]
    NotInPath { program: String, path: String },
    #[error("process.args[0] {program:?}: no such file or directory in the container")]
    NoSuchFile { program: String },
    #[error(
        "process.args[0] {program:?}: permission denied: {} is {what}; execve(2) runs a regular file with an \
         execute bit", path.display()
    )]
    NotExecutable { program: String, path: PathBuf, what: String },
}

impl NotRunnable {
    pub fn exit_code(&self) -> i32 {
        match self {
            NotRunnable::NotExecutable { .. } => NOT_EXECUTABLE,
            NotRunnable::NotInPath { .. } | NotRunnable::NoSuchFile { .. } => NOT_FOUND,
        }
    }

    /// The failure `create` or `exec` reports, exiting with the shell's status.
    fn failure(self) -> Failure {
        let exit_code = self.exit_code();
        Failure::new(self.to_string()).with_exit_code(exit_code)
    }
}

/// PATH when process.env has none: what a shell assumes.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `candidate` is, for execve(2): runnable, missing, or there but not runnable (and why).
fn look_at(candidate: &Path) -> Result<(), Option<String>> {
    match std::fs::metadata(candidate) {
        Err(_) => Err(None),
        Ok(m) if m.is_dir() => Err(Some("a directory".into())),
        Ok(m) if !m.is_file() => Err(Some("not a regular file".into())),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => {
            Err(Some(format!("not executable (mode {:04o})", m.permissions().mode() & 0o7777)))
        }
        Ok(_) => Ok(()),
    }
}

/// execvp(3)'s search, with the container's PATH.
pub fn find_program(program: &str, env: &[String]) -> Result<PathBuf, NotRunnable> {
    let not_executable = |path: PathBuf, what| NotRunnable::NotExecutable { program: program.into(), path, what };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return match look_at(&path) {
            Ok(()) => Ok(path),
            Err(None) => Err(NotRunnable::NoSuchFile { program: program.into() }),
            Err(Some(what)) => Err(not_executable(path, what)),
        };
    }
    let path_var = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    let mut seen = None;
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        match look_at(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Some(what)) if seen.is_none() => seen = Some((candidate, what)),
            Err(_) => {}
        }
    }
    Err(match seen {
        Some((path, what)) if !program.is_empty() => not_executable(path, what),
        _ => NotRunnable::NotInPath { program: program.into(), path: path_var.into() },
    })
}

/// The program to run, found before `Ready`.
pub struct ExecTarget {
    path: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
    /// How it will be started: the sealed copy of glassbox-exec, for the record.
    via: String,
}

impl ExecTarget {
    pub fn resolve(process: &Process, sealed: &SealedExec) -> Result<ExecTarget, Failure> {
        let args = process.args().clone().unwrap_or_default();
        let mut env = process.env().clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", security::home_for_uid(Path::new("/etc/passwd"), process.user().uid())));
        }
        let program = args.first().cloned().unwrap_or_default();
        let path = find_program(&program, &env).map_err(NotRunnable::failure)?;
        let cstr = |s: &str| CString::new(s).map_err(|_| Failure::new(format!("{s:?} contains a NUL byte")));
        Ok(ExecTarget {
            path: cstr(&path.to_string_lossy())?,
            argv: args.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?,
            env: env.iter().map(|e| cstr(e)).collect::<Result<_, _>>()?,
            via: sealed.describe(),
        })
    }

    /// The arguments of the `execve` step about to happen: path, argv, env
    /// count, and the sealed copy it goes through.
    pub fn step_args(&self, a: &mut StepArgs) {
        a.strs("argv", self.argv.iter().map(|arg| arg.to_string_lossy()))
            .uint("env_count", self.env.len() as u64)
            .str("path", &self.path.to_string_lossy())
            .str("via", &self.via);
    }

    /// execve through the sealed copy ([`sealed_exec`](super::sealed_exec)).
    /// `report`: where glassbox-exec says why the program could not be
    /// exec'd (exec.fifo, which `start` reads), or None for stderr.
    pub fn exec(
        self,
        sealed: &SealedExec,
        carry: Option<&CapsToCarry>,
        report: Option<RawFd>,
    ) -> Result<std::convert::Infallible, Failure> {
        let err = sealed.exec(carry, report, &self.path, &self.argv, &self.env);
        Err(Failure::new(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(path: &str) -> Vec<String> {
        vec![format!("PATH={path}")]
    }

    #[test]
    fn each_way_of_not_being_runnable_has_its_status_and_words() {
        let t = tempfile::tempdir().unwrap();
        let (first, second) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let plain = first.join("tool");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = format!("{}:{}", first.display(), second.display());

        let missing = find_program("nosuch", &env(&path)).unwrap_err();
        assert_eq!(missing.exit_code(), 127);
        assert!(missing.to_string().contains("executable file not found in $PATH"), "{missing}");

        let absent = find_program("/no/such/file", &env(&path)).unwrap_err();
        assert_eq!(absent.exit_code(), 127);
        assert!(absent.to_string().contains("no such file or directory"), "{absent}");

        // Found only without an execute bit: execvp(3) says EACCES, a shell 126.
        let denied = find_program("tool", &env(&path)).unwrap_err();
        assert_eq!(denied.exit_code(), 126);
        assert!(denied.to_string().contains("permission denied") && denied.to_string().contains("0644"));
        let dir = find_program(&first.to_string_lossy(), &env(&path)).unwrap_err();
        assert!(dir.to_string().contains("a directory"), "{dir}");
        assert_eq!(dir.exit_code(), 126);

        // An executable one later in PATH wins over the one that is not.
        let runnable = second.join("tool");
        std::fs::write(&runnable, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&runnable, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_program("tool", &env(&path)).unwrap(), runnable);
    }

    #[test]
    fn the_words_of_one_case_are_not_those_of_the_other() {
        // podman checks "permission denied" first: a missing program must not say it.
        let missing = NotRunnable::NotInPath { program: "x".into(), path: DEFAULT_PATH.into() }.to_string();
        let absent = NotRunnable::NoSuchFile { program: "/x".into() }.to_string();
        for text in [missing, absent] {
            let lower = text.to_lowercase();
            assert!(!lower.contains("permission denied") && !lower.contains("operation not permitted"), "{text}");
        }
    }
}
