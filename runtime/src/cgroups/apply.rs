//! Making the planned writes: one write(2) per [`CgroupWrite`], into the
//! file in the directory of its controller. Each write, the refused one
//! included, is a `write` step of the stage running (cgroup, or devices for
//! the allowlist) and a --debug log line.

use std::path::PathBuf;

use super::{CgroupError, CgroupWrite, ContainerCgroup};

/// What happened to one write.
#[derive(Debug, Clone)]
pub struct CgroupWriteOutcome {
    pub path: PathBuf,
    pub value: String,
    pub field: String,
}

/// `/sys/fs/cgroup/pids/glassbox/web/pids.max <- "20" (pids.limit)`: the
/// file, the value written and the config.json field it came from.
impl std::fmt::Display for CgroupWriteOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <- {:?} ({})", self.path.display(), self.value, self.field)
    }
}

impl ContainerCgroup {
    /// Write every planned value, in order; stop at the first the kernel refuses.
    pub fn apply(&self, writes: &[CgroupWrite]) -> Result<Vec<CgroupWriteOutcome>, CgroupError> {
        let mut done = Vec::with_capacity(writes.len());
        for (i, w) in writes.iter().enumerate() {
            let dir = self
                .dir_of(w.controller)
                .ok_or_else(|| CgroupError::NoController { field: w.field.clone(), controller: w.controller })?;
            let path = existing_file(&dir, &w.file);
            if let Err(source) = write_existing(&path, &w.value) {
                // memsw must stay >= the memory limit: raising both needs memsw first.
                let swapped = w.file == "memory.limit_in_bytes"
                    && writes.get(i + 1).is_some_and(|n| n.file == "memory.memsw.limit_in_bytes")
                    && source.raw_os_error() == Some(libc::EINVAL);
                if swapped
                    && write_existing(&dir.join(&writes[i + 1].file), &writes[i + 1].value).is_ok()
                    && write_existing(&path, &w.value).is_ok()
                {
                    done.push(record(CgroupWriteOutcome { path, value: w.value.clone(), field: w.field.clone() }));
                    continue;
                }
                let err = CgroupError::Write {
                    field: w.field.clone(),
                    path: path.clone(),
                    value: w.value.clone(),
                    hint: hint(&w.file, &source),
                    source,
                };
                write_step(
                    &CgroupWriteOutcome { path, value: w.value.clone(), field: w.field.clone() },
                    &err.to_string(),
                );
                return Err(err);
            }
            done.push(record(CgroupWriteOutcome { path, value: w.value.clone(), field: w.field.clone() }));
        }
        Ok(done)
    }
}

/// A write the kernel took: logged with --debug and recorded as a step.
fn record(done: CgroupWriteOutcome) -> CgroupWriteOutcome {
    crate::log::debug(&format!("cgroup: {done}"));
    write_step(&done, "ok");
    done
}

fn write_step(w: &CgroupWriteOutcome, result: &str) {
    crate::recorder::step("write", |a| {
        a.str("field", &w.field).path("file", &w.path).str("result", result).str("value", &w.value);
    });
}

/// Write `value` into a cgroup file that must already exist. Never with
/// O_CREAT (std::fs::write): cgroupfs refuses to create a file with EACCES,
/// which would make a file this kernel lacks look like one we may not
/// write; opened as it is, a missing file is ENOENT.
fn write_existing(path: &std::path::Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new().write(true).open(path)?.write_all(value.as_bytes())
}

/// With the BFQ I/O scheduler, v1's blkio weights live in blkio.bfq.* files.
fn existing_file(dir: &std::path::Path, file: &str) -> PathBuf {
    let path = dir.join(file);
    let bfq = match file {
        "blkio.weight" => "blkio.bfq.weight",
        "blkio.weight_device" => "blkio.bfq.weight_device",
        _ => return path,
    };
    if !path.exists() && dir.join(bfq).exists() {
        dir.join(bfq)
    } else {
        path
    }
}

/// What usually makes the kernel refuse a cgroup value.
fn hint(file: &str, e: &std::io::Error) -> &'static str {
    match (e.raw_os_error(), file) {
        (
            Some(libc::ENOENT),
            "blkio.weight" | "blkio.weight_device" | "blkio.leaf_weight" | "blkio.leaf_weight_device",
        ) => {
            "no such file here, nor its blkio.bfq.* twin: blkio weights exist only while a disk uses the BFQ \
             (or, before Linux 5.0, CFQ) I/O scheduler — see /sys/block/*/queue/scheduler; leave the weight out"
        }
        (Some(libc::ENOENT), _) => {
            "no such file: this kernel's controller does not have it (an older kernel, an option it was built \
             without, or the other cgroup version's file name); leave the field out"
        }
        (Some(libc::EBUSY), f) if f.starts_with("memory.") => "the container already uses more memory than that",
        (Some(libc::EINVAL | libc::ERANGE), f) if f.starts_with("cpuset.") => {
            "no such CPU or memory node on this host (see /sys/fs/cgroup/cpuset/cpuset.effective_cpus)"
        }
        (Some(libc::EINVAL), f) if f.starts_with("cpu.") => "the value is out of the range the kernel accepts",
        (Some(libc::EINVAL), _) => "the kernel rejected the value",
        (Some(libc::EPERM | libc::EACCES), _) => {
            "this process may not write it: is the cgroup delegated to this user, or cgroupfs mounted read-only?"
        }
        _ => "",
    }
}
