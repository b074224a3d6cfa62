//! OCI lifecycle hooks (STUB — being written; interface is fixed).

use oci_spec::runtime::Hook;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{0}")]
    Other(String),
}

/// Run each hook of one lifecycle point (`kind` is its config.json name,
/// e.g. "createRuntime") in order, with the container state JSON on stdin.
pub fn run_hooks(_kind: &str, _hooks: &[Hook], _state_json: &[u8]) -> Result<(), HookError> {
    Ok(())
}
