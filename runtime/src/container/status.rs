//! Which verbs are allowed in which status (runtime-spec runtime.md#lifecycle).

use super::Container;
use crate::state::Status;

impl Container {
    /// `start` only turns a created container into a running one.
    pub fn can_start(&self) -> bool {
        self.status() == Status::Created
    }

    /// Signals go to containers whose init still exists.
    pub fn can_kill(&self) -> bool {
        matches!(self.status(), Status::Created | Status::Running | Status::Paused)
    }

    /// Without --force, only containers that never ran or have stopped go.
    pub fn can_delete(&self) -> bool {
        matches!(self.status(), Status::Created | Status::Stopped)
    }

    /// New processes join only a running container.
    pub fn can_exec(&self) -> bool {
        self.status() == Status::Running
    }
}
