//! Reading a file that someone else controls — config.json, a process.json,
//! the container's /etc/passwd — without letting it stall or exhaust the
//! runtime.
//!
//! `fs::read` trusts the file: a config.json that is a symlink to /dev/zero
//! is read until memory runs out, and one that is a FIFO blocks open(2)
//! until a writer comes, which may be never. So the file is opened with
//! O_NONBLOCK (a FIFO's open then returns at once), checked with fstat(2)
//! to be a regular file — on the descriptor, so what is read is what was
//! checked — and read through a limit: one byte past it means "too large".
//! For a regular file O_NONBLOCK changes nothing (open(2): it has no effect
//! on regular files), so it is left on.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("is larger than {0}, the most glassbox reads from it")]
    TooLarge(&'static str),
}

/// A size limit and how to say it in an error.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub bytes: u64,
    pub spelled: &'static str,
}

/// Read all of `path`, which must be a regular file of at most `limit`
/// bytes (symlinks to one are followed).
pub fn read(path: &Path, limit: Limit) -> Result<Vec<u8>, ReadError> {
    let (mut file, size) = open_sized(path)?;
    // Room for the whole file and the one byte that would be too many: read
    // in one go, as fs::read does with the size it asks for.
    let mut text = Vec::with_capacity(size.min(limit.bytes) as usize + 1);
    (&mut file).take(limit.bytes + 1).read_to_end(&mut text)?;
    if text.len() as u64 > limit.bytes {
        return Err(ReadError::TooLarge(limit.spelled));
    }
    Ok(text)
}

/// Open `path` for reading, refusing anything but a regular file.
pub fn open(path: &Path) -> Result<File, ReadError> {
    open_sized(path).map(|(file, _)| file)
}

/// [`open`], and the file's size as fstat(2) gave it.
fn open_sized(path: &Path) -> Result<(File, u64), ReadError> {
    let file = File::options().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok((file, meta.len()));
    }
    Err(ReadError::NotRegular(if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limit = Limit { bytes: 8, spelled: "8 bytes" };

    #[test]
    fn a_regular_file_within_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "12345678").unwrap();
        assert_eq!(read(&path, SMALL).unwrap(), b"12345678");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(read(&link, SMALL).unwrap(), b"12345678", "a symlink to a regular file is fine");
    }

    #[test]
    fn one_byte_too_many_is_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "123456789").unwrap();
        let err = read(&path, SMALL).unwrap_err().to_string();
        assert_eq!(err, "is larger than 8 bytes, the most glassbox reads from it");
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // No writer: a blocking open would wait here for ever.
        assert_eq!(read(&fifo, SMALL).unwrap_err().to_string(), "is a FIFO, not a regular file");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(read(&zero, SMALL).unwrap_err().to_string(), "is a character device, not a regular file");
        assert_eq!(read(dir.path(), SMALL).unwrap_err().to_string(), "is a directory, not a regular file");
    }
}
