//! The arguments of the syscalls that make a container, decoded for people
//! and for the dashboard: flag words become names (`MS_BIND|MS_REC`,
//! `CLONE_NEWNS|CLONE_NEWPID`), and the strings the kernel side read from
//! user memory (a DetailRecord) get their meaning (`source`, `target`,
//! `argv`, `cgroup_file`, …). Pure: numbers and bytes in, a JSON map out.
//! See clone(2), mount(2), umount2(2), setns(2), prctl(2), seccomp(2),
//! capabilities(7).

use glassbox_probes_common::{DetailRecord, SyscallRecord, DETAIL_STR_LEN};
use serde_json::{json, Map, Value};

use crate::record::c_string;
use crate::syscalls::syscall_name;

/// clone(2)/unshare(2) namespace and process flags.
const CLONE_FLAGS: &[(u64, &str)] = &[
    (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (libc::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
    (libc::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
    (libc::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
    (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET as u64, "CLONE_NEWNET"),
    (libc::CLONE_NEWTIME as u64, "CLONE_NEWTIME"),
    (libc::CLONE_VM as u64, "CLONE_VM"),
    (libc::CLONE_FS as u64, "CLONE_FS"),
    (libc::CLONE_FILES as u64, "CLONE_FILES"),
    (libc::CLONE_SIGHAND as u64, "CLONE_SIGHAND"),
    (libc::CLONE_PIDFD as u64, "CLONE_PIDFD"),
    (libc::CLONE_PTRACE as u64, "CLONE_PTRACE"),
    (libc::CLONE_VFORK as u64, "CLONE_VFORK"),
    (libc::CLONE_PARENT as u64, "CLONE_PARENT"),
    (libc::CLONE_THREAD as u64, "CLONE_THREAD"),
    (libc::CLONE_SYSVSEM as u64, "CLONE_SYSVSEM"),
    (libc::CLONE_SETTLS as u64, "CLONE_SETTLS"),
    (libc::CLONE_PARENT_SETTID as u64, "CLONE_PARENT_SETTID"),
    (libc::CLONE_CHILD_CLEARTID as u64, "CLONE_CHILD_CLEARTID"),
    (libc::CLONE_UNTRACED as u64, "CLONE_UNTRACED"),
    (libc::CLONE_CHILD_SETTID as u64, "CLONE_CHILD_SETTID"),
    (libc::CLONE_IO as u64, "CLONE_IO"),
    // clone3(2) only: its flags are 64 bits wide.
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

/// mount(2) flags.
const MS_FLAGS: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
    (libc::MS_REMOUNT, "MS_REMOUNT"),
    (libc::MS_MANDLOCK, "MS_MANDLOCK"),
    (libc::MS_DIRSYNC, "MS_DIRSYNC"),
    (libc::MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"),
    (libc::MS_NOATIME, "MS_NOATIME"),
    (libc::MS_NODIRATIME, "MS_NODIRATIME"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_MOVE, "MS_MOVE"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_SILENT, "MS_SILENT"),
    (libc::MS_POSIXACL, "MS_POSIXACL"),
    (libc::MS_UNBINDABLE, "MS_UNBINDABLE"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
    (libc::MS_SLAVE, "MS_SLAVE"),
    (libc::MS_SHARED, "MS_SHARED"),
    (libc::MS_RELATIME, "MS_RELATIME"),
    (libc::MS_KERNMOUNT, "MS_KERNMOUNT"),
    (libc::MS_I_VERSION, "MS_I_VERSION"),
    (libc::MS_STRICTATIME, "MS_STRICTATIME"),
    (libc::MS_LAZYTIME, "MS_LAZYTIME"),
];

/// umount2(2) flags.
const UMOUNT_FLAGS: &[(u64, &str)] = &[
    (libc::MNT_FORCE as u64, "MNT_FORCE"),
    (libc::MNT_DETACH as u64, "MNT_DETACH"),
    (libc::MNT_EXPIRE as u64, "MNT_EXPIRE"),
    (libc::UMOUNT_NOFOLLOW as u64, "UMOUNT_NOFOLLOW"),
];

/// setns(2) nstype (0: any kind, the fd says): the namespace flags, which
/// open CLONE_FLAGS.
const NS_TYPES: &[(u64, &str)] = CLONE_FLAGS.split_at(8).0;

/// prctl(2) options a container runtime uses.
const PRCTL_OPTIONS: &[(u64, &str)] = &[
    (libc::PR_SET_PDEATHSIG as u64, "PR_SET_PDEATHSIG"),
    (libc::PR_GET_PDEATHSIG as u64, "PR_GET_PDEATHSIG"),
    (libc::PR_GET_DUMPABLE as u64, "PR_GET_DUMPABLE"),
    (libc::PR_SET_DUMPABLE as u64, "PR_SET_DUMPABLE"),
    (libc::PR_GET_KEEPCAPS as u64, "PR_GET_KEEPCAPS"),
    (libc::PR_SET_KEEPCAPS as u64, "PR_SET_KEEPCAPS"),
    (libc::PR_SET_NAME as u64, "PR_SET_NAME"),
    (libc::PR_GET_NAME as u64, "PR_GET_NAME"),
    (libc::PR_GET_SECCOMP as u64, "PR_GET_SECCOMP"),
    (libc::PR_SET_SECCOMP as u64, "PR_SET_SECCOMP"),
    (libc::PR_CAPBSET_READ as u64, "PR_CAPBSET_READ"),
    (libc::PR_CAPBSET_DROP as u64, "PR_CAPBSET_DROP"),
    (libc::PR_GET_SECUREBITS as u64, "PR_GET_SECUREBITS"),
    (libc::PR_SET_SECUREBITS as u64, "PR_SET_SECUREBITS"),
    (libc::PR_SET_CHILD_SUBREAPER as u64, "PR_SET_CHILD_SUBREAPER"),
    (libc::PR_GET_CHILD_SUBREAPER as u64, "PR_GET_CHILD_SUBREAPER"),
    (libc::PR_SET_NO_NEW_PRIVS as u64, "PR_SET_NO_NEW_PRIVS"),
    (libc::PR_GET_NO_NEW_PRIVS as u64, "PR_GET_NO_NEW_PRIVS"),
    (libc::PR_CAP_AMBIENT as u64, "PR_CAP_AMBIENT"),
];

/// seccomp(2) operations.
const SECCOMP_OPS: &[(u64, &str)] = &[
    (libc::SECCOMP_SET_MODE_STRICT as u64, "SECCOMP_SET_MODE_STRICT"),
    (libc::SECCOMP_SET_MODE_FILTER as u64, "SECCOMP_SET_MODE_FILTER"),
    (libc::SECCOMP_GET_ACTION_AVAIL as u64, "SECCOMP_GET_ACTION_AVAIL"),
    (libc::SECCOMP_GET_NOTIF_SIZES as u64, "SECCOMP_GET_NOTIF_SIZES"),
];

/// seccomp(2) SECCOMP_SET_MODE_FILTER flags.
const SECCOMP_FILTER_FLAGS: &[(u64, &str)] = &[
    (libc::SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
    (libc::SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
    (libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
    (libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
    (libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
];

/// `A|B|0x40` for the bits of `v` named in `table`, the rest in hex; "0"
/// for none.
pub fn flag_names(v: u64, table: &[(u64, &str)]) -> String {
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, name) in table {
        if bit != 0 && v & bit == bit && rest & bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

/// clone(2)'s flag word: CLONE_* names; its low byte is the signal sent to
/// the parent at exit (SIGCHLD usually), not a flag.
pub fn clone_flags(v: u64) -> String {
    let sig = v & 0xff;
    let names = flag_names(v & !0xff, CLONE_FLAGS);
    match (names.as_str(), sig) {
        (_, 0) => names,
        ("0", s) => signal_name(s),
        (n, s) => format!("{n}|{}", signal_name(s)),
    }
}

fn signal_name(sig: u64) -> String {
    if sig == libc::SIGCHLD as u64 {
        "SIGCHLD".into()
    } else {
        format!("signal {sig}")
    }
}

/// mount(2) flags as MS_* names.
pub fn mount_flags(v: u64) -> String {
    flag_names(v, MS_FLAGS)
}

/// setns(2)'s nstype: which kind of namespace the fd must be (0: any).
pub fn nstype(v: u64) -> String {
    if v == 0 {
        "0 (any)".into()
    } else {
        flag_names(v, NS_TYPES)
    }
}

/// One value of an enumeration, or the number.
fn one_of(v: u64, table: &[(u64, &str)]) -> String {
    table.iter().find(|(n, _)| *n == v).map(|(_, s)| s.to_string()).unwrap_or_else(|| v.to_string())
}

/// prctl(2)'s option.
pub fn prctl_option(v: u64) -> String {
    one_of(v, PRCTL_OPTIONS)
}

/// seccomp(2)'s operation.
pub fn seccomp_op(v: u64) -> String {
    one_of(v, SECCOMP_OPS)
}

/// The names of the capabilities set in a 64-bit mask.
/// Bits this build of the `caps` crate has no name for show as `CAP_<bit>`.
pub fn cap_names(mask: u64) -> Vec<String> {
    let known: std::collections::HashMap<u8, String> =
        caps::all().into_iter().map(|c| (c.index(), c.to_string())).collect();
    (0u8..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| known.get(&b).cloned().unwrap_or_else(|| format!("CAP_{b}")))
        .collect()
}

/// execve's argv as the kernel side packed it: `count` NUL-terminated
/// strings from strs[1] on, running on into strs[2].
pub fn argv(d: &DetailRecord) -> Vec<String> {
    let area: Vec<u8> = d.strs[1].iter().chain(d.strs[2].iter()).copied().collect();
    area.split(|&b| b == 0).take(d.count as usize).map(|s| String::from_utf8_lossy(s).into_owned()).collect()
}

/// The decoded arguments of `s`, with its detail when the probes sent one;
/// `None` for a syscall this does not decode.
pub fn decode_args(s: &SyscallRecord, d: Option<&DetailRecord>) -> Option<Map<String, Value>> {
    let a = s.args;
    let st = |i: usize| d.map(|d| c_string(&d.strs[i]));
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    match syscall_name(s.nr)? {
        "clone" => put("clone_flags", json!(clone_flags(a[0]))),
        "clone3" => put("clone_flags", json!(clone_flags(d?.nums[0]))),
        "unshare" => put("flags", json!(flag_names(a[0], CLONE_FLAGS))),
        "setns" => {
            put("fd", json!(a[0] as i32));
            put("nstype", json!(nstype(a[1])));
        }
        "mount" => {
            put("source", json!(st(0)?));
            put("target", json!(st(1)?));
            put("fstype", json!(st(2)?));
            put("flags", json!(mount_flags(a[3])));
        }
        "umount2" => {
            put("target", json!(st(0)?));
            put("flags", json!(flag_names(a[1], UMOUNT_FLAGS)));
        }
        "pivot_root" => {
            put("new_root", json!(st(0)?));
            put("put_old", json!(st(1)?));
        }
        "chroot" => put("path", json!(st(0)?)),
        "sethostname" => {
            let d = d?;
            let len = (a[1] as usize).min(DETAIL_STR_LEN);
            put("hostname", json!(c_string(&d.strs[0][..len])));
        }
        "execve" | "execveat" => {
            put("path", json!(st(0)?));
            put("argv", json!(argv(d?)));
        }
        "openat" => put("path", json!(st(0)?)),
        "write" => {
            let d = d?;
            put("cgroup_file", json!(c_string(&d.strs[0])));
            let n = (d.count as usize).min(DETAIL_STR_LEN);
            put("value", json!(String::from_utf8_lossy(&d.strs[1][..n])));
        }
        "mknod" | "mknodat" => {
            put("path", json!(st(0)?));
            let (mode, dev) = if s.nr == libc::SYS_mknod as u32 { (a[1], a[2]) } else { (a[2], a[3]) };
            put("mode", json!(format!("{mode:#o}")));
            put("dev", json!(format!("{}:{}", libc::major(dev), libc::minor(dev))));
        }
        "capset" => {
            let d = d?;
            put("version", json!(format!("{:#x}", d.nums[3])));
            put("effective", json!(cap_names(d.nums[0])));
            put("permitted", json!(cap_names(d.nums[1])));
            put("inheritable", json!(cap_names(d.nums[2])));
        }
        "prctl" => {
            put("option", json!(prctl_option(a[0])));
            put("arg2", json!(a[1]));
        }
        "seccomp" => {
            put("operation", json!(seccomp_op(a[0])));
            put("flags", json!(flag_names(a[1], SECCOMP_FILTER_FLAGS)));
        }
        _ => return None,
    }
    Some(m)
}

#[cfg(test)]
pub(crate) fn detail(nr: u32, strs: &[&[u8]], count: u32, nums: [u64; 4]) -> DetailRecord {
    let mut d = DetailRecord {
        kind: glassbox_probes_common::RecordKind::Detail as u32,
        nr,
        tid: 11,
        tgid: 10,
        ts_ns: 100,
        owner: 1,
        count,
        nums,
        strs: [[0; DETAIL_STR_LEN]; 3],
    };
    let mut area = Vec::new();
    for (i, s) in strs.iter().enumerate() {
        if i == 0 {
            d.strs[0][..s.len()].copy_from_slice(s);
        } else {
            area.extend_from_slice(s);
        }
    }
    for (i, b) in area.into_iter().enumerate().take(2 * DETAIL_STR_LEN) {
        d.strs[1 + i / DETAIL_STR_LEN][i % DETAIL_STR_LEN] = b;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setns_types_are_the_namespace_flags_of_the_clone_table() {
        assert!(NS_TYPES.iter().all(|(_, name)| name.starts_with("CLONE_NEW")), "{NS_TYPES:?}");
        assert!(!CLONE_FLAGS[NS_TYPES.len()..].iter().any(|(_, name)| name.starts_with("CLONE_NEW")));
    }

    fn call(nr: u32, args: [u64; 6]) -> SyscallRecord {
        SyscallRecord { nr, args, ..Default::default() }
    }

    #[test]
    fn flags_are_named_from_libc() {
        let f = (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::SIGCHLD) as u64;
        assert_eq!(clone_flags(f), "CLONE_NEWNS|CLONE_NEWPID|SIGCHLD");
        assert_eq!(clone_flags(libc::SIGCHLD as u64), "SIGCHLD");
        assert_eq!(mount_flags(libc::MS_BIND | libc::MS_REC), "MS_BIND|MS_REC");
        assert_eq!(mount_flags(0), "0");
        assert_eq!(mount_flags(1 << 40), "0x10000000000");
        assert_eq!(nstype(libc::CLONE_NEWNET as u64), "CLONE_NEWNET");
        assert_eq!(nstype(0), "0 (any)");
        assert_eq!(prctl_option(libc::PR_SET_NO_NEW_PRIVS as u64), "PR_SET_NO_NEW_PRIVS");
        assert_eq!(prctl_option(9999), "9999");
        assert_eq!(seccomp_op(libc::SECCOMP_SET_MODE_FILTER as u64), "SECCOMP_SET_MODE_FILTER");
        assert_eq!(cap_names(1 << 21 | 1), ["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    }

    #[test]
    fn mount_and_execve_details_become_named_arguments() {
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        let d = detail(165, &[b"proc", b"/proc", b"proc"], 0, [0; 4]);
        // strs[1] and strs[2] hold target and fstype for a mount.
        let mut d2 = d;
        d2.strs[1] = [0; DETAIL_STR_LEN];
        d2.strs[1][..5].copy_from_slice(b"/proc");
        d2.strs[2] = [0; DETAIL_STR_LEN];
        d2.strs[2][..4].copy_from_slice(b"proc");
        let m = decode_args(&call(165, [1, 2, 3, flags, 0, 0]), Some(&d2)).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"source":"proc","target":"/proc","fstype":"proc",
            "flags":"MS_NOSUID|MS_NODEV|MS_NOEXEC"})
        );

        let e = detail(59, &[b"/bin/sh", b"sh\0-c\0echo hi\0"], 3, [0; 4]);
        let m = decode_args(&call(59, [0; 6]), Some(&e)).unwrap();
        assert_eq!(m["argv"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(m["path"], "/bin/sh");
        // Without its detail, a string-carrying call is not decoded.
        assert_eq!(decode_args(&call(59, [0; 6]), None), None);
        assert_eq!(decode_args(&call(0, [0; 6]), None), None);
    }

    #[test]
    fn numbers_only_calls_decode_without_a_detail() {
        let m = decode_args(&call(272, [(libc::CLONE_NEWUTS | libc::CLONE_NEWIPC) as u64, 0, 0, 0, 0, 0]), None);
        assert_eq!(m.unwrap()["flags"], "CLONE_NEWUTS|CLONE_NEWIPC");
        let m = decode_args(&call(308, [5, libc::CLONE_NEWNS as u64, 0, 0, 0, 0]), None).unwrap();
        assert_eq!((m["fd"].clone(), m["nstype"].clone()), (json!(5), json!("CLONE_NEWNS")));
        let c3 = detail(435, &[], 0, [(libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64, 0, 0, 0]);
        assert_eq!(decode_args(&call(435, [0; 6]), Some(&c3)).unwrap()["clone_flags"], "CLONE_NEWNS|CLONE_NEWPID");
        let caps = detail(126, &[], 0, [1 << 21, 1 << 21, 0, 0x2008_0522]);
        let m = decode_args(&call(126, [0; 6]), Some(&caps)).unwrap();
        assert_eq!(m["effective"], json!(["CAP_SYS_ADMIN"]));
        assert_eq!(m["inheritable"], json!([]));
    }

    #[test]
    fn cgroup_writes_and_hostnames_are_cut_where_the_call_said() {
        let w = detail(1, &[b"/sys/fs/cgroup/x/memory.max", b"1048576\0junk"], 7, [7, 0, 0, 0]);
        let m = decode_args(&call(1, [3, 0, 7, 0, 0, 0]), Some(&w)).unwrap();
        assert_eq!(
            (m["cgroup_file"].clone(), m["value"].clone()),
            (json!("/sys/fs/cgroup/x/memory.max"), json!("1048576"))
        );
        let h = detail(170, &[b"boxnamejunk"], 0, [0; 4]);
        assert_eq!(decode_args(&call(170, [0, 7, 0, 0, 0, 0]), Some(&h)).unwrap()["hostname"], "boxname");
    }
}
