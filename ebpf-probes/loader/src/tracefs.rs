//! tracefs, where the kernel publishes its tracepoints (Documentation/trace/
//! ftrace.rst): making sure it is mounted, and reading a tracepoint's record
//! layout from its `format` file, since fields move between kernel versions
//! (sched_process_fork's child_pid sat at offset 44 before comm became a
//! __data_loc; it is at 20 on 6.x).

use std::path::{Path, PathBuf};

use crate::error::Unavailable;

const MOUNT_POINTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Where tracefs is mounted, if it is.
pub fn mounted() -> Option<PathBuf> {
    MOUNT_POINTS.iter().map(Path::new).find(|p| p.join("events").is_dir()).map(Path::to_path_buf)
}

/// The tracefs root, mounting it at /sys/kernel/tracing when no mount is
/// there (a fresh machine may have none): `mount -t tracefs nodev …`.
pub fn ensure_mounted() -> Result<PathBuf, Unavailable> {
    if let Some(p) = mounted() {
        return Ok(p);
    }
    let target = Path::new(MOUNT_POINTS[0]);
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL in constant strings");
    let (src, dst, fstype) = (c("nodev"), c(MOUNT_POINTS[0]), c("tracefs"));
    // SAFETY: all pointers are valid NUL-terminated strings; data may be NULL.
    let rc = unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(Unavailable::NoTracefs(std::io::Error::last_os_error()));
    }
    Ok(target.to_path_buf())
}

/// The byte offset of `field` in tracepoint `category/name`'s record.
pub fn field_offset(tracefs: &Path, category: &str, name: &str, field: &str) -> Result<u32, Unavailable> {
    let path = tracefs.join("events").join(category).join(name).join("format");
    let text =
        std::fs::read_to_string(&path).map_err(|e| Unavailable::Tracepoint(format!("{}: {e}", path.display())))?;
    offset_in_format(&text, field)
        .ok_or_else(|| Unavailable::Tracepoint(format!("{}: no field {field:?}", path.display())))
}

/// Parses lines like `field:pid_t child_pid; offset:20; size:4; signed:1;`.
pub fn offset_in_format(format: &str, field: &str) -> Option<u32> {
    format.lines().find_map(|line| {
        let decl = line.trim().strip_prefix("field:")?.split(';').next()?;
        let name = decl.split_whitespace().last()?.split('[').next()?;
        if name != field {
            return None;
        }
        line.split(';').find_map(|part| part.trim().strip_prefix("offset:")?.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORK: &str = "name: sched_process_fork
ID: 316
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;
\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;
";

    #[test]
    fn offsets_are_read_from_the_format() {
        assert_eq!(offset_in_format(FORK, "child_pid"), Some(20));
        assert_eq!(offset_in_format(FORK, "parent_pid"), Some(12));
        assert_eq!(offset_in_format(FORK, "child_comm"), Some(16));
        assert_eq!(offset_in_format(FORK, "pid"), None);
        assert_eq!(offset_in_format("\tfield:char comm[16];\toffset:8;\tsize:16;", "comm"), Some(8));
    }
}
