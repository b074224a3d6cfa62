//! One readable line per syscall, strace-like: `openat(dfd=-100,
//! filename=0x7ffc…, flags=0x80000, mode=0) = 3`. The argument names and C
//! types come from the kernel itself, from tracefs'
//! `events/syscalls/sys_enter_<name>/format`, read once per syscall seen
//! and kept for the next timeline in [`PARAMS_CACHE`]; a kernel without
//! syscall tracepoints gets six bare hex numbers.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::record::{Call, KernelRecord};
use crate::syscalls::syscall_name;
use crate::SyscallRecord;

/// One declared argument: its C type and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub ty: String,
    pub name: String,
}

/// The arguments of syscall `name` as its tracepoint format declares them.
pub fn syscall_params(name: &str) -> Option<Vec<Param>> {
    let root = crate::tracefs::mounted()?;
    let text = std::fs::read_to_string(root.join(format!("events/syscalls/sys_enter_{name}/format"))).ok()?;
    Some(params_in_format(&text))
}

/// The parameters in a [`PARAMS_CACHE`] file's text, by syscall number (a
/// line that does not read is skipped).
pub fn cached_params(text: &str) -> HashMap<u32, Option<Vec<Param>>> {
    let mut params = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let Some(Ok(nr)) = fields.next().map(str::parse::<u32>) else { continue };
        let rest: Vec<&str> = fields.collect();
        let list = match rest.as_slice() {
            ["-"] => None,
            decls => Some(
                decls
                    .iter()
                    .filter_map(|d| d.rsplit_once(' '))
                    .map(|(ty, name)| Param { ty: ty.into(), name: name.into() })
                    .collect(),
            ),
        };
        params.insert(nr, list);
    }
    params
}

/// One line for the cache file at `path`; best effort (not root, no /run: nothing kept).
fn keep_params(path: &Path, nr: u32, params: Option<&[Param]>) {
    let mut line = nr.to_string();
    match params {
        None => line.push_str("\t-"),
        Some(ps) => ps.iter().for_each(|p| line.push_str(&format!("\t{} {}", p.ty, p.name))),
    }
    line.push('\n');
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = std::fs::OpenOptions::new().append(true).create(true).open(path);
    if let Ok(mut file) = file {
        let _ = file.write_all(line.as_bytes());
    }
}

/// The fields after `__syscall_nr` in a sys_enter_* format.
pub fn params_in_format(format: &str) -> Vec<Param> {
    format
        .lines()
        .filter_map(|l| l.trim().strip_prefix("field:")?.split(';').next())
        .skip_while(|decl| !decl.ends_with("__syscall_nr"))
        .skip(1)
        .filter_map(|decl| {
            let (ty, name) = decl.rsplit_once(char::is_whitespace)?;
            Some(Param { ty: ty.trim().to_string(), name: name.to_string() })
        })
        .collect()
}

/// A value as its C type suggests: pointers and flag words in hex, `int`s
/// signed (so AT_FDCWD reads -100), other numbers in decimal.
pub fn format_arg(p: &Param, v: u64) -> String {
    let flaggy = ["flags", "mode", "prot", "mask", "cmd", "how"].iter().any(|w| p.name.contains(w));
    if p.ty.contains('*') || flaggy {
        if v == 0 {
            return if p.ty.contains('*') { "NULL".into() } else { "0".into() };
        }
        return format!("{v:#x}");
    }
    match p.ty.as_str() {
        "int" | "pid_t" | "key_serial_t" | "clockid_t" | "timer_t" | "mqd_t" => (v as i32).to_string(),
        "long" | "off_t" | "loff_t" | "ssize_t" => (v as i64).to_string(),
        "unsigned int" | "uid_t" | "gid_t" | "u32" | "qid_t" => (v as u32).to_string(),
        _ => v.to_string(),
    }
}

/// A return value: errors as `-1 <errno text>`, addresses in hex.
pub fn format_ret(ret: i64) -> String {
    if (-4095..0).contains(&ret) {
        format!("-1 {}", std::io::Error::from_raw_os_error(-ret as i32))
    } else if ret >= 1 << 32 {
        format!("{ret:#x}")
    } else {
        ret.to_string()
    }
}

/// Where the parameters read from tracefs are kept for the timelines that
/// come after: a `--trace` run sees some sixty different syscalls, and
/// tracefs makes each format file anew when it is read (about 1.3 ms for
/// sixty, on the printer that the runtime waits for at its end). Under
/// /run, so a reboot — and so a new kernel, whose syscalls may differ —
/// empties it. One line per syscall: its number, then a tab and `type
/// name` for each parameter (`-` alone: no tracepoint). Appended to by
/// whoever reads a format first (a line is one write(2), whole with
/// O_APPEND), so two timelines at once at worst write a line twice.
pub const PARAMS_CACHE: &str = "/run/glassbox-trace/syscall-params";

/// Formats records as lines, remembering each syscall's parameters.
#[derive(Default)]
pub struct Formatter {
    params: HashMap<u32, Option<Vec<Param>>>,
    /// Where parameters read from tracefs are kept ([`PARAMS_CACHE`]); none: not kept.
    cache: Option<PathBuf>,
}

impl Formatter {
    /// A formatter that starts from, and adds to, [`PARAMS_CACHE`].
    pub fn new() -> Formatter {
        Formatter::with_cache(Path::new(PARAMS_CACHE))
    }

    pub fn with_cache(path: &Path) -> Formatter {
        let params = std::fs::read_to_string(path).map(|text| cached_params(&text)).unwrap_or_default();
        Formatter { params, cache: Some(path.into()) }
    }

    /// `name(arg=value, …) = ret`; the container-making syscalls with
    /// their decoded arguments instead: `mount("proc", "/proc", "proc",
    /// MS_NOSUID|MS_NODEV|MS_NOEXEC, …) = 0`.
    pub fn decoded_call(&mut self, c: &Call) -> String {
        match (syscall_name(c.nr), c.decoded()) {
            (Some(name), Some(m)) => format!("{name}({}) = {}", decoded_args(name, &m), format_ret(c.ret)),
            _ => self.call(c),
        }
    }

    /// `name(arg=value, …) = ret`.
    pub fn call(&mut self, s: &SyscallRecord) -> String {
        let name = syscall_name(s.nr).map(String::from).unwrap_or_else(|| format!("syscall_{}", s.nr));
        let cache = self.cache.as_deref();
        let params = self.params.entry(s.nr).or_insert_with(|| {
            let params = syscall_params(&name);
            if let Some(path) = cache {
                keep_params(path, s.nr, params.as_deref());
            }
            params
        });
        let args: Vec<String> = match params {
            Some(ps) => ps.iter().zip(s.args).map(|(p, v)| format!("{}={}", p.name, format_arg(p, v))).collect(),
            None => s.args.iter().map(|v| format!("{v:#x}")).collect(),
        };
        format!("{name}({}) = {}", args.join(", "), format_ret(s.ret))
    }

    /// The whole line after the timestamp: `[pid] what`, with the latency
    /// for syscalls.
    pub fn line(&mut self, rec: &KernelRecord) -> String {
        match rec {
            KernelRecord::Syscall(s) => {
                let who = if s.tid == s.tgid { format!("[{}]", s.tgid) } else { format!("[{}/{}]", s.tgid, s.tid) };
                format!("{who} {}  <{}>", self.decoded_call(s), format_ns(s.latency_ns))
            }
            KernelRecord::Fork { parent, child, thread, .. } => {
                let what = if *thread { "new thread" } else { "fork" };
                format!("[{parent}] {what} → {child}")
            }
            KernelRecord::Exec { pid, filename, .. } => format!("[{pid}] exec {filename}"),
            KernelRecord::Exit { pid, exit_code: Some(code), .. } => format!("[{pid}] exit {code}"),
            KernelRecord::Exit { pid, exit_code: None, .. } => format!("[{pid}] exit (killed by a signal)"),
            KernelRecord::Namespaces { pid, why, inums, .. } => {
                let why = match *why {
                    glassbox_probes_common::ns_why::FORK => "forked",
                    glassbox_probes_common::ns_why::EXEC => "exec",
                    glassbox_probes_common::ns_why::UNSHARE => "unshare",
                    _ => "setns",
                };
                let list: Vec<String> = glassbox_probes_common::ns::NAMES
                    .iter()
                    .zip(inums)
                    .filter(|(_, &n)| n != 0)
                    .map(|(name, n)| format!("{name}:[{n}]"))
                    .collect();
                format!("[{pid}] namespaces ({why}) {}", list.join(" "))
            }
        }
    }
}

/// The argument list of a decoded call, strace-like: strings quoted,
/// flags bare, argv as a list, then `…` where numbers were left out.
pub fn decoded_args(name: &str, m: &Map<String, Value>) -> String {
    let v = |k: &str| match m.get(k) {
        Some(Value::String(s))
            if ["flags", "clone_flags", "nstype", "option", "operation", "mode", "dev", "version"].contains(&k) =>
        {
            s.clone()
        }
        Some(Value::Array(a)) => {
            let items: Vec<String> = a
                .iter()
                .map(|x| match x {
                    Value::String(s) => format!("{s:?}"),
                    other => other.to_string(),
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
        None => "?".into(),
    };
    let join = |keys: &[&str]| keys.iter().map(|k| v(k)).collect::<Vec<_>>().join(", ");
    match name {
        "mount" => format!("{}, …", join(&["source", "target", "fstype", "flags"])),
        "clone3" => format!("{{flags={}}}, …", v("clone_flags")),
        "clone" => format!("{}, …", v("clone_flags")),
        "unshare" => v("flags"),
        "setns" => join(&["fd", "nstype"]),
        "umount2" => join(&["target", "flags"]),
        "pivot_root" => join(&["new_root", "put_old"]),
        "chroot" => v("path"),
        "sethostname" => format!("{}, …", v("hostname")),
        "execve" | "execveat" => join(&["path", "argv"]),
        "openat" => format!("…, {}, …", v("path")),
        "write" => format!("{} → {}, …", v("cgroup_file"), v("value")),
        "mknod" | "mknodat" => join(&["path", "mode", "dev"]),
        "capset" => format!(
            "{{{}}}, {{effective={}, permitted={}, inheritable={}}}",
            v("version"),
            v("effective"),
            v("permitted"),
            v("inheritable")
        ),
        "prctl" => format!("{}, {}, …", v("option"), v("arg2")),
        "seccomp" => format!("{}, {}, …", v("operation"), v("flags")),
        _ => m.iter().map(|(k, _)| format!("{k}={}", v(k))).collect::<Vec<_>>().join(", "),
    }
}

/// 850ns, 12.3µs, 4.56ms, 1.20s.
pub fn format_ns(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{:.1}µs", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_once_are_kept_for_the_next_formatter() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("params");
        let openat = params_in_format(OPENAT);
        keep_params(&cache, 257, Some(&openat));
        keep_params(&cache, 39, Some(&[]));
        keep_params(&cache, 999, None);
        let kept = cached_params(&std::fs::read_to_string(&cache).unwrap());
        assert_eq!(kept[&257].as_deref(), Some(openat.as_slice()));
        assert_eq!(kept[&39].as_deref(), Some(&[][..]), "getpid takes nothing");
        assert_eq!(kept[&999], None, "no tracepoint");
        // A formatter starting from the file formats without tracefs.
        let mut fmt = Formatter::with_cache(&cache);
        let call =
            SyscallRecord { nr: 257, args: [0xffff_ff9c, 0x1000, 0x80000, 0, 0, 0], ret: 3, ..Default::default() };
        assert_eq!(fmt.call(&call), "openat(dfd=-100, filename=0x1000, flags=0x80000, mode=0) = 3");
    }

    const OPENAT: &str = "name: sys_enter_openat
format:
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;
";

    #[test]
    fn parameters_come_from_the_tracepoint_format() {
        let ps = params_in_format(OPENAT);
        let names: Vec<(&str, &str)> = ps.iter().map(|p| (p.ty.as_str(), p.name.as_str())).collect();
        assert_eq!(names, [("int", "dfd"), ("const char *", "filename"), ("int", "flags"), ("umode_t", "mode")]);
        assert_eq!(format_arg(&ps[0], (-100i64) as u64), "-100");
        assert_eq!(format_arg(&ps[1], 0x7ffc_1234), "0x7ffc1234");
        assert_eq!(format_arg(&ps[2], 0x80000), "0x80000");
        assert_eq!(format_arg(&Param { ty: "size_t".into(), name: "count".into() }, 4096), "4096");
    }

    #[test]
    fn decoded_calls_read_like_strace() {
        let mut fmt = Formatter::new();
        let mut d = crate::decoded::detail(165, &[b"proc"], 0, [0; 4]);
        d.strs[1][..5].copy_from_slice(b"/proc");
        d.strs[2][..4].copy_from_slice(b"proc");
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        let mut c = Call::new(SyscallRecord { nr: 165, args: [0, 0, 0, flags, 0, 0], ..Default::default() });
        c.detail = Some(Box::new(d));
        assert_eq!(fmt.decoded_call(&c), r#"mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, …) = 0"#);

        let mut c = Call::new(SyscallRecord { nr: 435, ret: 4242, ..Default::default() });
        let f = (libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64;
        c.detail = Some(Box::new(crate::decoded::detail(435, &[], 0, [f, 0, 0, 0])));
        assert_eq!(fmt.decoded_call(&c), "clone3({flags=CLONE_NEWNS|CLONE_NEWPID}, …) = 4242");

        let mut c = Call::new(SyscallRecord { nr: 59, ..Default::default() });
        c.detail = Some(Box::new(crate::decoded::detail(59, &[b"/bin/sh", b"sh\0-c\0true\0"], 3, [0; 4])));
        assert_eq!(fmt.decoded_call(&c), r#"execve("/bin/sh", ["sh","-c","true"]) = 0"#);

        let ns = KernelRecord::Namespaces {
            ts_ns: 0,
            pid: 5,
            why: 1,
            owner: 1,
            cgroup_id: 0,
            inums: [1, 2, 2, 3, 4, 5, 6, 0],
        };
        assert_eq!(
            fmt.line(&ns),
            "[5] namespaces (forked) mnt:[1] pid:[2] pid_for_children:[2] net:[3] uts:[4] ipc:[5] user:[6]"
        );
    }

    #[test]
    fn returns_and_latencies_read_like_strace() {
        assert_eq!(format_ret(3), "3");
        assert!(format_ret(-2).starts_with("-1 No such file or directory"), "{}", format_ret(-2));
        assert_eq!(format_ret(0x7f00_0000_0000), "0x7f0000000000");
        assert_eq!(format_ns(850), "850ns");
        assert_eq!(format_ns(12_345), "12.3µs");
        assert_eq!(format_ns(4_560_000), "4.56ms");
    }
}
