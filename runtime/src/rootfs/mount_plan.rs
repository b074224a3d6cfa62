//! Deciding, without touching anything, which mount(2) calls each
//! `mounts[]` entry of config.json becomes (runtime-spec config.md,
//! "Mounts"). Pure: the tests read the plan, the narrator prints it.
//!
//! - A filesystem (`proc`, `tmpfs`, `sysfs`, `devpts`, `mqueue`, anything
//!   else as-is) is one call: `mount -t <type> -o <flags,data> <source> <dest>`.
//! - A bind (`type: bind`, or option `bind`/`rbind`) is `mount --bind`, then,
//!   when flags such as `ro` or `nosuid` were asked for, a second call
//!   `mount -o remount,bind,<flags>` — the first call ignores them.
//! - Propagation options (`rslave`…) are each one more call, after the mount.
//! - `cgroup` depends on the host ([`CgroupLayout`]): when `/sys/fs/cgroup`
//!   is a cgroup2 filesystem the container gets a cgroup2 mount; otherwise
//!   (v1 or hybrid) a tmpfs with one read-only bind per hierarchy of the
//!   container's own cgroup directory, `/sys/fs/cgroup/<controller>/<cgroup
//!   path>`, and the same symlinks (`cpu -> cpu,cpuacct`), made read-only at
//!   the end if asked: the container sees its cgroup as the root, as a
//!   cgroup namespace would show it, and none of the host's.

use std::fmt;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::{Mount, Spec};

use super::actions::{MountCall, SymlinkCall};
use super::error::{errno_of, RootfsError};
use super::options::{parse_options, Bind};

/// Where the host keeps its cgroup filesystems.
pub const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How this host mounts cgroups at [`HOST_CGROUP_ROOT`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupLayout {
    /// `/sys/fs/cgroup` is itself cgroup2 (pure v2 hosts).
    Unified,
    /// `/sys/fs/cgroup` is a tmpfs holding v1 hierarchies (and maybe `unified`).
    Legacy(Vec<CgroupEntry>),
}

/// One name in the host's `/sys/fs/cgroup` tmpfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupEntry {
    /// A hierarchy, shown in the container as the container's own cgroup
    /// directory in it (`source`), as if that were the root.
    Dir {
        name: String,
        source: PathBuf,
    },
    Link {
        name: String,
        target: PathBuf,
    },
}

impl CgroupLayout {
    /// Looks at the host: statfs(2) of `/sys/fs/cgroup`, and its listing.
    /// `own` is the container's cgroup path (`glassbox/<id>`): on v1 each
    /// hierarchy is shown from there down, never the host's whole tree (and
    /// none of them for a container without a cgroup).
    pub fn detect(own: Option<&str>) -> Result<Self, RootfsError> {
        let info = |purpose| move |errno| RootfsError::HostInfo { path: HOST_CGROUP_ROOT.into(), purpose, errno };
        let fs = nix::sys::statfs::statfs(HOST_CGROUP_ROOT).map_err(info("see which cgroup version the host has"))?;
        if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            return Ok(CgroupLayout::Unified);
        }
        let listing =
            std::fs::read_dir(HOST_CGROUP_ROOT).map_err(|e| info("list the cgroup v1 controllers")(errno_of(&e)))?;
        let mut entries = Vec::new();
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            match entry.file_type() {
                Ok(t) if t.is_symlink() => {
                    if let Ok(target) = std::fs::read_link(entry.path()) {
                        entries.push(CgroupEntry::Link { name, target });
                    }
                }
                Ok(t) if t.is_dir() => {
                    // A hierarchy the container has no cgroup in stays hidden.
                    if let Some(source) = own.map(|own| entry.path().join(own)).filter(|s| s.is_dir()) {
                        entries.push(CgroupEntry::Dir { name, source });
                    }
                }
                _ => {}
            }
        }
        entries.sort_by(|a, b| entry_name(a).cmp(entry_name(b)));
        Ok(CgroupLayout::Legacy(entries))
    }
}

fn entry_name(e: &CgroupEntry) -> &str {
    match e {
        CgroupEntry::Dir { name: n, .. } | CgroupEntry::Link { name: n, .. } => n,
    }
}

/// One action of a planned mount: a mount(2) call or (cgroup v1) a symlink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountStep {
    Mount(MountCall),
    Symlink(SymlinkCall),
}

impl fmt::Display for MountStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountStep::Mount(m) => m.fmt(f),
            MountStep::Symlink(s) => s.fmt(f),
        }
    }
}

/// What one `mounts[N]` entry becomes. Targets are container paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedMount {
    /// `mounts[N]`, for events and errors.
    pub origin: String,
    /// `tmpfs on /dev`, for events and errors.
    pub what: String,
    pub destination: PathBuf,
    /// A host path that must exist (binds only).
    pub bind_source: Option<PathBuf>,
    pub steps: Vec<MountStep>,
    /// Options recognised but not applied (see `options.rs`).
    pub ignored_options: Vec<String>,
}

/// Every `mounts[]` entry, in order.
pub fn plan_mounts(spec: &Spec, cgroups: &CgroupLayout) -> Result<Vec<PlannedMount>, RootfsError> {
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    mounts.iter().enumerate().map(|(i, m)| plan_mount(i, m, cgroups)).collect()
}

/// One `mounts[index]` entry.
pub fn plan_mount(index: usize, mount: &Mount, cgroups: &CgroupLayout) -> Result<PlannedMount, RootfsError> {
    let origin = format!("mounts[{index}]");
    let destination = Path::new("/").join(mount.destination());
    let options = parse_options(mount.options().as_deref().unwrap_or_default());
    let typ = mount.typ().clone();
    let is_bind = options.bind.is_some() || matches!(typ.as_deref(), Some("bind" | "rbind"));
    let recursive = options.bind == Some(Bind::Rbind) || typ.as_deref() == Some("rbind");
    let what =
        format!("{} on {}", typ.as_deref().unwrap_or(if recursive { "rbind" } else { "bind" }), destination.display());
    let mut steps = Vec::new();
    let mut bind_source = None;
    // MS_REMOUNT may come from a literal "remount" option; the helpers below add it where needed.
    let flags = options.flags - MsFlags::MS_REMOUNT;

    if is_bind {
        let source = mount.source().clone().ok_or_else(|| RootfsError::BadMount {
            origin: origin.clone(),
            problem: format!("a bind mount on {} needs a `source` (the host path to show)", destination.display()),
        })?;
        steps.push(MountStep::Mount(MountCall::bind(&source, &destination, recursive)));
        if !flags.is_empty() {
            steps.push(MountStep::Mount(MountCall::remount_bind(&destination, flags)));
        }
        bind_source = Some(source);
    } else {
        let typ = typ.ok_or_else(|| RootfsError::BadMount {
            origin: origin.clone(),
            problem: format!(
                "no `type` and no bind option for {}: say which filesystem to mount",
                destination.display()
            ),
        })?;
        let source = mount.source().as_ref().map(|s| s.display().to_string()).unwrap_or_else(|| typ.clone());
        if options.flags.contains(MsFlags::MS_REMOUNT) {
            // An explicit remount of something already there: pass it through as written.
            steps.push(MountStep::Mount(MountCall {
                source: None,
                target: destination.clone(),
                fstype: None,
                flags: options.flags,
                data: options.data_string(),
            }));
        } else if typ == "cgroup" {
            steps.extend(plan_cgroup(&destination, flags, cgroups));
        } else {
            steps.push(MountStep::Mount(MountCall::new_fs(&typ, &source, &destination, flags, options.data_string())));
        }
    }
    for propagation in &options.propagation {
        steps.push(MountStep::Mount(MountCall::propagation(&destination, *propagation)));
    }
    Ok(PlannedMount { origin, what, destination, bind_source, steps, ignored_options: options.ignored })
}

fn plan_cgroup(destination: &Path, flags: MsFlags, cgroups: &CgroupLayout) -> Vec<MountStep> {
    let entries = match cgroups {
        CgroupLayout::Unified => {
            return vec![MountStep::Mount(MountCall::new_fs("cgroup2", "cgroup", destination, flags, None))];
        }
        CgroupLayout::Legacy(entries) => entries,
    };
    // The tmpfs stays writable until its directories are made and bound.
    let mut steps = vec![MountStep::Mount(MountCall::new_fs(
        "tmpfs",
        "tmpfs",
        destination,
        flags - MsFlags::MS_RDONLY,
        Some("mode=755".into()),
    ))];
    let locked = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    for entry in entries {
        match entry {
            CgroupEntry::Dir { name, source } => {
                let target = destination.join(name);
                steps.push(MountStep::Mount(MountCall::bind(source, &target, false)));
                steps.push(MountStep::Mount(MountCall::remount_bind(&target, locked)));
            }
            CgroupEntry::Link { name, target } => steps.push(MountStep::Symlink(SymlinkCall {
                link: destination.join(name),
                target: target.clone(),
                replace: false,
            })),
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        steps.push(MountStep::Mount(MountCall::remount_bind(destination, flags)));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{get_default_mounts, MountBuilder, SpecBuilder};

    fn shell(plan: &[PlannedMount]) -> Vec<String> {
        plan.iter().flat_map(|p| p.steps.iter().map(|s| s.to_string())).collect()
    }

    #[test]
    fn runc_spec_mounts_on_a_cgroup2_host() {
        let spec = SpecBuilder::default().mounts(get_default_mounts()).build().unwrap();
        let plan = plan_mounts(&spec, &CgroupLayout::Unified).unwrap();
        assert_eq!(plan[1].origin, "mounts[1]");
        assert_eq!(plan[1].what, "tmpfs on /dev");
        assert_eq!(
            shell(&plan),
            vec![
                "mount -t proc proc /proc",
                "mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs /dev",
                "mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts",
                "mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm /dev/shm",
                "mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue",
                "mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys",
                "mount -t cgroup2 -o ro,nosuid,nodev,noexec,relatime cgroup /sys/fs/cgroup",
            ]
        );
        let devpts = match &plan[2].steps[0] {
            MountStep::Mount(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(devpts.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(devpts.data.as_deref(), Some("newinstance,ptmxmode=0666,mode=0620,gid=5"));
    }

    #[test]
    fn cgroup_on_a_v1_host_is_a_tmpfs_of_read_only_binds() {
        let layout = CgroupLayout::Legacy(vec![
            CgroupEntry::Link { name: "cpu".into(), target: "cpu,cpuacct".into() },
            CgroupEntry::Dir { name: "cpu,cpuacct".into(), source: "/sys/fs/cgroup/cpu,cpuacct/glassbox/c1".into() },
        ]);
        let cgroup = get_default_mounts().pop().unwrap();
        let plan = plan_mount(6, &cgroup, &layout).unwrap();
        assert_eq!(
            plan.steps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            vec![
                "mount -t tmpfs -o nosuid,nodev,noexec,relatime,mode=755 tmpfs /sys/fs/cgroup",
                "ln -s cpu,cpuacct /sys/fs/cgroup/cpu",
                "mount --bind /sys/fs/cgroup/cpu,cpuacct/glassbox/c1 /sys/fs/cgroup/cpu,cpuacct",
                "mount -o remount,bind,ro,nosuid,nodev,noexec /sys/fs/cgroup/cpu,cpuacct",
                "mount -o remount,bind,ro,nosuid,nodev,noexec,relatime /sys/fs/cgroup",
            ]
        );
    }

    #[test]
    fn binds_get_a_remount_and_propagation_calls() {
        let m = MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source("/srv/data")
            .options(vec!["rbind".into(), "ro".into(), "nosuid".into(), "rprivate".into()])
            .build()
            .unwrap();
        let plan = plan_mount(3, &m, &CgroupLayout::Unified).unwrap();
        assert_eq!(plan.bind_source, Some(PathBuf::from("/srv/data")));
        assert_eq!(
            plan.steps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            vec![
                "mount --rbind /srv/data /data",
                "mount -o remount,bind,ro,nosuid /data",
                "mount --make-rprivate /data",
            ]
        );
        let plain = MountBuilder::default()
            .destination("/etc/hosts")
            .typ("none")
            .source("/h")
            .options(vec!["bind".into()])
            .build()
            .unwrap();
        let plan = plan_mount(0, &plain, &CgroupLayout::Unified).unwrap();
        assert_eq!(plan.steps.len(), 1, "no flags → no remount");
        let no_source = MountBuilder::default().destination("/x").typ("bind").build().unwrap();
        let err = plan_mount(4, &no_source, &CgroupLayout::Unified).unwrap_err().to_string();
        assert!(err.starts_with("mounts[4]: a bind mount on /x needs a `source`"), "{err}");
    }
}
