//! Turns a `mounts[].options` list (fstab style, see fstab(5) and mount(8))
//! into what mount(2) really takes: a bit set of `MS_*` flags, the
//! propagation changes (which the kernel only accepts in a *separate*
//! mount(2) call), whether it is a bind, and the leftover `data` string that
//! the filesystem itself parses (`mode=755,size=65536k`).
//!
//! Options glassbox knows but deliberately ignores (kept in
//! [`MountOptions::ignored`] so the narrator can say so):
//! - the recursive attribute forms `rro`, `rrw`, `rnosuid`, `rsuid`, `rnodev`,
//!   `rdev`, `rnoexec`, `rexec`, `rnoatime`, `ratime`, `rrelatime`,
//!   `rnorelatime`, `rstrictatime`, `rnodiratime`, `rdiratime`,
//!   `rnosymfollow`, `rsymfollow` — they need mount_setattr(2) with
//!   `AT_RECURSIVE`, which glassbox does not use yet;
//! - `idmap`, `ridmap` (ID-mapped mounts), `tmpcopyup` (a runc extension),
//!   `defaults`, `nosymfollow`/`symfollow`, and userspace-only `x-…` options.

use nix::mount::MsFlags;

/// The four propagation types of mount_namespaces(7), with or without `MS_REC`.
pub const PROPAGATION_OPTIONS: &[(&str, MsFlags)] = &[
    ("shared", MsFlags::MS_SHARED),
    ("slave", MsFlags::MS_SLAVE),
    ("private", MsFlags::MS_PRIVATE),
    ("unbindable", MsFlags::MS_UNBINDABLE),
];

/// The propagation flags for `shared`, `rslave`…; `None` for any other word.
pub fn propagation_flags(word: &str) -> Option<MsFlags> {
    let (recursive, base) = match word.strip_prefix('r') {
        Some(rest) if PROPAGATION_OPTIONS.iter().any(|(n, _)| *n == rest) => (true, rest),
        _ => (false, word),
    };
    let (_, flag) = PROPAGATION_OPTIONS.iter().find(|(n, _)| *n == base)?;
    Some(if recursive { *flag | MsFlags::MS_REC } else { *flag })
}

/// An option that sets (`true`) or clears (`false`) one mount flag.
const FLAG_OPTIONS: &[(&str, bool, MsFlags)] = &[
    ("ro", true, MsFlags::MS_RDONLY),
    ("rw", false, MsFlags::MS_RDONLY),
    ("nosuid", true, MsFlags::MS_NOSUID),
    ("suid", false, MsFlags::MS_NOSUID),
    ("nodev", true, MsFlags::MS_NODEV),
    ("dev", false, MsFlags::MS_NODEV),
    ("noexec", true, MsFlags::MS_NOEXEC),
    ("exec", false, MsFlags::MS_NOEXEC),
    ("sync", true, MsFlags::MS_SYNCHRONOUS),
    ("async", false, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", true, MsFlags::MS_DIRSYNC),
    ("remount", true, MsFlags::MS_REMOUNT),
    ("mand", true, MsFlags::MS_MANDLOCK),
    ("nomand", false, MsFlags::MS_MANDLOCK),
    ("noatime", true, MsFlags::MS_NOATIME),
    ("atime", false, MsFlags::MS_NOATIME),
    ("nodiratime", true, MsFlags::MS_NODIRATIME),
    ("diratime", false, MsFlags::MS_NODIRATIME),
    ("relatime", true, MsFlags::MS_RELATIME),
    ("norelatime", false, MsFlags::MS_RELATIME),
    ("strictatime", true, MsFlags::MS_STRICTATIME),
    ("nostrictatime", false, MsFlags::MS_STRICTATIME),
    ("lazytime", true, MsFlags::MS_LAZYTIME),
    ("nolazytime", false, MsFlags::MS_LAZYTIME),
    ("silent", true, MsFlags::MS_SILENT),
    ("loud", false, MsFlags::MS_SILENT),
];

/// Options that are understood and knowingly not acted on (see the module doc).
const IGNORED_OPTIONS: &[&str] = &[
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnoatime",
    "ratime",
    "rrelatime",
    "rnorelatime",
    "rstrictatime",
    "rnostrictatime",
    "rnodiratime",
    "rdiratime",
    "rnosymfollow",
    "rsymfollow",
    "idmap",
    "ridmap",
    "tmpcopyup",
    "defaults",
    "nosymfollow",
    "symfollow",
];

/// `bind` shows one mount; `rbind` also the mounts below it (`MS_REC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    Bind,
    Rbind,
}

/// What a list of fstab options means to mount(2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount(2) call itself (never propagation, never MS_BIND).
    pub flags: MsFlags,
    /// Propagation changes, in order; each one is its own mount(2) call.
    pub propagation: Vec<MsFlags>,
    /// `bind`/`rbind` among the options.
    pub bind: Option<Bind>,
    /// Everything else, for the filesystem: joined with `,` into `data`.
    pub data: Vec<String>,
    /// Options recognised but not applied (documented in the module doc).
    pub ignored: Vec<String>,
}

impl MountOptions {
    /// The `data` argument of mount(2), or `None` when there is nothing to pass.
    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// Reads the options left to right, so a later `rw` undoes an earlier `ro`,
/// exactly as mount(8) does.
pub fn parse_options<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut parsed =
        MountOptions { flags: MsFlags::empty(), propagation: vec![], bind: None, data: vec![], ignored: vec![] };
    for option in options {
        let option = option.as_ref();
        if let Some((_, set, flag)) = FLAG_OPTIONS.iter().find(|(name, _, _)| *name == option) {
            if *set {
                parsed.flags.insert(*flag);
            } else {
                parsed.flags.remove(*flag);
            }
        } else if let Some(flag) = propagation_flags(option) {
            parsed.propagation.push(flag);
        } else if option == "bind" {
            parsed.bind = Some(Bind::Bind);
        } else if option == "rbind" {
            parsed.bind = Some(Bind::Rbind);
        } else if IGNORED_OPTIONS.contains(&option) || option.starts_with("x-") {
            parsed.ignored.push(option.to_string());
        } else if !option.is_empty() {
            parsed.data.push(option.to_string());
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_propagation_and_data_are_separated() {
        let o = parse_options(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(o.data_string().as_deref(), Some("mode=755,size=65536k"));
        assert_eq!(o.bind, None);
    }

    #[test]
    fn later_options_undo_earlier_ones() {
        let o = parse_options(&["ro", "noexec", "rw", "exec", "nodev"]);
        assert_eq!(o.flags, MsFlags::MS_NODEV);
    }

    #[test]
    fn bind_rbind_and_ignored_words() {
        let o = parse_options(&["rbind", "ro", "rro", "x-systemd.automount", "private"]);
        assert_eq!(o.bind, Some(Bind::Rbind));
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert_eq!(o.ignored, vec!["rro", "x-systemd.automount"]);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE]);
        assert_eq!(o.data_string(), None);
    }

    #[test]
    fn propagation_words() {
        assert_eq!(propagation_flags("shared"), Some(MsFlags::MS_SHARED));
        assert_eq!(propagation_flags("runbindable"), Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC));
        assert_eq!(propagation_flags("rw"), None);
        assert_eq!(propagation_flags("relatime"), None);
    }
}
