//! The JSON line of a kernel syscall event, written by hand: a busy
//! container makes millions of them, and building an Event and running it
//! through serde costs several times more than this. It must stay
//! byte-for-byte what `to_line(&to_event(..))` makes for a call without
//! decoded arguments (no `decoded`, no `ns`); the test below holds it to
//! that, so a change to the event schema breaks it loudly. Every other
//! record goes the ordinary way.

use std::fmt::Write;

use glassbox_events::WallText;
use glassbox_probes::{syscall_name, Call, EventContext, SyscallRecord};

/// Whether the line of `call` is one [`LineCache::syscall`] writes: one
/// without decoded arguments. Not only a call without a detail record:
/// clone, unshare, setns, prctl and seccomp are decoded from their numbers
/// alone (the probes send no detail for them).
pub fn fits(call: &Call) -> bool {
    call.detail.is_none() && call.decoded().is_none()
}

/// What the lines of one session share: the container's name as JSON, and
/// the wall-clock text of the current second.
pub struct LineCache {
    container_json: String,
    wall: WallText,
}

impl LineCache {
    pub fn new(container: &str) -> LineCache {
        let container_json = serde_json::to_string(container).unwrap_or_else(|_| "\"\"".into());
        LineCache { container_json, wall: WallText::new() }
    }

    /// Appends the line of syscall `s`, numbered `seq`, to `out`.
    pub fn syscall(&mut self, out: &mut Vec<u8>, s: &SyscallRecord, seq: u64, ctx: &EventContext) {
        let mut line = String::with_capacity(256);
        let _ = write!(line, r#"{{"v":{},"seq":{seq},"ts_ns":{},"wall":""#, glassbox_events::SCHEMA_VERSION, s.ts_ns);
        self.wall.push(&mut line, ctx.wall_ns(s.ts_ns));
        let _ = write!(
            line,
            r#"","container":{},"pid":{},"source":"kernel","type":"syscall","nr":{},"name":"#,
            self.container_json, s.tgid as i32, s.nr,
        );
        match syscall_name(s.nr) {
            Some(name) => {
                let _ = write!(line, "\"{name}\"");
            }
            None => {
                let _ = write!(line, "\"syscall_{}\"", s.nr);
            }
        }
        let a = s.args;
        let _ = writeln!(
            line,
            r#","args":[{},{},{},{},{},{}],"ret":{},"latency_ns":{}}}"#,
            a[0], a[1], a[2], a[3], a[4], a[5], s.ret, s.latency_ns
        );
        out.extend_from_slice(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glassbox_probes::{to_event, KernelRecord};

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
    fn the_hand_written_line_is_the_serde_line() {
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
