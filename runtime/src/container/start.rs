//! `glassbox start`: let the waiting init go on to execve the user's program.

use std::io::Read;
use std::os::fd::AsFd;

use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

use super::{Container, ContainerError};
use crate::hooks;
use crate::recorder::Recorder;
use crate::state::Status;
use glassbox_events::Stage;

impl Container {
    pub fn start(&mut self) -> Result<(), ContainerError> {
        if !self.can_start() {
            return Err(self.wrong_status("only a created container can be started"));
        }
        let fifo_path = self.dir.exec_fifo();
        // O_NONBLOCK: opening the read end must not hang if the init died;
        // we poll instead, checking that it is still alive.
        let fd = open(&fifo_path, OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| ContainerError::Io { what: "opening exec.fifo", path: fifo_path.clone(), source: e.into() })?;
        let mut fifo = std::fs::File::from(fd);
        loop {
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            let ready = poll(&mut fds, PollTimeout::from(100u8)).unwrap_or(0);
            if ready > 0 && fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLIN)) {
                break;
            }
            if !self.state.init_alive() {
                return Err(self.wrong_status("its init exited before it could be started"));
            }
        }
        std::fs::remove_file(&fifo_path).map_err(|source| ContainerError::Io {
            what: "removing exec.fifo",
            path: fifo_path.clone(),
            source,
        })?;
        // The init wrote "0" and keeps its end open until execve closes it:
        // read to the end, which is its word on how the exec went. Its
        // startContainer hooks run meanwhile, and may take their time: let
        // `state`, `kill` and `delete` at the container while we wait.
        self.dir.unlock();
        // Blocking now (O_NONBLOCK was its only status flag): the read waits for the end.
        let mut said = Vec::new();
        fcntl(&fifo, FcntlArg::F_SETFL(OFlag::empty()))
            .map_err(std::io::Error::from)
            .and_then(|_| fifo.read_to_end(&mut said))
            .map_err(|source| ContainerError::Io { what: "reading exec.fifo", path: fifo_path, source })?;
        if let Some((stage, message)) = exec_failure(&said) {
            return Err(ContainerError::Start { id: self.state.id.clone(), stage, message, exit_code: 1 });
        }
        self.run_poststart_hooks()
    }

    /// runtime-spec 1.3: a failing poststart hook is an error, and the
    /// container is stopped (its processes killed; `delete` follows). The
    /// hooks after it do not run. (Before 1.3 it was a warning.)
    fn run_poststart_hooks(&self) -> Result<(), ContainerError> {
        let list = self.state.hooks.poststart().clone().unwrap_or_default();
        if list.is_empty() {
            return Ok(());
        }
        let state = serde_json::to_vec(&self.state.to_oci_json(Status::Running)).expect("json");
        let rec = Recorder::open(&self.dir.path, &self.state.id);
        let me = std::process::id() as i32;
        let ran = rec.stage(me, Stage::Hooks, || hooks::run_hooks("poststart", &list, &state));
        rec.report_drops(me);
        ran.map_err(|failed| {
            self.stop_everything();
            ContainerError::Poststart { id: self.state.id.clone(), source: failed.error }
        })
    }
}

/// What the init wrote into exec.fifo: "0" alone when it reached execve;
/// "0", then the failed stage and the reason on a line each, when it failed
/// after `start` let it go (a startContainer hook, the seccomp filter,
/// execve itself). Nothing at all when it died before writing.
fn exec_failure(said: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(said.strip_prefix(b"0")?);
    let (stage, message) = text.split_once('\n')?;
    Some((stage.to_string(), message.trim_end().to_string()))
}

#[cfg(test)]
mod tests {
    use super::exec_failure;

    #[test]
    fn the_fifo_says_how_the_exec_went() {
        assert_eq!(exec_failure(b"0"), None, "execve closed the fifo: it ran");
        assert_eq!(exec_failure(b""), None);
        assert_eq!(
            exec_failure(b"0hooks\nhook /x: No such file"),
            Some(("hooks".into(), "hook /x: No such file".into()))
        );
    }
}
