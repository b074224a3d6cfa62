//! `glassbox list`: every container under --root, as runc prints them.

use super::{Container, ContainerError};
use crate::paths::Paths;
use crate::state::{list_ids, StateError};

#[derive(Debug, serde::Serialize)]
pub struct ListEntry {
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: String,
    pub created: String,
    pub owner: String,
}

impl Container {
    pub fn list(paths: &Paths) -> Result<Vec<ListEntry>, ContainerError> {
        let mut out = Vec::new();
        for id in list_ids(paths)? {
            let c = match Container::load(paths, &id) {
                Ok(c) => c,
                // One line for it, and the others are still listed.
                Err(e @ ContainerError::State(StateError::Corrupt { .. })) => {
                    crate::log::warn(&e.to_string());
                    continue;
                }
                // A container being deleted right now may vanish under us.
                Err(_) => continue,
            };
            let status = c.status();
            out.push(ListEntry {
                id,
                pid: if status == crate::state::Status::Stopped { 0 } else { c.state.pid },
                status: status.to_string(),
                bundle: c.state.bundle.display().to_string(),
                created: c.state.created.clone(),
                owner: c.state.owner.clone(),
            });
        }
        Ok(out)
    }
}
