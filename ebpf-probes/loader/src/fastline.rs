//! The JSON line of a kernel syscall event without making the Event: a
//! busy container makes millions of them, and building an Event (its
//! strings, its argument list) only to write it costs several times more.
//! The line itself is written by the event crate's writer
//! ([`LineWriter::syscall_line`], the one the recorder writes with), so it
//! is by construction what `to_line(&to_event(..))` makes for a call
//! without decoded arguments (no `decoded`, no `ns`); the test below holds
//! the record's side — name, wall text, pid — to `to_event`. Every other
//! record goes the ordinary way.

use crate::{syscall_name, Call, EventContext, SyscallRecord};
use glassbox_events::{LineWriter, PlainSyscall, WallText};

/// Whether the line of `call` is one [`LineCache::syscall`] writes: one
/// without decoded arguments. Not only a call without a detail record:
/// clone, unshare, setns, prctl and seccomp are decoded from their numbers
/// alone (the probes send no detail for them).
pub fn fits(call: &Call) -> bool {
    call.detail.is_none() && call.decoded().is_none()
}

/// What the lines of one session share: the container's name, the
/// writer's text of what repeats, and the wall-clock text of the current second.
pub struct LineCache {
    container: String,
    writer: LineWriter,
    wall: WallText,
    /// The wall text of the line being written (kept to reuse its buffer).
    wall_text: String,
}

impl LineCache {
    pub fn new(container: &str) -> LineCache {
        LineCache {
            container: container.into(),
            writer: LineWriter::new(),
            wall: WallText::new(),
            wall_text: String::with_capacity(32),
        }
    }

    /// Appends the line of syscall `s`, numbered `seq`, to `out`.
    pub fn syscall(&mut self, out: &mut Vec<u8>, s: &SyscallRecord, seq: u64, ctx: &EventContext) {
        self.wall_text.clear();
        self.wall.push(&mut self.wall_text, ctx.wall_ns(s.ts_ns));
        let unnamed;
        let name = match syscall_name(s.nr) {
            Some(name) => name,
            None => {
                unnamed = format!("syscall_{}", s.nr);
                &unnamed
            }
        };
        let call = PlainSyscall {
            seq,
            ts_ns: s.ts_ns,
            wall: &self.wall_text,
            container: &self.container,
            pid: s.tgid as i32,
            nr: s.nr,
            name,
            args: &s.args,
            ret: s.ret,
            latency_ns: s.latency_ns,
        };
        self.writer.syscall_line(out, &call);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{to_event, KernelRecord};

    /// Found by fuzz/ (kernel_record): the writer took "no detail" for "no
    /// decoded arguments", and unshare's flags never reached the record.
    #[test]
    fn a_call_decoded_from_its_numbers_alone_is_not_a_fast_line() {
        let unshare =
            SyscallRecord { nr: libc::SYS_unshare as u32, args: [0x2000000, 0, 0, 0, 0, 0], ..Default::default() };
        assert!(!fits(&unshare.into()));
        let read = SyscallRecord { nr: libc::SYS_read as u32, ..Default::default() };
        assert!(fits(&read.into()));
    }

    #[test]
    fn the_line_without_the_event_is_the_events_line() {
        let ctx = EventContext { container: "web-1".into(), wall_offset_ns: 1_700_000_000_123_456_789 };
        let mut cache = LineCache::new("web-1");
        // u64::MAX: a corrupt record's time (found by fuzz/, kernel_record).
        for (nr, ret, ts_ns) in [(165u32, 0i64, 5_000_000_999), (0, -2, 5_000_000_999), (9999, 1 << 40, u64::MAX)] {
            let s = SyscallRecord {
                nr,
                tid: 41,
                tgid: 40,
                args: [1, u64::MAX, 3, 0, 5, 6],
                ret,
                ts_ns,
                latency_ns: 1_234,
                ..Default::default()
            };
            let mut fast = Vec::new();
            cache.syscall(&mut fast, &s, 7, &ctx);
            let slow = glassbox_events::to_line(&to_event(&KernelRecord::Syscall(s.into()), 7, &ctx));
            assert_eq!(String::from_utf8(fast).unwrap(), slow);
        }
    }
}
