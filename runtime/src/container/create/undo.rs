//! What a failed `create` takes back: everything made so far, in the
//! reverse order of making it, whatever step failed.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::cgroups::ContainerCgroup;
use crate::rootfs::inherited::RootfsMount;
use crate::state::ContainerDir;

/// Everything a failed create must undo, undone on drop unless disarmed
/// (`Container::create` takes each part out once the container is made).
pub(super) struct Undo {
    pub cgroup_parent: String,
    pub init: Option<Pid>,
    /// The mounts made in the runtime's mount namespace (no namespace of its own).
    pub rootfs_mount: Option<RootfsMount>,
    pub cgroup: Option<ContainerCgroup>,
    pub dir: Option<ContainerDir>,
}

impl Undo {
    pub fn new(cgroup_parent: &str, dir: ContainerDir) -> Undo {
        Undo { cgroup_parent: cgroup_parent.into(), init: None, rootfs_mount: None, cgroup: None, dir: Some(dir) }
    }

    /// The state directory, there until `create` succeeds.
    pub fn dir(&self) -> &ContainerDir {
        self.dir.as_ref().expect("the state directory is ours until create succeeds")
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.init {
            stop_init(pid);
        }
        // Once the init is gone, nothing mounts any more.
        if let Some(mount) = &self.rootfs_mount {
            if let Err(e) = mount.detach() {
                crate::log::warn(&e.to_string());
            }
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.remove(&self.cgroup_parent);
        }
        if let Some(dir) = self.dir.take() {
            // Why it failed stays readable: the record moves out first.
            let _ = crate::recorder::kept::keep(&dir.path);
            let _ = dir.remove();
        }
    }
}

/// Stop a half-made init. The runtime's end of the channel is closed by
/// now (the init's `SpawnedInit` drops before `Undo`), so an init waiting
/// on it — for `Go`, for `HooksDone`, for `Recorded` — exits by itself,
/// its last lines written: after `MountsDone` it writes them only once it
/// has told the runtime ([`Channel::send_then_flush`](crate::process::Channel::send_then_flush)).
/// One that is not gone within 10 ms (still in a createContainer hook, or
/// released and on its way to exec.fifo when `Released` went astray) is killed.
fn stop_init(pid: Pid) {
    for _ in 0..100 {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(std::time::Duration::from_micros(100)),
            _ => return,
        }
    }
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}
