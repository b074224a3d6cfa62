//! The concrete actions that build a root filesystem, as plain data: one
//! value is one system call — mount(2), mknod(2) or symlink(2). Planners
//! return them, appliers execute them, and their `Display` is the equivalent
//! shell command (`mount -t proc -o nosuid,noexec,nodev proc /proc`), which is
//! what a learner (and the narrator) is shown.

use std::fmt;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

/// Flag ↔ option-name table used to print flags the way mount(8) spells them.
const FLAG_NAMES: &[(MsFlags, &str)] = &[
    (MsFlags::MS_RDONLY, "ro"),
    (MsFlags::MS_NOSUID, "nosuid"),
    (MsFlags::MS_NODEV, "nodev"),
    (MsFlags::MS_NOEXEC, "noexec"),
    (MsFlags::MS_SYNCHRONOUS, "sync"),
    (MsFlags::MS_DIRSYNC, "dirsync"),
    (MsFlags::MS_MANDLOCK, "mand"),
    (MsFlags::MS_NOATIME, "noatime"),
    (MsFlags::MS_NODIRATIME, "nodiratime"),
    (MsFlags::MS_RELATIME, "relatime"),
    (MsFlags::MS_STRICTATIME, "strictatime"),
    (MsFlags::MS_LAZYTIME, "lazytime"),
    (MsFlags::MS_SILENT, "silent"),
];

/// The mount(8) names of the ordinary (non-propagation, non-bind) flags.
pub fn flag_names(flags: MsFlags) -> Vec<&'static str> {
    FLAG_NAMES.iter().filter(|(f, _)| flags.contains(*f)).map(|(_, n)| *n).collect()
}

const PROPAGATION_MASK: MsFlags =
    MsFlags::MS_SHARED.union(MsFlags::MS_SLAVE).union(MsFlags::MS_PRIVATE).union(MsFlags::MS_UNBINDABLE);

/// One mount(2) call. `target` is where the learner sees it: a path inside
/// the container for `mounts[]`, a host path for the steps around the rootfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountCall {
    pub source: Option<PathBuf>,
    pub target: PathBuf,
    pub fstype: Option<String>,
    pub flags: MsFlags,
    pub data: Option<String>,
}

impl MountCall {
    /// `mount -t <fstype> -o <flags,data> <source> <target>`.
    pub fn new_fs(
        fstype: &str,
        source: &str,
        target: impl Into<PathBuf>,
        flags: MsFlags,
        data: Option<String>,
    ) -> Self {
        MountCall { source: Some(source.into()), target: target.into(), fstype: Some(fstype.into()), flags, data }
    }

    /// `mount --bind` (or `--rbind` when `recursive`).
    pub fn bind(source: impl Into<PathBuf>, target: impl Into<PathBuf>, recursive: bool) -> Self {
        let rec = if recursive { MsFlags::MS_REC } else { MsFlags::empty() };
        MountCall {
            source: Some(source.into()),
            target: target.into(),
            fstype: None,
            flags: MsFlags::MS_BIND | rec,
            data: None,
        }
    }

    /// `mount -o remount,bind,<flags>`: the only way to make a bind mount
    /// read-only, nosuid…, since the first bind call ignores those flags.
    pub fn remount_bind(target: impl Into<PathBuf>, flags: MsFlags) -> Self {
        MountCall {
            source: None,
            target: target.into(),
            fstype: None,
            flags: MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags,
            data: None,
        }
    }

    /// `mount --make-<propagation>`: never combined with other flags, the
    /// kernel wants a call of its own.
    pub fn propagation(target: impl Into<PathBuf>, flags: MsFlags) -> Self {
        MountCall { source: None, target: target.into(), fstype: None, flags, data: None }
    }

    /// Is this a call that makes a *new* mount on its target (so the target
    /// must exist first), rather than changing an existing one?
    pub fn creates_mount(&self) -> bool {
        !self.flags.intersects(MsFlags::MS_REMOUNT | PROPAGATION_MASK | MsFlags::MS_MOVE)
    }

    /// A bind mount (not a remount of one).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND) && !self.flags.contains(MsFlags::MS_REMOUNT)
    }
}

impl fmt::Display for MountCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written piece by piece, without a String of its own: every mount's
        // step carries this text (~40 a container).
        let target = PathText(&self.target);
        let source = PathText(self.source.as_deref().unwrap_or(Path::new("")));
        let rec = self.flags.contains(MsFlags::MS_REC);
        let options = Options(self);
        if self.flags.contains(MsFlags::MS_MOVE) {
            return write!(f, "mount --move {source} {target}");
        }
        if self.flags.intersects(PROPAGATION_MASK) {
            let kind = [
                (MsFlags::MS_SHARED, "shared"),
                (MsFlags::MS_SLAVE, "slave"),
                (MsFlags::MS_PRIVATE, "private"),
                (MsFlags::MS_UNBINDABLE, "unbindable"),
            ]
            .iter()
            .find(|(fl, _)| self.flags.contains(*fl))
            .map(|(_, n)| *n)
            .unwrap_or("private");
            return write!(f, "mount --make-{}{kind} {target}", if rec { "r" } else { "" });
        }
        if self.flags.contains(MsFlags::MS_REMOUNT) {
            let bind = if self.flags.contains(MsFlags::MS_BIND) { ",bind" } else { "" };
            let comma = if options.is_empty() { "" } else { "," };
            return write!(f, "mount -o remount{bind}{comma}{options} {target}");
        }
        if self.flags.contains(MsFlags::MS_BIND) {
            let verb = if rec { "--rbind" } else { "--bind" };
            return write!(f, "mount {verb} {source} {target}");
        }
        write!(f, "mount")?;
        if let Some(t) = &self.fstype {
            write!(f, " -t {t}")?;
        }
        if !options.is_empty() {
            write!(f, " -o {options}")?;
        }
        write!(f, " {source} {target}")
    }
}

/// A mount's `-o` list: its flags' names, then its data, comma-separated.
struct Options<'a>(&'a MountCall);

impl Options<'_> {
    fn is_empty(&self) -> bool {
        self.0.data.is_none() && !FLAG_NAMES.iter().any(|(flag, _)| self.0.flags.contains(*flag))
    }
}

impl fmt::Display for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = FLAG_NAMES.iter().filter(|(flag, _)| self.0.flags.contains(*flag)).map(|(_, name)| *name);
        for (i, option) in names.chain(self.0.data.as_deref()).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(option)?;
        }
        Ok(())
    }
}

/// A path as `Path::display` shows it, without its slower lossy walk when
/// the path is UTF-8 (nearly always).
struct PathText<'a>(pub &'a Path);

impl fmt::Display for PathText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.to_str() {
            Some(text) => f.write_str(text),
            None => self.0.display().fmt(f),
        }
    }
}

/// One symlink(2) call: `ln -s <target> <link>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymlinkCall {
    /// Where the link is made, inside the container.
    pub link: PathBuf,
    /// What it points at (stored verbatim in the link).
    pub target: PathBuf,
    /// Remove whatever is at `link` first (needed for /dev/ptmx, which may
    /// be a device node); otherwise an existing `link` is left alone.
    pub replace: bool,
}

impl fmt::Display for SymlinkCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let force = if self.replace { "f" } else { "" };
        write!(f, "ln -s{force} {} {}", self.target.display(), self.link.display())
    }
}

/// The kind of special file mknod(2) makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

/// One mknod(2) call, followed by chmod and chown because the process
/// umask would otherwise trim the mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCall {
    pub path: PathBuf,
    pub kind: NodeKind,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl fmt::Display for NodeCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match self.kind {
            NodeKind::Fifo => write!(f, "mknod -m {:04o} {p} p", self.mode)?,
            NodeKind::Char | NodeKind::Block => {
                let t = if self.kind == NodeKind::Char { 'c' } else { 'b' };
                write!(f, "mknod -m {:04o} {p} {t} {} {}", self.mode, self.major, self.minor)?
            }
        }
        if self.uid != 0 || self.gid != 0 {
            write!(f, " && chown {}:{} {p}", self.uid, self.gid)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn mount_calls_print_as_shell_commands() {
        let proc_ = MountCall::new_fs(
            "proc",
            "proc",
            "/proc",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
            None,
        );
        assert_eq!(proc_.to_string(), "mount -t proc -o nosuid,nodev,noexec proc /proc");
        let tmp = MountCall::new_fs("tmpfs", "tmpfs", "/dev", MsFlags::MS_NOSUID, Some("mode=755".into()));
        assert_eq!(tmp.to_string(), "mount -t tmpfs -o nosuid,mode=755 tmpfs /dev");
        assert_eq!(MountCall::bind("/src", "/dst", true).to_string(), "mount --rbind /src /dst");
        assert_eq!(MountCall::remount_bind("/dst", MsFlags::MS_RDONLY).to_string(), "mount -o remount,bind,ro /dst");
        assert_eq!(
            MountCall::propagation("/", MsFlags::MS_SLAVE | MsFlags::MS_REC).to_string(),
            "mount --make-rslave /"
        );
        assert_eq!(MountCall::propagation("/data", MsFlags::MS_PRIVATE).to_string(), "mount --make-private /data");
        assert_eq!(MountCall::bind("/src", "/dst", false).to_string(), "mount --bind /src /dst");
        assert_eq!(MountCall::remount_bind("/dst", MsFlags::empty()).to_string(), "mount -o remount,bind /dst");
        let remount = MountCall { flags: MsFlags::MS_REMOUNT, ..MountCall::propagation("/", MsFlags::empty()) };
        assert_eq!(remount.to_string(), "mount -o remount /");
        let moved = MountCall { flags: MsFlags::MS_MOVE, ..MountCall::bind("/old", "/new", false) };
        assert_eq!(moved.to_string(), "mount --move /old /new");
        let plain = MountCall::new_fs("sysfs", "none", "/sys", MsFlags::empty(), None);
        assert_eq!(plain.to_string(), "mount -t sysfs none /sys");
        // Not UTF-8: shown as Path::display shows it.
        let odd = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/d\xffx"));
        assert_eq!(MountCall::bind(odd, "/dst", false).to_string(), format!("mount --bind {} /dst", odd.display()));
        assert!(!MountCall::remount_bind("/x", MsFlags::empty()).creates_mount());
        assert!(MountCall::bind("/a", "/b", false).is_bind());
    }

    #[test]
    fn nodes_and_links_print_as_shell_commands() {
        let n = NodeCall {
            path: "/dev/null".into(),
            kind: NodeKind::Char,
            major: 1,
            minor: 3,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        assert_eq!(n.to_string(), "mknod -m 0666 /dev/null c 1 3");
        let l = SymlinkCall { link: "/dev/fd".into(), target: "/proc/self/fd".into(), replace: false };
        assert_eq!(l.to_string(), "ln -s /proc/self/fd /dev/fd");
    }
}
