//! `glassbox update`: change a running container's resource limits in
//! place, by writing the cgroup files again (runc's `update`). A container
//! in a systemd scope (`--systemd-cgroup`) has the limits systemd knows
//! changed as the scope's properties (SetUnitProperties), the rest written.

use oci_spec::runtime::LinuxResources;

use super::{Container, ContainerError};
use crate::cgroups;
use crate::state::Status;

impl Container {
    /// Plan and write `resources`; returns what was written, in order.
    pub fn update(&self, resources: &LinuxResources) -> Result<Vec<cgroups::CgroupWriteOutcome>, ContainerError> {
        if matches!(self.status(), Status::Stopped) {
            return Err(self.wrong_status("there is no cgroup left to update"));
        }
        let cgroup = self.cgroup_for("update changes the limits in its cgroup")?;
        let writes = cgroups::plan_resources(resources, cgroup.version()).map_err(cgroups::CgroupError::from)?;
        let Some(unit) = &cgroup.unit else { return Ok(cgroup.apply(&writes)?) };
        let (props, files) = cgroups::systemd::plan_properties(&writes, cgroup.version());
        if !props.is_empty() {
            cgroups::systemd::Systemd::connect()?.set_properties(unit, &props)?;
        }
        Ok(cgroup.apply(&files)?)
    }
}
