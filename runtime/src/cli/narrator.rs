//! `--explain` and `--step` on the command line: a thread of the runtime
//! that receives every event (its own and the container init's, over the
//! recorder's narrator line), prints what `explain` makes of it on stderr,
//! and — with `--step` — holds each stage until the user presses Enter.
//!
//! stderr, because stdout belongs to the container's program in `run`.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use glassbox_events::{from_line, Event, Kind};
use glassbox_explain::{self as explain, Style};

use super::args::{ExplainArgs, ExplainFormat};
use crate::recorder::narrator_link::{self, NarratorLink};

/// Start the narrator thread if `--explain` or `--step` asks for one; the
/// returned line goes into the recorder's sinks.
pub fn start(args: &ExplainArgs) -> Option<NarratorLink> {
    let format = match (args.explain, args.step) {
        (None, false) => return None,
        (None, true) => ExplainFormat::Text,
        (Some(f), _) => f,
    };
    let (link, theirs) = match NarratorLink::pair() {
        Ok(pair) => pair,
        Err(e) => {
            crate::log::warn(&format!("--explain: cannot make the narrator's socketpair: {e}; going on without"));
            return None;
        }
    };
    let style = Style {
        colour: wants_colour(std::io::stderr()),
        width: stderr_width(),
        runtime_pid: std::process::id() as i32,
    };
    let step = args.step;
    // The runtime clones the init (or exec's process) while this thread
    // exists, and clone3(2)/clone(2), unlike fork(3), takes no lock on its
    // way (no atfork handlers): a lock this thread held at that instant —
    // malloc's, while a young thread sets itself up and makes its buffer —
    // would stay held in the child forever (`exec --explain` hung so about
    // once in 60). So the runtime goes on only once the thread waits in
    // recv(2) with everything it needs made.
    let listening = std::sync::Arc::new(std::sync::Barrier::new(2));
    let ready = listening.clone();
    std::thread::spawn(move || {
        // Every signal stays with the main thread, which forwards them to
        // the container (`run`) through its signalfd.
        let _ = nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_BLOCK,
            Some(&nix::sys::signal::SigSet::all()),
            None,
        );
        let buf = narrator_link::line_buffer();
        ready.wait();
        narrate_forever(theirs, buf, format, step, style)
    });
    listening.wait();
    Some(link)
}

fn narrate_forever(fd: OwnedFd, mut buf: Vec<u8>, format: ExplainFormat, mut step: bool, style: Style) {
    while let Some(n) = narrator_link::next_line(&fd, &mut buf) {
        if let Ok(event) = from_line(&String::from_utf8_lossy(&buf[..n])) {
            let text = render(&event, format, &style);
            let mut err = std::io::stderr().lock();
            if let Some(text) = text {
                let _ = err.write_all(text.as_bytes());
            }
            if step && matches!(event.kind, Kind::StageBegin { .. }) {
                let _ = err.write_all(explain::step_prompt(&event, &style).as_bytes());
                let _ = err.flush();
                drop(err);
                step = wait_for_enter();
            }
        }
        // Last, after every lock (stderr) and allocation of this event is
        // let go (see `start`): between this answer and the next event, the
        // thread only waits in recv(2).
        narrator_link::answer(&fd);
    }
}

/// What `--explain` prints for one event (nothing for some in text form).
pub(super) fn render(event: &Event, format: ExplainFormat, style: &Style) -> Option<String> {
    let narration = explain::narrate(event, style);
    match format {
        ExplainFormat::Text => narration.map(|n| explain::render_text(event, &n, style)),
        ExplainFormat::Json => Some(explain::render_json(event, narration.as_ref())),
    }
}

/// Read one answer from the terminal (stdin when there is none). Returns
/// whether to go on pausing: `c` stops it, and so does end of input.
fn wait_for_enter() -> bool {
    let mut tty: Box<dyn Read> = match std::fs::File::open("/dev/tty") {
        Ok(f) => Box::new(f),
        Err(_) => Box::new(std::io::stdin()),
    };
    // Byte by byte, so nothing past the newline is taken from the
    // container's stdin.
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match tty.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            _ => return false,
        }
    }
    !String::from_utf8_lossy(&line).trim().eq_ignore_ascii_case("c")
}

/// Colour only for a person at a terminal, and never with NO_COLOR set.
pub(super) fn wants_colour(stream: impl std::os::fd::AsFd) -> bool {
    std::env::var_os("NO_COLOR").is_none() && nix::unistd::isatty(stream).unwrap_or(false)
}

/// The terminal's width, 80 when it is not a terminal; at most 100, since
/// long lines read badly.
pub(super) fn stderr_width() -> usize {
    use std::os::fd::AsFd;
    match crate::terminal::window_size(std::io::stderr().as_fd()) {
        Some(size) if size.ws_col >= 40 => (size.ws_col as usize).min(100),
        _ => 80,
    }
}
