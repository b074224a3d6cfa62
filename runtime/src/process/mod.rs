//! Making the container's first process — its *init* — and talking to it.
//!
//! ```text
//!  runtime (glassbox create)                     init (the clone(2) child)
//!  ─────────────────────────                     ─────────────────────────
//!  make the cgroup, write the limits
//!  mkfifo <state>/exec.fifo
//!  clone(CLONE_NEWNS|NEWPID|NEWUTS|…) ─────────▶ born in its new namespaces, waits
//!  write /proc/<pid>/uid_map, gid_map
//!  write <pid> to the cgroup's cgroup.procs
//!            ──── Go ────────────────────────▶  setns(2) into namespaces given by path
//!                                               unshare(CLONE_NEWCGROUP)
//!                                               mounts, devices      (rootfs::prepare)
//!            ◀─── MountsDone ─────────────────
//!  write the device rules (devices cgroup / eBPF)
//!  run prestart + createRuntime hooks
//!            ──── HooksDone{state} ──────────▶  run createContainer hooks
//!                                               pivot_root           (rootfs::enter)
//!            ◀─── Console + pty master fd ────  (only with process.terminal)
//!                                               hostname, sysctl, masked/readonly paths,
//!                                               rlimits, (seccomp), caps, user, no_new_privs
//!            ◀─── Ready ──────────────────────
//!  write state.json
//!            ──── Recorded ──────────────────▶  stop dying with the runtime (lifeline)
//!            ◀─── Released ───────────────────
//!  exit                                          open(exec.fifo, O_WRONLY)  … blocks …
//!
//!  glassbox start: open(exec.fifo, O_RDONLY) ──▶ write "0" (the fd kept), startContainer
//!                  unlink the fifo, read to EOF  hooks, (seccomp), execve(process.args)
//!                  EOF: running ◀────────────── execve closes the fifo (O_CLOEXEC)
//!                  "stage\nreason": exit 1 ◀── or a step failed: why, into the fifo
//! ```
//! Any step that fails before `start` sends `Failed{stage, message}` and the
//! init exits; the runtime then removes everything it made. Until `Recorded`
//! the init also dies with the runtime ([`lifeline`]), so a runtime killed
//! half-way leaves no init that no state.json names. After `start` opened
//! exec.fifo, the init writes the failed stage and the reason there
//! instead, for `start` to print.

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
