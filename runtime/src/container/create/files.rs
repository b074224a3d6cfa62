//! The files `create` leaves for others: exec.fifo, where `start` finds the
//! init waiting, and `--pid-file`, which engines read as soon as create
//! returns.

use std::path::Path;

use nix::sys::stat::Mode;

use super::ContainerError;

/// exec.fifo: the init blocks opening it for writing until `start` opens it
/// for reading. 0622 so an init that changed user can still open it.
pub(super) fn make_exec_fifo(path: &Path) -> Result<(), ContainerError> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622)).map_err(|e| ContainerError::Io {
        what: "mkfifo exec.fifo",
        path: path.into(),
        source: e.into(),
    })?;
    // mkfifo applies the umask; the mode must be exactly 0622.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o622)).map_err(|source| ContainerError::Io {
        what: "chmod exec.fifo",
        path: path.into(),
        source,
    })
}

/// `--pid-file` is written only once the process exists; a directory that
/// is not there is found out before anything is made, not after.
pub(in crate::container) fn check_pid_file_dir(path: &Path) -> Result<(), ContainerError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let problem = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => "is not a directory".to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
        Err(e) => format!("cannot be looked at: {e}"),
    };
    Err(ContainerError::Usage(format!(
        "--pid-file {}: {} {problem}; make the directory first, or name a pid file in one that exists",
        path.display(),
        dir.display()
    )))
}

/// `--pid-file`: written atomically, as containerd and podman read it as soon as create returns.
pub(in crate::container) fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let io = |source| ContainerError::Io { what: "writing --pid-file", path: path.into(), source };
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let written = std::fs::write(&tmp, pid.to_string()).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A half-written or unmovable temporary file is ours to remove.
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}
