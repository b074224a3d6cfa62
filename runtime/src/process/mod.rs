//! Making the container's first process — its *init* — and talking to it.
//!
//! [`spawn`] clones it (with [`clone3`], straight into its cgroup2
//! directory), given [`init_options`]; [`init`] is the child's side, from
//! the clone to execve, as named steps; [`join`] makes the process `exec`
//! adds to a running container. Both children talk to the runtime over
//! [`protocol`], whose module doc draws the whole conversation, and die
//! with the runtime until it has recorded them ([`lifeline`]). What keeps
//! the host out of them: [`fds`], [`cwd`], [`program`], [`sealed_exec`].

pub mod clone3;
pub mod cwd;
pub mod fds;
pub mod init;
pub mod init_options;
pub mod join;
pub mod lifeline;
pub mod program;
pub mod protocol;
pub mod sealed_exec;
pub mod spawn;

pub use init_options::InitOptions;
pub use protocol::{Channel, FromInit, FromRuntime};
pub use spawn::{spawn_init, ProcessError, SpawnedInit};
