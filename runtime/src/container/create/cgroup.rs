//! Where the container's cgroup goes, and who makes it — decided before
//! anything is made, so that a cgroupsPath or a limit that cannot be had
//! fails `create` with nothing to undo. Three answers:
//! - **cgroupfs**: glassbox makes the directories *before* the init, so
//!   that clone3(2) can start it inside (process::clone3);
//! - **a systemd scope** (`--systemd-cgroup`): systemd makes it *after*,
//!   since a scope cannot start empty: it is asked to hold the waiting init;
//! - **none**: without root, where no cgroup was delegated (rootless.rs).

use oci_spec::runtime::{Linux, LinuxDeviceCgroup};

use super::undo::Undo;
use super::{ContainerError, CreateOptions};
use crate::cgroups::systemd::SystemdCgroup;
use crate::cgroups::{self, CgroupWrite, ContainerCgroup, NotDelegated};
use crate::paths::Paths;
use crate::recorder::Recorder;
use crate::rootless::Privilege;
use glassbox_events::Stage;

pub(super) struct CgroupChoice {
    /// The cgroup's path below each hierarchy's root.
    pub path: String,
    /// `--systemd-cgroup`: the scope systemd is asked for.
    pub systemd: Option<SystemdCgroup>,
    /// Who runs glassbox: root, or a user (then a cgroup only if delegated).
    pub privilege: Privilege,
    /// Why the container gets no cgroup at all.
    pub none_because: Option<NotDelegated>,
}

impl CgroupChoice {
    pub fn decide(paths: &Paths, opts: &CreateOptions, linux: &Linux) -> Result<CgroupChoice, ContainerError> {
        let cgroups_path = linux.cgroups_path().as_deref();
        let systemd = match opts.systemd_cgroup {
            true => {
                let text = cgroups_path.map(|p| p.to_string_lossy());
                Some(cgroups::systemd::parse_cgroups_path(text.as_deref(), &opts.id)?)
            }
            false => None,
        };
        let path = match &systemd {
            Some(sd) => sd.path.clone(),
            None => cgroups::cgroup_path(cgroups_path, &paths.cgroup_parent, &opts.id)?,
        };
        let privilege = Privilege::of_this_process();
        let rootless = opts.rootless.unwrap_or(privilege.is_rootless());
        if rootless && systemd.is_some() {
            return Err(ContainerError::Usage(
                "--systemd-cgroup without root (a scope from the user's own systemd) is not supported yet: \
                 drop the flag (podman: --cgroup-manager cgroupfs)"
                    .into(),
            ));
        }
        let none_because = match rootless {
            true => cgroups::may_make_without_root(&path).err(),
            false => None,
        };
        Ok(CgroupChoice { path, systemd, privilege, none_because })
    }

    /// The path state.json and `delete` go by: none without a cgroup.
    pub fn path_if_any(&self) -> Option<&str> {
        self.none_because.is_none().then_some(self.path.as_str())
    }

    /// With systemd the limits go to the scope once the init exists; they
    /// are planned now, so that a bad value fails before anything is made.
    pub fn plan_systemd_limits(&self, linux: &Linux) -> Result<Vec<CgroupWrite>, ContainerError> {
        match (&self.systemd, linux.resources()) {
            (Some(_), Some(resources)) => {
                Ok(cgroups::plan_resources(resources, cgroups::host_version()).map_err(cgroups::CgroupError::from)?)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Before the init: make the cgroupfs directories and write the limits
    /// (kept in `undo`), or record why there is no cgroup. A systemd scope
    /// waits for [`start_systemd_scope`](Self::start_systemd_scope).
    pub fn make_before_clone(
        &self,
        rec: &Recorder,
        me: i32,
        undo: &mut Undo,
        linux: &Linux,
    ) -> Result<(), ContainerError> {
        if let Some(why) = &self.none_because {
            rec.stage(me, Stage::Cgroup, || {
                record_no_cgroup(why, linux);
                Ok::<_, ContainerError>(())
            })?;
            return Ok(());
        }
        if self.systemd.is_some() {
            return Ok(());
        }
        let cgroup = undo.cgroup.insert(rec.stage(me, Stage::Cgroup, || {
            let cgroup = ContainerCgroup::create(&self.path, &undo.cgroup_parent)?;
            crate::recorder::step("create", |a| {
                a.str("path", &cgroup.path).str("version", cgroup.layout_name());
            });
            Ok::<_, cgroups::CgroupError>(cgroup)
        })?);
        crate::fault::point("create:cgroup");
        if let Some(resources) = linux.resources() {
            rec.stage(me, Stage::Cgroup, || {
                let writes = cgroups::plan_resources(resources, cgroup.version())?;
                cgroup.apply(&writes).map(drop)
            })?;
        }
        crate::fault::point("create:limits");
        Ok(())
    }

    /// After the init: systemd makes the scope holding it (it waits for
    /// `Go`), with `limits` as properties; what systemd has no property for
    /// is written into the scope's files.
    pub fn start_systemd_scope(
        &self,
        rec: &Recorder,
        id: &str,
        pid: i32,
        limits: &[CgroupWrite],
        undo: &mut Undo,
    ) -> Result<(), ContainerError> {
        let Some(sd) = &self.systemd else { return Ok(()) };
        let version = cgroups::host_version();
        let (scope, files) =
            rec.stage(pid, Stage::Cgroup, || cgroups::systemd::start_container_scope(sd, id, pid, limits, version))?;
        let scope = undo.cgroup.insert(scope);
        if !files.is_empty() {
            rec.stage(pid, Stage::Cgroup, || scope.apply(&files).map(drop))?;
        }
        Ok(())
    }
}

/// The `no_cgroup` step: why the container has none (`reason`, the
/// directory that refused), and how many `linux.resources.devices` rules
/// are left unenforced for want of one (rootless::check refused any limit).
fn record_no_cgroup(why: &NotDelegated, linux: &Linux) {
    let rules = linux.resources().as_ref().and_then(|r| r.devices().as_ref()).map_or(0, Vec::len);
    crate::recorder::step("no_cgroup", |a| {
        a.uint("device_rules_ignored", rules as u64).path("dir", &why.dir).display("reason", why);
    });
}

/// `linux.resources.devices`, once the init has made the container's /dev
/// nodes (mknod needs the rules not to refuse it yet). The same rules
/// either way: lines for devices.allow/deny on v1, an eBPF program built
/// from those lines on v2.
pub(super) fn apply_device_rules(cgroup: &ContainerCgroup, rules: &[LinuxDeviceCgroup]) -> Result<(), ContainerError> {
    let writes = cgroups::plan_device_rules_v1(rules);
    if cgroup.version() == cgroups::CgroupVersion::V2 {
        let dir = cgroup.dir_of("devices").unwrap_or_default();
        let attached = cgroup.attach_device_filter(&writes);
        let n = attached.as_ref().copied().unwrap_or(writes.len());
        crate::recorder::step("device_filter", |a| {
            a.path("cgroup", &dir).result("result", &attached).uint("rules", n as u64);
        });
        attached?;
        return Ok(());
    }
    cgroup.apply(&writes)?;
    Ok(())
}
