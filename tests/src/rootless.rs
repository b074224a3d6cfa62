//! Running glassbox as a real unprivileged user (rootless): the tests run
//! as root and drop to the user `glassbox-e2e` for the rootless commands,
//! so the runtime has no capability at all, as a user's shell has none.
//!
//! The user is made once (useradd(8)) if the machine has none yet, with
//! subordinate uid and gid ranges in /etc/subuid and /etc/subgid (useradd
//! gives them on Debian; usermod(8) adds them if not), so both id maps of
//! a rootless container can be tried: the user's own id alone, and the full
//! range through newuidmap/newgidmap (Debian package `uidmap`).

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

/// The name of the unprivileged user the rootless tests run glassbox as.
pub const USER: &str = "glassbox-e2e";

/// Who the rootless commands run as.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// The first subordinate uid and gid and the count of each.
    pub subuids: (u32, u32),
    pub subgids: (u32, u32),
}

impl TestUser {
    /// Make `cmd` run as this user: setgroups([]), setgid, setuid (std's
    /// order), a plain environment.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid).gid(self.gid).env_clear().envs([
            ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ("USER", self.name.as_str()),
            ("LOGNAME", self.name.as_str()),
        ]);
        cmd.env("HOME", &self.home);
    }

    /// A directory owned by this user (removed with the TempDir).
    pub fn temp_dir(&self, prefix: &str) -> TempDir {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().expect("making a temp dir");
        self.chown_tree(dir.path());
        dir
    }

    /// chown -R to this user (lchown: symlinks themselves, not their targets).
    pub fn chown_tree(&self, path: &Path) {
        let status = Command::new("chown")
            .args(["-R", "-h", &format!("{}:{}", self.uid, self.gid)])
            .arg(path)
            .status()
            .expect("running chown");
        assert!(status.success(), "chown -R {} {}", self.name, path.display());
    }
}

/// The test user, made if missing; panics with what to install otherwise.
pub fn test_user() -> &'static TestUser {
    static USER_INFO: OnceLock<TestUser> = OnceLock::new();
    USER_INFO.get_or_init(|| {
        crate::binary::require_root();
        // Other test binaries may make it at the same moment.
        let lock = File::create(std::env::temp_dir().join("glassbox-e2e-user.lock")).expect("lock file");
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).expect("flock");
        if passwd_entry(USER).is_none() {
            let out = Command::new("useradd")
                .args(["--create-home", "--shell", "/bin/sh", "--comment", "glassbox rootless tests", USER])
                .output()
                .expect("running useradd (package passwd)");
            assert!(
                out.status.success() || passwd_entry(USER).is_some(),
                "useradd {USER}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (uid, gid, home) = passwd_entry(USER).expect("the test user exists now");
        let subuids = subordinate_range("/etc/subuid", USER).unwrap_or_else(|| add_subordinate_ids("--add-subuids"));
        let subgids = subordinate_range("/etc/subgid", USER).unwrap_or_else(|| add_subordinate_ids("--add-subgids"));
        for helper in ["newuidmap", "newgidmap"] {
            assert!(
                Path::new("/usr/bin").join(helper).exists(),
                "/usr/bin/{helper} is missing: apt-get install uidmap (scripts/setup.sh does)"
            );
        }
        TestUser { name: USER.into(), uid, gid, home: home.into(), subuids, subgids }
    })
}

/// uid, gid and home directory of `name` in /etc/passwd.
fn passwd_entry(name: &str) -> Option<(u32, u32, String)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?, f[5].to_string())))?
    })
}

/// `(first, count)` of `name`'s range in /etc/subuid or /etc/subgid.
fn subordinate_range(file: &str, name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.trim().split(':').collect();
        (f.len() == 3 && f[0] == name).then(|| Some((f[1].parse().ok()?, f[2].parse().ok()?)))?
    })
}

/// usermod --add-subuids (or --add-subgids) with 65536 ids past every range
/// already given; returns the range.
fn add_subordinate_ids(flag: &str) -> (u32, u32) {
    let file = if flag == "--add-subuids" { "/etc/subuid" } else { "/etc/subgid" };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let end = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
        })
        .max()
        .unwrap_or(100_000)
        .max(100_000) as u32;
    let range = format!("{end}-{}", end + 65535);
    let out = Command::new("usermod").args([flag, &range, USER]).output().expect("running usermod");
    assert!(out.status.success(), "usermod {flag} {range} {USER}: {}", String::from_utf8_lossy(&out.stderr));
    (end, 65536)
}

/// The binary under test as the test user can run it: in place when it
/// can (the usual case), else a copy at one fixed place, replaced each time
/// (the build may sit under a directory the user cannot enter).
pub fn binary_for_user(bin: &Path) -> PathBuf {
    static CHOSEN: OnceLock<std::sync::Mutex<Vec<(PathBuf, PathBuf)>>> = OnceLock::new();
    let mut chosen = CHOSEN.get_or_init(Default::default).lock().unwrap();
    if let Some((_, usable)) = chosen.iter().find(|(from, _)| from == bin) {
        return usable.clone();
    }
    let mut probe = Command::new(bin);
    test_user().apply(&mut probe);
    let runs = probe.arg("--version").output().is_ok_and(|o| o.status.success());
    let usable = if runs {
        bin.to_path_buf()
    } else {
        let dir = std::env::temp_dir().join("glassbox-e2e-rootless-bin");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (tmp, copy) = (dir.join(format!(".glassbox.{}", std::process::id())), dir.join("glassbox"));
        std::fs::copy(bin, &tmp).unwrap_or_else(|e| panic!("copying {}: {e}", bin.display()));
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &copy).unwrap();
        copy
    };
    chosen.push((bin.to_path_buf(), usable.clone()));
    usable
}

/// The pid namespace link of `pid` (`pid:[4026532…]`), read as root.
pub fn pid_namespace_of(pid: i32) -> String {
    crate::clean::host_ns(&pid.to_string(), "pid")
}

/// Host pids of every process in the pid namespace `link` names.
pub fn processes_in_pid_namespace(link: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l.to_string_lossy() == link))
        .collect()
}

/// The uid a process runs as on the host (the real uid, `Uid:` in status).
pub fn host_uid_of(pid: i32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or_else(|| panic!("no Uid: for {pid}"));
    line.split_whitespace().nth(1).and_then(|u| u.parse().ok()).unwrap()
}
