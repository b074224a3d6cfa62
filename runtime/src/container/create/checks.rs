//! What `create` refuses after reading config.json and before making
//! anything, beyond the bundle's own checks (bundle/): combinations of
//! config.json and the command line.

use super::{ConsoleHandling, ContainerError};
use crate::bundle::Bundle;

/// `{"type": "mount", "path": "/proc/1/ns/mnt"}`, glassbox's own mount
/// namespace named by path: the init would prepare and pivot_root *there*,
/// moving the root of every process on the host. Leaving "mount" out says
/// the same thing, and that case is made safely (rootfs/inherited.rs).
pub(super) fn refuse_joining_our_mount_namespace(linux: &oci_spec::runtime::Linux) -> Result<(), ContainerError> {
    use oci_spec::runtime::LinuxNamespaceType::Mount;
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let Some(path) = namespaces.iter().find(|ns| ns.typ() == Mount).and_then(|ns| ns.path().as_ref()) else {
        return Ok(());
    };
    if !crate::namespaces::is_ours(Mount, path) {
        return Ok(());
    }
    Err(crate::bundle::BundleError::Unsupported {
        field: "linux.namespaces",
        message: format!(
            "the mount namespace {} is glassbox's own: joining it, the init would pivot_root there and move the root of every process on the host; leave \"mount\" out of linux.namespaces instead: the container then shares it, and glassbox mounts only below its rootfs",
            path.display()
        ),
    }
    .into())
}

/// runc's rules: a terminal needs somewhere to go, and a console socket
/// without a terminal is a mistake worth reporting.
pub(super) fn check_console_options(bundle: &Bundle, console: &ConsoleHandling) -> Result<(), ContainerError> {
    let terminal = bundle.spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    match (terminal, console) {
        (true, ConsoleHandling::None) => Err(ContainerError::Usage(
            "process.terminal is true but no --console-socket was given: pass one, or set terminal to false".into(),
        )),
        (false, ConsoleHandling::Socket(_)) => {
            Err(ContainerError::Usage("--console-socket was given but process.terminal is false in config.json".into()))
        }
        _ => Ok(()),
    }
}
