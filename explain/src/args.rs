//! Reading a step's `args` without trusting them: every value is looked up
//! by name and may be missing or of another type (an older recorder, a
//! hand-written events.jsonl), so each reader returns an `Option` and the
//! narrator falls back to a generic line instead of panicking. Also the few
//! formatters the narrations share (flags, sizes, durations).

use serde_json::{Map, Value};

/// A step's arguments, read leniently.
pub struct Args<'a>(pub &'a Map<String, Value>);

impl Args<'_> {
    /// A string argument (numbers and booleans are shown as text too).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A string argument that is present and not empty.
    pub fn text(&self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.is_empty())
    }

    /// A whole-number argument (also accepted as a numeric string).
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// An unsigned argument, for limits that can be RLIM_INFINITY (2^64-1).
    pub fn uint(&self, key: &str) -> Option<u64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.0.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// An array argument as text items.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        let items = self.0.get(key)?.as_array()?;
        Some(items.iter().map(plain).collect())
    }

    /// "ok", or the error text when the action failed (absent means ok:
    /// some steps are recorded only once they succeeded).
    pub fn failure(&self) -> Option<String> {
        self.text("result").filter(|r| r != "ok")
    }

    /// Every argument as `key=value`, for the generic line.
    pub fn listing(&self) -> String {
        if self.0.is_empty() {
            return "no arguments".into();
        }
        self.0.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect::<Vec<_>>().join(", ")
    }
}

/// A JSON value as a person would write it: strings without quotes.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Flag sets as the recorder writes them — bitflags' Debug form
/// `CloneFlags(CLONE_NEWNS | CLONE_NEWPID)` or a plain `A | B` — as the
/// list of names, in order.
pub fn flag_list(recorded: &str) -> Vec<String> {
    let inner = match (recorded.find('('), recorded.ends_with(')')) {
        (Some(open), true) => &recorded[open + 1..recorded.len() - 1],
        _ => recorded,
    };
    inner
        .split(['|', ',', ' '])
        .map(str::trim)
        .filter(|f| !f.is_empty() && !f.starts_with("0x"))
        .map(String::from)
        .collect()
}

/// Flags the C way, `A | B`, or `0` when there are none.
pub fn c_flags(recorded: &str) -> String {
    let flags = flag_list(recorded);
    if flags.is_empty() {
        "0".into()
    } else {
        flags.join(" | ")
    }
}

/// A byte count for people: 104857600 → "100 MiB"; `None` unless it is a
/// whole number of KiB, MiB or GiB (other values are clearer as they are).
pub fn bytes(value: &str) -> Option<String> {
    let n: u64 = value.trim().parse().ok()?;
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n % size == 0 {
            return Some(format!("{} {unit}", n / size));
        }
    }
    None
}

/// A stage's duration: "850 ns", "12 µs", "0.4 ms", "35 ms", "1.25 s".
pub fn duration(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=99_999 => format!("{} µs", ns / 1_000),
        100_000..=999_999_999 => {
            let ms = ns as f64 / 1e6;
            if ms < 10.0 {
                format!("{ms:.1} ms")
            } else {
                format!("{ms:.0} ms")
            }
        }
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// A value quoted for a shell command line when it needs it.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
