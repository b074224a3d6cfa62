//! `glassbox events`: the container's cgroup numbers as runc prints them —
//! one `{"type":"stats",…}` line every `--interval`, `{"type":"oom",…}` as
//! soon as the kernel's OOM killer strikes in the container, until the
//! container stops. `--stats` prints one stats line and exits.

use std::io::Write;
use std::time::{Duration, Instant};

use super::{Container, ContainerError};
use crate::state::Status;

/// How often the OOM counter is looked at between stats lines.
const OOM_POLL: Duration = Duration::from_millis(100);

impl Container {
    fn stats_line(&self, cgroup: &crate::cgroups::ContainerCgroup) -> String {
        serde_json::json!({ "type": "stats", "id": self.state.id, "data": cgroup.stats() }).to_string()
    }

    /// Print events to `out` until the container stops (or once, with `once`).
    pub fn events(&self, interval: Duration, once: bool, out: &mut dyn Write) -> Result<(), ContainerError> {
        if self.status() == Status::Stopped {
            return Err(self.wrong_status("it has no cgroup to report on"));
        }
        let cgroup = self.cgroup_for("events reports the numbers of its cgroup")?;
        let io = |source| ContainerError::Io { what: "writing events", path: "stdout".into(), source };
        if once {
            return writeln!(out, "{}", self.stats_line(cgroup)).map_err(io);
        }
        let mut ooms = cgroup.oom_kills();
        let mut next_stats = Instant::now();
        loop {
            // Read whether the init lives *before* the OOM counter: an OOM
            // kill that ends the init itself (the usual case when the init is
            // the process that allocates) then shows in the counter on this
            // last round, and is reported before `events` exits.
            let alive = self.state.init_alive();
            let now_ooms = cgroup.oom_kills();
            if now_ooms > ooms {
                writeln!(out, "{}", serde_json::json!({ "type": "oom", "id": self.state.id })).map_err(io)?;
                ooms = now_ooms;
            }
            if !alive {
                return out.flush().map_err(io);
            }
            if Instant::now() >= next_stats {
                writeln!(out, "{}", self.stats_line(cgroup)).map_err(io)?;
                next_stats = Instant::now() + interval;
            }
            out.flush().map_err(io)?;
            std::thread::sleep(OOM_POLL.min(interval));
        }
    }
}
