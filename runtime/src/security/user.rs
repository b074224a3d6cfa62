//! `process.user`: who the container's program runs as — setgroups(2),
//! setresgid(2), setresuid(2) — its umask(2), and the `HOME` to give it.
//!
//! Groups go first and the uid last, because changing uid away from 0 takes
//! away the right (CAP_SETGID) to change groups. Changing uid away from 0 also
//! empties the permitted capability set, unless PR_SET_KEEPCAPS is on
//! (prctl(2)); the runtime turns it on for the switch, so that
//! `apply_capabilities` can then keep exactly the capabilities config.json asks
//! for, and off again afterwards (execve would clear it anyway).
//!
//! umask: when config.json gives none, glassbox sets 0022, as runc does, so a
//! container does not silently inherit whatever umask the caller of the
//! runtime happened to have (a shell's 0077 would make every file private).

use std::path::Path;

use nix::sys::prctl;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::User;

use super::SecurityError;
use crate::regular_file::{self, Limit};

/// The umask used when `process.user.umask` is absent (runc's choice too).
pub const DEFAULT_UMASK: u32 = 0o022;

/// In a user namespace whose gid map was written by an unprivileged parent,
/// setgroups is switched off ("deny") for good (user_namespaces(7)).
const SETGROUPS_FILE: &str = "/proc/self/setgroups";

pub(crate) fn switch_user(user: &User) -> Result<(), SecurityError> {
    let gids: Vec<Gid> = user.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    let setgroups_denied = std::fs::read_to_string(SETGROUPS_FILE).is_ok_and(|s| s.trim() == "deny");
    if !setgroups_denied {
        setgroups(&gids).map_err(|source| fail(format!("setgroups({:?})", raw(&gids)), source))?;
    } else if !gids.is_empty() {
        return Err(fail(format!("setgroups({:?})", raw(&gids)), nix::Error::EPERM));
    }
    prctl::set_keepcaps(true).map_err(|source| SecurityError::KeepCaps { value: true, source })?;
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    setresgid(gid, gid, gid).map_err(|source| fail(format!("setresgid({gid})"), source))?;
    setresuid(uid, uid, uid).map_err(|source| fail(format!("setresuid({uid})"), source))?;
    prctl::set_keepcaps(false).map_err(|source| SecurityError::KeepCaps { value: false, source })
}

/// umask(2), with the process attributes: it does not depend on the uid.
/// Returns the mask set.
pub(crate) fn set_umask(user: &User) -> Result<u32, SecurityError> {
    let mask = user.umask().unwrap_or(DEFAULT_UMASK);
    if mask > 0o777 {
        return Err(fail(
            format!("umask({mask:o}): only permission bits (at most 0777) can be masked"),
            nix::Error::EINVAL,
        ));
    }
    umask(Mode::from_bits_truncate(mask as libc::mode_t));
    Ok(mask)
}

fn raw(gids: &[Gid]) -> Vec<u32> {
    gids.iter().map(|g| g.as_raw()).collect()
}

fn fail(what: String, source: nix::Error) -> SecurityError {
    let hint = match source {
        nix::Error::EINVAL => "is this id mapped in the container's user namespace (linux.uidMappings / linux.gidMappings)?",
        nix::Error::EPERM if what.starts_with("setgroups") => {
            "additionalGids need CAP_SETGID, and /proc/self/setgroups must not be \"deny\" (it is in user namespaces mapped without privilege)"
        }
        nix::Error::EPERM => "changing ids needs CAP_SETUID / CAP_SETGID in the current user namespace",
        _ => "see credentials(7)",
    };
    SecurityError::User { what, source, hint }
}

/// The home directory `/etc/passwd` gives `uid`, if any. Pure: takes the
/// file's text. Fields are name:password:uid:gid:gecos:home:shell (passwd(5)).
pub fn home_dir_from_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [_, _, id, _, _, home, ..] if id.parse() == Ok(uid) && !home.is_empty() => Some(home.to_string()),
            _ => None,
        }
    })
}

/// The most of the container's /etc/passwd read: about 60,000 accounts.
const PASSWD_LIMIT: Limit = Limit { bytes: 4 << 20, spelled: "4 MiB" };

/// The `HOME` to add to the environment when config.json's `env` lacks one:
/// the container's passwd entry for `uid` (pass the path as seen after
/// pivot_root, usually `/etc/passwd`), else `/`, as runc does.
///
/// The file belongs to the image, and so to whoever made it: a FIFO there
/// would hold the init for ever, /dev/zero would fill its memory. So it is
/// read only as a regular file of at most `PASSWD_LIMIT`; anything else
/// counts as no entry.
pub fn home_for_uid(passwd_path: &Path, uid: u32) -> String {
    regular_file::read(passwd_path, PASSWD_LIMIT)
        .ok()
        .and_then(|text| home_dir_from_passwd(&String::from_utf8_lossy(&text), uid))
        .unwrap_or_else(|| "/".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n\
                          broken line\n\
                          nohome:x:1001:1001:::/bin/sh\n\
                          alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n";

    #[test]
    fn home_comes_from_the_matching_uid() {
        assert_eq!(home_dir_from_passwd(PASSWD, 0).as_deref(), Some("/root"));
        assert_eq!(home_dir_from_passwd(PASSWD, 1000).as_deref(), Some("/home/alice"));
        assert_eq!(home_dir_from_passwd(PASSWD, 1001), None);
        assert_eq!(home_dir_from_passwd(PASSWD, 4242), None);
    }

    #[test]
    fn home_falls_back_to_root_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        assert_eq!(home_for_uid(&path, 1000), "/");
        std::fs::write(&path, PASSWD).unwrap();
        assert_eq!(home_for_uid(&path, 1000), "/home/alice");
        assert_eq!(home_for_uid(&path, 7), "/");
    }

    #[test]
    fn a_hostile_passwd_is_no_passwd() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(home_for_uid(&fifo, 0), "/", "a FIFO without a writer must not block");
        assert_eq!(home_for_uid(Path::new("/dev/zero"), 0), "/", "an endless file is not read");
    }
}
