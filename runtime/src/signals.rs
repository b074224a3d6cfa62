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
