//! The kernel's own word that a trouble counter moved, so a marker is set
//! within milliseconds of an OOM kill or a refused fork, not at the next
//! one-second sample — and before `run`'s delete takes the cgroup away when
//! the OOM kill ended the init.
//!
//! Two mechanisms, by file:
//! - cgroup v2's `memory.events` and `pids.events`: the kernel signals a
//!   change of these files as a modification, which inotify(7) reports
//!   (IN_MODIFY). v1's `pids.events` has the same text but no such signal
//!   (tried on this project's 6.18 kernel): there, a refused fork is marked
//!   at the next sample;
//! - cgroup v1's memory controller predates that: an eventfd(2) is
//!   registered for `memory.oom_control` by writing `"<eventfd> <fd of
//!   memory.oom_control>"` to the cgroup's `cgroup.event_control`; the
//!   eventfd then counts the cgroup's OOMs (and is signalled once more
//!   when the cgroup is removed).
//!
//! One thread waits on all of them (epoll(7)) and takes a sample of the
//! container concerned at once — or, as the v1 eventfd is signalled when
//! the OOM starts, a moment before the kill is counted, as soon as a
//! counter has moved (read every millisecond, for at most 50).

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use super::hierarchy::Dirs;
use crate::Shared;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{what}: {source}")]
    Setup { what: &'static str, source: nix::Error },
    #[error("{path}: {source}")]
    Register { path: PathBuf, source: std::io::Error },
}

/// The epoll key of the inotify descriptor; eventfds get keys from 1 up.
const INOTIFY_KEY: u64 = 0;

/// What is watched, and for which container.
#[derive(Default)]
struct Watches {
    files: HashMap<WatchDescriptor, String>,
    /// key → (container, the eventfd, memory.oom_control kept open with it).
    oom_fds: HashMap<u64, (String, EventFd, OwnedFd)>,
    next_key: u64,
}

pub struct Notifier {
    epoll: Epoll,
    inotify: Inotify,
    watches: Mutex<Watches>,
}

impl Notifier {
    pub fn new() -> Result<Notifier, NotifyError> {
        let setup = |what| move |source| NotifyError::Setup { what, source };
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(setup("epoll_create1"))?;
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map_err(setup("inotify_init1"))?;
        epoll.add(inotify.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, INOTIFY_KEY)).map_err(setup("epoll_ctl"))?;
        Ok(Notifier { epoll, inotify, watches: Mutex::new(Watches { next_key: 1, ..Watches::default() }) })
    }

    /// Watch `id`'s trouble counters. What cannot be watched (a file this
    /// kernel lacks) is left to the one-second samples.
    pub fn watch(&self, id: &str, dirs: &Dirs, v2: bool) {
        let mut watches = self.watches.lock().expect("watches lock");
        let mut files = Vec::new();
        if let (Some(pids), true) = (&dirs.pids, v2) {
            files.push(pids.join("pids.events"));
        }
        match (&dirs.memory, v2) {
            (Some(memory), true) => files.push(memory.join("memory.events")),
            (Some(memory), false) => {
                if let Ok((key, fds)) = self.register_oom(memory, watches.next_key) {
                    watches.next_key += 1;
                    watches.oom_fds.insert(key, (id.to_string(), fds.0, fds.1));
                }
            }
            (None, _) => {}
        }
        for file in files {
            if let Ok(wd) = self.inotify.add_watch(&file, AddWatchFlags::IN_MODIFY) {
                watches.files.insert(wd, id.to_string());
            }
        }
    }

    /// v1: an eventfd signalled at each OOM of the cgroup at `memory`.
    fn register_oom(&self, memory: &Path, key: u64) -> Result<(u64, (EventFd, OwnedFd)), NotifyError> {
        let register = |path: PathBuf| move |source| NotifyError::Register { path, source };
        let control = memory.join("memory.oom_control");
        let oom_control: OwnedFd = std::fs::File::open(&control).map_err(register(control.clone()))?.into();
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|source| NotifyError::Setup { what: "eventfd", source })?;
        let line = format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd());
        let event_control = memory.join("cgroup.event_control");
        std::fs::write(&event_control, line).map_err(register(event_control))?;
        self.epoll
            .add(efd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, key))
            .map_err(|source| NotifyError::Setup { what: "epoll_ctl", source })?;
        Ok((key, (efd, oom_control)))
    }

    /// Wait for ever; sample each container whose counters moved.
    pub fn run(&self, shared: &Shared) {
        let mut events = [EpollEvent::empty(); 16];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    eprintln!("glassbox-dashboard: cgroup notifications stop: epoll_wait: {e}");
                    return;
                }
            };
            let mut moved: Vec<String> = Vec::new();
            for event in &events[..n] {
                moved.extend(self.who(event.data()));
            }
            moved.sort();
            moved.dedup();
            for id in &moved {
                // v1 signals as the OOM begins; the kill is counted a moment
                // later: read again every millisecond until it is (50 at most).
                super::sample_until_moved(shared, id, 50, Duration::from_millis(1));
            }
        }
    }

    /// The containers an epoll event is about; forgets watches that ended.
    fn who(&self, key: u64) -> Vec<String> {
        let mut watches = self.watches.lock().expect("watches lock");
        if key == INOTIFY_KEY {
            let events = self.inotify.read_events().unwrap_or_default();
            let mut ids = Vec::new();
            for e in events {
                if e.mask.contains(AddWatchFlags::IN_IGNORED) {
                    // The file went with its cgroup.
                    watches.files.remove(&e.wd);
                } else if let Some(id) = watches.files.get(&e.wd) {
                    ids.push(id.clone());
                }
            }
            return ids;
        }
        let Some((id, efd, _)) = watches.oom_fds.get(&key) else { return Vec::new() };
        let id = id.clone();
        let _ = efd.read();
        // Signalled for good when the cgroup is removed: stop once it is gone.
        if !cgroup_alive(&watches.oom_fds[&key].2) {
            if let Some((_, efd, _)) = watches.oom_fds.remove(&key) {
                let _ = self.epoll.delete(efd.as_fd());
            }
        }
        vec![id]
    }
}

/// Whether the cgroup whose `memory.oom_control` this is still exists (a
/// read of a removed cgroup's file fails with ENODEV).
fn cgroup_alive(oom_control: &OwnedFd) -> bool {
    let mut buf = [0u8; 256];
    nix::sys::uio::pread(oom_control, &mut buf, 0).is_ok()
}

/// Start the notification thread; without it, markers come from the samples alone.
pub fn spawn(shared: Shared) -> Option<Arc<Notifier>> {
    let notifier = match Notifier::new() {
        Ok(n) => Arc::new(n),
        Err(e) => {
            eprintln!("glassbox-dashboard: no cgroup notifications ({e}): markers at the one-second samples only");
            return None;
        }
    };
    let running = notifier.clone();
    std::thread::Builder::new().name("cgroup-notify".into()).spawn(move || running.run(&shared)).ok()?;
    Some(notifier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Series;

    /// A temp dir stands in for a v2 cgroup: a write to its memory.events
    /// is a modification inotify reports, as the kernel's change is.
    #[test]
    fn a_modified_memory_events_is_sampled_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("memory.current"), "4096\n").unwrap();
        std::fs::write(d.join("memory.events"), "max 0\noom_kill 0\n").unwrap();
        let dirs = Dirs { path: "/c".into(), memory: Some(d.into()), pids: Some(d.into()), ..Dirs::default() };
        let shared = Shared::new();
        let series = Series { dirs: dirs.clone(), ..Series::new("v2", "/c".into(), 1) };
        shared.cgroups.lock().unwrap().series.insert("c".into(), series);

        let notifier = Arc::new(Notifier::new().unwrap());
        notifier.watch("c", &dirs, true);
        let (running, serving) = (notifier.clone(), shared.clone());
        std::thread::spawn(move || running.run(&serving));
        // One write(2) in place, as the kernel's one change (fs::write would
        // truncate first: a second modification).
        use std::io::Write;
        let mut events = std::fs::OpenOptions::new().write(true).open(d.join("memory.events")).unwrap();
        events.write_all(b"max 1\noom_kill 1\n").unwrap();
        let marked = || shared.cgroups.lock().unwrap().series["c"].markers.len() == 1;
        for _ in 0..200 {
            if marked() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(marked(), "no marker within a second of the write");
        assert_eq!(shared.cgroups.lock().unwrap().series["c"].samples.len(), 1, "one sample, not one per try");
    }
}
