//! Signal names and numbers, as `glassbox kill` and `glassbox run` need them
//! (man7 signal(7)).
//!
//! A signal is only a small number the kernel delivers to a process; the names
//! (`SIGTERM`, `TERM`, `term`) are a convention of the C library. runc accepts
//! every spelling, so do we. Numbers 1–31 are the classic signals that
//! `nix::sys::signal::Signal` names; 34–64 are the *real-time* signals
//! (`SIGRTMIN+n`), which have no enum variant, so [`parse_signal_number`]
//! returns a raw `i32` that can name them too. This module also says which
//! signals `glassbox run` forwards to the container ([`FORWARDED`]) and how a
//! wait status becomes the exit code a shell sees ([`exit_status_code`]).

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

/// The first real-time signal as the GNU C library numbers it: the kernel's
/// 32 and 33 are kept by glibc for its own threads (see signal(7), "Real-time
/// signals"), so `SIGRTMIN` is 34 for every glibc program in a container.
pub const SIGRTMIN: i32 = 34;
/// The last real-time signal on Linux (the kernel's `_NSIG - 1`).
pub const SIGRTMAX: i32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("invalid signal {0:?}: use a name like SIGTERM or TERM, or a number 1-64")]
    Invalid(String),
    #[error(
        "signal {given:?} is the real-time signal {number}, which this command cannot send: \
         use a classic signal (1-31) such as SIGTERM"
    )]
    RealTime { given: String, number: i32 },
}

/// Parse "KILL", "SIGKILL", "kill" or "9" into one of the classic signals.
/// Real-time signals are refused here because `Signal` cannot hold them; use
/// [`parse_signal_number`] where they make sense.
pub fn parse_signal(s: &str) -> Result<Signal, SignalError> {
    let number = parse_signal_number(s)?;
    Signal::try_from(number).map_err(|_| SignalError::RealTime { given: s.into(), number })
}

/// Parse any signal a process can be sent, into its number: everything
/// [`parse_signal`] takes, plus real-time ones as numbers (34–64) or as
/// `RTMIN`, `RTMIN+3`, `SIGRTMAX-2` (counted the way kill(1) counts them).
pub fn parse_signal_number(s: &str) -> Result<i32, SignalError> {
    let invalid = || SignalError::Invalid(s.into());
    let trimmed = s.trim();
    if let Ok(n) = trimmed.parse::<i32>() {
        // 0 is not a signal: kill(2) uses it only to ask "does this pid exist?".
        return if (1..=SIGRTMAX).contains(&n) { Ok(n) } else { Err(invalid()) };
    }
    let upper = trimmed.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(n) = parse_realtime_name(bare) {
        return n.ok_or_else(invalid);
    }
    format!("SIG{bare}").parse::<Signal>().map(|sig| sig as i32).map_err(|_| invalid())
}

/// `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n` → Some(result); any other name → None.
fn parse_realtime_name(bare: &str) -> Option<Option<i32>> {
    let offset = |rest: &str, sign: char| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        rest.strip_prefix(sign)?.parse::<i32>().ok()
    };
    let n = if let Some(rest) = bare.strip_prefix("RTMIN") {
        offset(rest, '+').map(|k| SIGRTMIN + k)
    } else if let Some(rest) = bare.strip_prefix("RTMAX") {
        offset(rest, '-').map(|k| SIGRTMAX - k)
    } else {
        return None;
    };
    Some(n.filter(|n| (SIGRTMIN..=SIGRTMAX).contains(n)))
}

/// The conventional name of a signal number: `SIGTERM`, `SIGRTMIN+3`, or the
/// bare number when it has no name (32 and 33, which glibc reserves).
pub fn signal_name(number: i32) -> String {
    match Signal::try_from(number) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) if number == SIGRTMIN => "SIGRTMIN".into(),
        Err(_) if (SIGRTMIN..=SIGRTMAX).contains(&number) => {
            format!("SIGRTMIN+{}", number - SIGRTMIN)
        }
        Err(_) => number.to_string(),
    }
}

/// The signals that `glassbox run` (in the foreground) catches and passes on
/// to the container's process, so that Ctrl-C, `kill <glassbox pid>` or a
/// supervisor's SIGTERM reach the program the user actually cares about.
///
/// Like runc, this is every signal the runtime can catch, except:
/// - SIGKILL and SIGSTOP: nobody can catch them, so they never reach us;
/// - SIGCHLD: it tells the runtime its own child changed state, it reaps it;
/// - SIGWINCH: the runtime handles it by copying the host terminal's size onto
///   the container's pty (the kernel then sends SIGWINCH inside, to the
///   foreground process group of that pty);
/// - SIGPIPE and the fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
///   SIGSYS): the kernel raises these *synchronously* for the runtime's own
///   broken write or bad instruction, so they describe the runtime, not a
///   request for the container. (runc, written in Go, lets its runtime handle
///   these and drops SIGURG, which Go uses internally for preemption; glassbox
///   has no such use of SIGURG, so it forwards it.)
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGABRT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGSTKFLT,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGURG,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGIO,
    Signal::SIGPWR,
];

/// The exit code a shell would show for a finished process: its own exit code,
/// or 128 + the signal number when a signal killed it (so SIGKILL → 137), the
/// rule runc and every POSIX shell use. A status that is not an end (stopped,
/// continued, still alive) gives -1, as runc's does.
pub fn exit_status_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Pid;

    #[test]
    fn every_spelling_of_kill_works() {
        for s in ["KILL", "SIGKILL", "kill", "sigkill", "9", " 9 "] {
            assert_eq!(parse_signal(s).unwrap(), Signal::SIGKILL, "{s}");
        }
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGWINCH").unwrap(), Signal::SIGWINCH);
    }

    #[test]
    fn invalid_names_teach_the_valid_forms() {
        for s in ["FOO", "SIG", "", "0", "65", "-1", "RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMIN+"] {
            let err = parse_signal_number(s).unwrap_err().to_string();
            assert_eq!(err, format!("invalid signal {s:?}: use a name like SIGTERM or TERM, or a number 1-64"));
        }
    }

    #[test]
    fn real_time_signals_are_numbers() {
        assert_eq!(parse_signal_number("34").unwrap(), 34);
        assert_eq!(parse_signal_number("64").unwrap(), 64);
        assert_eq!(parse_signal_number("RTMIN").unwrap(), 34);
        assert_eq!(parse_signal_number("sigrtmin+3").unwrap(), 37);
        assert_eq!(parse_signal_number("RTMAX").unwrap(), 64);
        assert_eq!(parse_signal_number("SIGRTMAX-2").unwrap(), 62);
        assert_eq!(parse_signal_number("RTMIN+30").unwrap(), 64);
        assert_eq!(parse_signal_number("TERM").unwrap(), 15);
        let err = parse_signal("40").unwrap_err();
        assert!(matches!(err, SignalError::RealTime { number: 40, .. }), "{err}");
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(34), "SIGRTMIN");
        assert_eq!(signal_name(37), "SIGRTMIN+3");
        assert_eq!(signal_name(32), "32");
        for n in 1..=64 {
            if n == 32 || n == 33 {
                continue;
            }
            assert_eq!(parse_signal_number(&signal_name(n)).unwrap(), n);
        }
    }

    #[test]
    fn forwarded_leaves_out_what_the_runtime_handles_itself() {
        for own in
            [Signal::SIGCHLD, Signal::SIGWINCH, Signal::SIGKILL, Signal::SIGSTOP, Signal::SIGPIPE, Signal::SIGSEGV]
        {
            assert!(!FORWARDED.contains(&own), "{own} must not be forwarded");
        }
        for user in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGUSR1] {
            assert!(FORWARDED.contains(&user), "{user} must be forwarded");
        }
        // Every classic signal is either forwarded or deliberately kept.
        let kept = 2 /* KILL STOP */ + 2 /* CHLD WINCH */ + 1 /* PIPE */ + 6 /* faults */;
        assert_eq!(FORWARDED.len() + kept, Signal::iterator().count());
    }

    #[test]
    fn exit_codes_follow_the_shell_rule() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_status_code(WaitStatus::Exited(pid, 0)), 0);
        assert_eq!(exit_status_code(WaitStatus::Exited(pid, 3)), 3);
        assert_eq!(exit_status_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)), 137);
        assert_eq!(exit_status_code(WaitStatus::Signaled(pid, Signal::SIGTERM, true)), 143);
        assert_eq!(exit_status_code(WaitStatus::StillAlive), -1);
    }
}
