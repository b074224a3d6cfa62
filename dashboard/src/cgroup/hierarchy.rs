//! Where a process's cgroups are on disk. `/proc/<pid>/cgroup` names, for
//! each hierarchy, a path relative to that hierarchy's root
//! (`4:memory:/glassbox/web`, and `0::/glassbox/web` for the cgroup2 tree);
//! `/proc/self/mountinfo` says where each hierarchy is mounted and which
//! part of it the mount shows. Joining the two gives the directories whose
//! files the sampler reads.
//!
//! Three layouts exist: cgroup v1 (one hierarchy per controller group, at
//! `/sys/fs/cgroup/<controller>`), v2 (one tree, at `/sys/fs/cgroup`), and
//! the hybrid of systemd's older default (the v1 hierarchies, plus a cgroup2
//! tree at `/sys/fs/cgroup/unified` that holds no or few controllers, but
//! has the pressure files).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The cgroup hierarchies mounted on this host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub v1: Vec<Mount>,
    pub unified: Option<Mount>,
}

/// One mounted hierarchy: its controllers (v1; empty for cgroup2), the
/// part of the hierarchy the mount shows, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub controllers: BTreeSet<String>,
    pub root: String,
    pub mount_point: PathBuf,
}

/// One container's directories, one per controller the sampler reads.
/// On v2 they are all the same directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dirs {
    /// The path shown (cAdvisor's `id` label): the cgroup2 path on v2, the
    /// memory controller's on v1 and hybrid.
    pub path: String,
    pub memory: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub blkio: Option<PathBuf>,
    /// The cgroup2 directory (v2, or hybrid's unified tree).
    pub unified: Option<PathBuf>,
}

impl Layout {
    /// From `/proc/self/mountinfo`.
    pub fn of_host() -> Layout {
        Layout::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
    }

    /// proc(5) mountinfo: `id parent dev root mount-point options [tags] - fstype source super-options`.
    pub fn parse(mountinfo: &str) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let (Some(root), Some(point), Some(fstype)) = (left.get(3), left.get(4), right.first()) else { continue };
            let mount =
                |controllers| Mount { controllers, root: unescape(root), mount_point: PathBuf::from(unescape(point)) };
            match *fstype {
                "cgroup2" if layout.unified.is_none() => layout.unified = Some(mount(BTreeSet::new())),
                "cgroup" => {
                    let options = right.get(2).copied().unwrap_or("");
                    let controllers = options.split(',').filter(|o| !matches!(*o, "rw" | "ro")).map(String::from);
                    let controllers: BTreeSet<String> =
                        controllers.filter(|o| !o.contains('=') || o.starts_with("name=")).collect();
                    if !layout.v1.iter().any(|m| m.controllers == controllers) {
                        layout.v1.push(mount(controllers));
                    }
                }
                _ => {}
            }
        }
        layout
    }

    /// "v1", "v2" or "hybrid" (v1 controllers beside a cgroup2 tree).
    pub fn version(&self) -> &'static str {
        let v1_controllers = self.v1.iter().any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        match (v1_controllers, self.unified.is_some()) {
            (true, true) => "hybrid",
            (true, false) => "v1",
            _ => "v2",
        }
    }

    /// The directories of the process whose `/proc/<pid>/cgroup` reads `text`.
    pub fn dirs(&self, text: &str) -> Dirs {
        let mut dirs = Dirs::default();
        for line in text.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            if controllers.is_empty() {
                dirs.unified = self.unified.as_ref().and_then(|m| m.dir(path));
                if self.version() == "v2" {
                    dirs.path = path.to_string();
                    for d in [&mut dirs.memory, &mut dirs.cpu, &mut dirs.cpuacct, &mut dirs.pids, &mut dirs.blkio] {
                        *d = dirs.unified.clone();
                    }
                }
                continue;
            }
            let wanted: BTreeSet<String> = controllers.split(',').map(String::from).collect();
            let Some(dir) = self.v1.iter().find(|m| m.controllers == wanted).and_then(|m| m.dir(path)) else {
                continue;
            };
            for c in &wanted {
                let slot = match c.as_str() {
                    "memory" => {
                        dirs.path = path.to_string();
                        &mut dirs.memory
                    }
                    "cpu" => &mut dirs.cpu,
                    "cpuacct" => &mut dirs.cpuacct,
                    "pids" => &mut dirs.pids,
                    "blkio" => &mut dirs.blkio,
                    _ => continue,
                };
                *slot = Some(dir.clone());
            }
        }
        dirs
    }
}

impl Layout {
    /// The directories of a cgroup path (state.json's `cgroupPath`, e.g.
    /// `glassbox/web`) in every hierarchy: for when no process is left to
    /// read /proc/<pid>/cgroup of.
    pub fn dirs_of_path(&self, path: &str) -> Dirs {
        let path = format!("/{}", path.trim_start_matches('/'));
        let mut text: String = self
            .v1
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{}:{}:{path}\n", i + 1, m.controllers.iter().cloned().collect::<Vec<_>>().join(",")))
            .collect();
        text.push_str(&format!("0::{path}\n"));
        self.dirs(&text)
    }
}

impl Mount {
    /// `path` (as /proc/<pid>/cgroup names it) under this mount; None if
    /// the mount does not show that part of the hierarchy.
    fn dir(&self, path: &str) -> Option<PathBuf> {
        let rest = if self.root == "/" { path } else { path.strip_prefix(self.root.as_str())? };
        let rest = rest.trim_start_matches('/');
        if rest.split('/').any(|c| c == "..") {
            return None;
        }
        Some(if rest.is_empty() { self.mount_point.clone() } else { self.mount_point.join(rest) })
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    glassbox_events::proc_text::unescape(field)
}

/// `/proc/<pid>/cgroup` of a process, or None if it is gone.
pub fn of_process(pid: i32) -> Option<String> {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("cgroup")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 30 0:23 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid shared:14 - cgroup cgroup rw,memory
31 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 - cgroup cgroup rw,cpu,cpuacct
32 25 0:30 / /sys/fs/cgroup/pids rw,nosuid shared:16 - cgroup cgroup rw,pids
33 25 0:31 / /sys/fs/cgroup/blkio rw,nosuid shared:17 - cgroup cgroup rw,blkio
34 25 0:31 /sub /mnt/blkio-again rw,nosuid shared:17 - cgroup cgroup rw,blkio
";

    #[test]
    fn hybrid_maps_each_controller_to_its_hierarchy() {
        let layout = Layout::parse(HYBRID);
        assert_eq!(layout.version(), "hybrid");
        assert_eq!(layout.v1.len(), 5, "a hierarchy mounted twice is taken once: {layout:?}");
        let dirs = layout.dirs(
            "9:name=systemd:/\n7:blkio:/glassbox/web\n6:pids:/glassbox/web\n4:memory:/glassbox/web\n\
             2:cpu,cpuacct:/glassbox/web\n0::/glassbox/web\n",
        );
        let at = |s: &str| Some(PathBuf::from(s));
        assert_eq!(dirs.path, "/glassbox/web");
        assert_eq!(dirs.memory, at("/sys/fs/cgroup/memory/glassbox/web"));
        assert_eq!(
            (dirs.cpu.clone(), dirs.cpuacct.clone()),
            (at("/sys/fs/cgroup/cpu,cpuacct/glassbox/web"), dirs.cpu.clone())
        );
        assert_eq!(dirs.pids, at("/sys/fs/cgroup/pids/glassbox/web"));
        assert_eq!(dirs.unified, at("/sys/fs/cgroup/unified/glassbox/web"));
        assert_eq!(layout.dirs_of_path("glassbox/web"), dirs, "the same from state.json's cgroupPath");
    }

    #[test]
    fn v2_puts_every_controller_in_one_directory_and_v1_alone_is_v1() {
        let layout = Layout::parse("26 25 0:24 / /sys/fs/cgroup rw shared:10 - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(layout.version(), "v2");
        let dirs = layout.dirs("0::/glassbox/web\n");
        assert_eq!(dirs.path, "/glassbox/web");
        assert_eq!(dirs.memory, Some(PathBuf::from("/sys/fs/cgroup/glassbox/web")));
        assert_eq!(dirs.pids, dirs.memory);
        let v1 = Layout::parse(&HYBRID.lines().filter(|l| !l.contains("cgroup2")).collect::<Vec<_>>().join("\n"));
        assert_eq!(v1.version(), "v1");
        // A path outside what the mount shows, or climbing out of it: no directory.
        let m = Mount { controllers: BTreeSet::new(), root: "/sub".into(), mount_point: "/m".into() };
        assert_eq!((m.dir("/other"), m.dir("/sub/../x")), (None, None));
        assert_eq!(m.dir("/sub/c"), Some(PathBuf::from("/m/c")));
    }
}
