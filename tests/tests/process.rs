//! The process (config.md "Process"): its env, cwd, user and groups,
//! capabilities (capabilities(7)), rlimits (getrlimit(2)), no_new_privs
//! (prctl(2)), oom_score_adj (proc(5)), and the fds it inherits.

use glassbox_e2e::*;
use serde_json::json;

fn run_ok(bundle: &Bundle, name: &str) -> String {
    let rt = Runtime::new();
    let id = rt.id(name);
    let out = rt.run(&id, bundle);
    assert_ok(&out);
    rt.assert_clean(&id, bundle);
    stdout(&out)
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn env_is_exactly_the_config_env() {
    let bundle = Bundle::busybox(&["env"]);
    bundle.config_mut(|v| spec::set_env(v, &["PATH=/bin", "FOO=bar baz", "HOME=/somewhere"]));
    let out = run_ok(&bundle, "env");
    assert_eq!(sorted_lines(&out), ["FOO=bar baz", "HOME=/somewhere", "PATH=/bin"]);
}

/// Like runc, the runtime adds HOME from the rootfs's /etc/passwd when the
/// config does not set it.
#[test]
fn home_comes_from_passwd_when_missing() {
    let bundle = Bundle::busybox(&["env"]);
    bundle.config_mut(|v| {
        spec::set_env(v, &["PATH=/bin"]);
        v["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    });
    let out = run_ok(&bundle, "home");
    assert_eq!(sorted_lines(&out), ["HOME=/home/user", "PATH=/bin"]);
}

#[test]
fn cwd_is_the_config_cwd() {
    let bundle = Bundle::busybox(&["pwd"]);
    bundle.config_mut(|v| v["process"]["cwd"] = json!("/etc"));
    assert_eq!(run_ok(&bundle, "cwd"), "/etc\n");
}

#[test]
fn user_and_additional_groups() {
    let bundle = Bundle::busybox(&["sh", "-c", "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status"]);
    bundle.config_mut(|v| {
        v["process"]["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [2000, 3000] });
    });
    let out = run_ok(&bundle, "user");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("uid=1000(user) gid=1000(user)"), "id: {}", lines[0]);
    assert!(lines[0].contains("2000") && lines[0].contains("3000"), "id: {}", lines[0]);
    let fields = |l: &str| l.split_whitespace().skip(1).map(String::from).collect::<Vec<_>>();
    assert_eq!(fields(lines[1]), ["1000"; 4], "{}", lines[1]);
    assert_eq!(fields(lines[2]), ["1000"; 4], "{}", lines[2]);
    assert_eq!(fields(lines[3]), ["2000", "3000"], "{}", lines[3]);
}

fn cap_field(status: &str, name: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in:\n{status}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn capabilities_match_the_config() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/status"]);
    bundle.config_mut(|v| spec::set_all_caps(v, &["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]));
    let status = run_ok(&bundle, "caps");
    let want = spec::cap_mask(&[0, 5, 10]);
    assert_eq!(cap_field(&status, "CapEff"), want, "CapEff");
    assert_eq!(cap_field(&status, "CapPrm"), want, "CapPrm");
    assert_eq!(cap_field(&status, "CapBnd"), want, "CapBnd");
    assert_eq!(cap_field(&status, "CapInh"), 0, "CapInh");
    assert_eq!(cap_field(&status, "CapAmb"), 0, "CapAmb");
}

#[test]
fn a_dropped_capability_is_enforced() {
    // chown needs CAP_CHOWN; /tmp on a tmpfs so the root being read-only does not decide.
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "touch /tmp/f && if chown 1000 /tmp/f 2>/dev/null; then echo CHOWNED; else echo DENIED; fi",
    ]);
    bundle.config_mut(|v| {
        spec::set_all_caps(v, &["CAP_KILL"]);
        spec::add_mount(v, json!({ "destination": "/tmp", "type": "tmpfs", "source": "tmpfs" }));
    });
    assert_eq!(run_ok(&bundle, "nochown"), "DENIED\n");
}

#[test]
fn rlimit_nofile_is_applied() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/limits"]);
    bundle.config_mut(|v| {
        v["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 100, "hard": 200 }]);
    });
    let limits = run_ok(&bundle, "rlimit");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("Max open files line");
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(nums, ["100", "200"], "{line}");
}

/// Nobody here has CAP_SYS_RESOURCE and the hard nofile limit is 20000, so
/// asking for more must fail at create, naming the rlimit.
#[test]
fn rlimit_above_the_hard_limit_fails_naming_it() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.config_mut(|v| {
        v["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1048576 }]);
    });
    let rt = Runtime::new();
    let id = rt.id("rlimit-high");
    let err = assert_fails(&rt.create(&id, &bundle));
    assert!(err.contains("RLIMIT_NOFILE"), "the error should name RLIMIT_NOFILE: {err}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn no_new_privileges() {
    for (flag, want) in [(true, "1"), (false, "0")] {
        let bundle = Bundle::busybox(&["grep", "NoNewPrivs", "/proc/self/status"]);
        bundle.config_mut(|v| v["process"]["noNewPrivileges"] = json!(flag));
        let out = run_ok(&bundle, "nnp");
        assert_eq!(out.split_whitespace().nth(1), Some(want), "noNewPrivileges={flag}: {out}");
    }
}

#[test]
fn no_descriptor_leaks_into_the_container() {
    let bundle = Bundle::busybox(&["ls", "/proc/self/fd"]);
    let out = run_ok(&bundle, "fds");
    let fds: Vec<u32> = out.split_whitespace().map(|f| f.parse().unwrap()).collect();
    // 0 1 2, and the one ls opened to read the directory.
    assert!(fds.len() <= 4 && fds.iter().all(|&fd| fd <= 3), "fds inside: {fds:?}");
    assert!(fds.starts_with(&[0, 1, 2]), "fds inside: {fds:?}");
}

#[test]
fn oom_score_adj() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/oom_score_adj"]);
    bundle.config_mut(|v| v["process"]["oomScoreAdj"] = json!(500));
    assert_eq!(run_ok(&bundle, "oom"), "500\n");
}

#[test]
fn args_reach_the_process_verbatim() {
    let bundle = Bundle::busybox(&["sh", "-c", "for a in \"$@\"; do echo \"[$a]\"; done", "argv0", "a b", "", "*"]);
    assert_eq!(run_ok(&bundle, "args"), "[a b]\n[]\n[*]\n");
}

/// Give `path` file capabilities, as `setcap <caps>+ep` does: the
/// security.capability attribute, revision 2 (capabilities(7), "File
/// capabilities"), with the effective bit.
fn set_file_caps(path: &std::path::Path, permitted: u64) {
    const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
    const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x1;
    let words = [VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, permitted as u32, 0, (permitted >> 32) as u32, 0];
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let name = c"security.capability";
    let file = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid NUL-terminated strings and a buffer of the length given.
    let rc = unsafe { libc::setxattr(file.as_ptr(), name.as_ptr(), bytes.as_ptr().cast(), bytes.len(), 0) };
    assert_eq!(rc, 0, "setxattr security.capability on {}: {}", path.display(), std::io::Error::last_os_error());
}

/// The container's program is exec'd through glassbox-exec (a file without
/// capabilities, from a sealed memfd). For a non-root user with
/// no_new_privs, execve grants no more than was held before it, so the
/// permitted set is lent across that execve: the program's sets must be
/// exactly those a direct execve gives — file capabilities within the
/// permitted set, and the ambient set as config.json asks.
#[test]
fn a_non_root_user_with_no_new_privs_gets_the_same_capabilities_through_the_sealed_exec() {
    let nbs = 10; // CAP_NET_BIND_SERVICE
    let kill = 5; // CAP_KILL
    let caps = |ambient: &[&str]| {
        json!({ "bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL"], "effective": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
                "permitted": ["CAP_NET_BIND_SERVICE", "CAP_KILL"], "inheritable": ambient, "ambient": ambient })
    };
    // A program with file capabilities (cap_net_bind_service+ep), no ambient set.
    let bundle = Bundle::busybox(&["/bin/busybox-caps", "cat", "/proc/self/status"]);
    let capbox = bundle.rootfs().join("bin/busybox-caps");
    std::fs::copy(bundle.rootfs().join("bin/busybox"), &capbox).unwrap();
    set_file_caps(&capbox, 1 << nbs);
    bundle.config_mut(|v| {
        v["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
        v["process"]["noNewPrivileges"] = json!(true);
        v["process"]["capabilities"] = caps(&[]);
    });
    let status = run_ok(&bundle, "filecaps");
    assert_eq!(cap_field(&status, "CapPrm"), 1 << nbs, "CapPrm of a cap_net_bind_service+ep program");
    assert_eq!(cap_field(&status, "CapEff"), 1 << nbs, "CapEff of a cap_net_bind_service+ep program");
    assert_eq!(cap_field(&status, "CapAmb"), 0, "CapAmb");

    // A plain program, CAP_KILL ambient: it keeps exactly that.
    let bundle = Bundle::busybox(&["cat", "/proc/self/status"]);
    bundle.config_mut(|v| {
        v["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
        v["process"]["noNewPrivileges"] = json!(true);
        v["process"]["capabilities"] = caps(&["CAP_KILL"]);
    });
    let status = run_ok(&bundle, "ambient");
    for set in ["CapPrm", "CapEff", "CapAmb", "CapInh"] {
        assert_eq!(cap_field(&status, set), 1 << kill, "{set} with CAP_KILL ambient");
    }
}
