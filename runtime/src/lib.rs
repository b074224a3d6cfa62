//! # glassbox — an OCI runtime you can see through
//!
//! The modules are listed in the order in which a container is made, so a
//! learner can read them top to bottom:
//!
//! 1. [`bundle`]     — read `config.json` and check it before touching the system.
//! 2. [`state`]      — the container's directory under `--root`: `state.json`, the lock, `exec.fifo`.
//! 3. [`cgroups`]    — make the container's cgroup and put its first process in it.
//! 4. [`namespaces`] — which namespaces to create (clone flags) and which to join (setns);
//!    [`idmap`] writes a new user namespace's uid and gid maps.
//! 5. [`process`]    — clone the container's init, the parent↔child protocol, the ordered init steps.
//! 6. [`rootfs`]     — mounts, device nodes, pivot_root, masked and read-only paths.
//! 7. [`security`]   — rlimits, user and groups, capabilities, no_new_privs, seccomp.
//! 8. [`hooks`]      — the OCI lifecycle hooks, fed the state on stdin.
//! 9. [`terminal`]   — the pseudo-terminal and the console socket.
//!
//! Every stage is recorded as it happens by [`recorder`] into the
//! container's `events.jsonl`.
//!
//! [`rootless`] says what changes when glassbox runs without root.
//!
//! [`container`] has one file per command-line verb (`create`, `start`, `kill`…),
//! and [`cli`] turns runc's command line into calls on it. [`fault`] lets a
//! debug build die at a named point, for the tests of what a killed runtime leaves.
//! [`log`] writes runc-style log lines for every module (cli only sets it up).

pub mod bundle;
pub mod cgroups;
pub mod cli;
pub mod container;
pub mod fault;
pub mod hooks;
pub mod idmap;
pub mod ktrace;
pub mod log;
pub mod namespaces;
pub mod paths;
pub mod process;
pub mod recorder;
pub mod regular_file;
pub mod rootfs;
pub mod rootless;
pub mod security;
pub mod signals;
pub mod state;
pub mod terminal;
