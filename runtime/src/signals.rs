//! Signal names and numbers (STUB — being written; interface is fixed).

use nix::sys::signal::Signal;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("invalid signal {0:?}")]
    Invalid(String),
}

/// Parse "KILL", "SIGKILL", "sigkill" or "9".
pub fn parse_signal(s: &str) -> Result<Signal, SignalError> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| SignalError::Invalid(s.into()));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    name.parse().map_err(|_| SignalError::Invalid(s.into()))
}

/// Signals `glassbox run` passes on to the container's init.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// The exit code of `glassbox run`: the container's, or 128+signal.
pub fn exit_status_code(status: nix::sys::wait::WaitStatus) -> i32 {
    match status {
        nix::sys::wait::WaitStatus::Exited(_, code) => code,
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 255,
    }
}
