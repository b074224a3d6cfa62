//! A step's arguments written straight into its line, for the runtime's
//! own steps: `{"source":"proc","target":"/proc",…}` without first making
//! the `Map<String, Value>` that [`Kind::Step`](crate::Kind) holds. A
//! container's record has ~100 steps, most with paths and shell commands
//! as arguments; building each as a map of owned strings, writing it and
//! dropping it cost about as much as everything else recording does
//! (bench/run-true.sh). [`LineWriter::step_line`](crate::LineWriter::step_line)
//! hands one of these to the code that describes the step.
//!
//! The keys must come in byte order — the order a map keeps them in — so a
//! line is the same bytes either way; a debug build checks it.

use std::fmt::{Display, Write as _};
use std::path::Path;

use serde_json::Value;

use crate::json_text;

/// The arguments object of one step, being written.
pub struct StepArgs<'a> {
    out: &'a mut Vec<u8>,
    last_key: Option<&'static str>,
}

impl<'a> StepArgs<'a> {
    /// Writes the opening `{`; [`StepArgs::end`] the closing one.
    pub(crate) fn begin(out: &'a mut Vec<u8>) -> StepArgs<'a> {
        out.push(b'{');
        StepArgs { out, last_key: None }
    }

    pub(crate) fn end(self) {
        self.out.push(b'}');
    }

    /// `"key":`, after a comma unless it is the first.
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(self.last_key.is_none_or(|last| last < key), "step argument {key:?} out of order");
        if self.last_key.is_some() {
            self.out.push(b',');
        }
        self.last_key = Some(key);
        json_text::key(self.out, key);
        self.out
    }

    /// A string.
    pub fn str(&mut self, key: &'static str, value: &str) -> &mut Self {
        json_text::string(self.key(key), value);
        self
    }

    /// What `value` displays as, as a string, formatted in place (a path,
    /// a shell command, an error) rather than into a String of its own.
    pub fn display(&mut self, key: &'static str, value: impl Display) -> &mut Self {
        let out = self.key(key);
        out.push(b'"');
        let start = out.len();
        let _ = write!(Utf8Out(out), "{value}");
        if json_text::needs_escape(&out[start..]) {
            // Rare (a quote, a backslash, a control character): serde's escapes.
            let text = String::from_utf8(out.split_off(start)).expect("Display writes UTF-8");
            out.pop();
            json_text::string(out, &text);
        } else {
            out.push(b'"');
        }
        self
    }

    /// How a call went: `"ok"`, or the error as it displays.
    pub fn result<T, E: Display>(&mut self, key: &'static str, result: &Result<T, E>) -> &mut Self {
        match result {
            Ok(_) => self.str(key, "ok"),
            Err(e) => self.display(key, e),
        }
    }

    /// A path, as `Path::display` shows it (without its slower lossy walk
    /// when the path is UTF-8, as nearly all are).
    pub fn path(&mut self, key: &'static str, value: &Path) -> &mut Self {
        match value.to_str() {
            Some(text) => self.str(key, text),
            None => self.display(key, value.display()),
        }
    }

    /// A string, or `null` when there is none.
    pub fn opt_str(&mut self, key: &'static str, value: Option<&str>) -> &mut Self {
        match value {
            Some(s) => self.str(key, s),
            None => self.null(key),
        }
    }

    pub fn null(&mut self, key: &'static str) -> &mut Self {
        self.key(key).extend_from_slice(b"null");
        self
    }

    pub fn bool(&mut self, key: &'static str, value: bool) -> &mut Self {
        self.key(key).extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    pub fn uint(&mut self, key: &'static str, value: u64) -> &mut Self {
        json_text::uint(self.key(key), value);
        self
    }

    pub fn int(&mut self, key: &'static str, value: i64) -> &mut Self {
        json_text::int(self.key(key), value);
        self
    }

    /// A list of strings.
    pub fn strs<S: AsRef<str>>(&mut self, key: &'static str, values: impl IntoIterator<Item = S>) -> &mut Self {
        let out = self.key(key);
        out.push(b'[');
        for (i, s) in values.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_text::string(out, s.as_ref());
        }
        out.push(b']');
        self
    }

    /// A nested object, its fields written by `fields` (in byte order too).
    pub fn object(&mut self, key: &'static str, fields: impl FnOnce(&mut StepArgs)) -> &mut Self {
        let mut inner = StepArgs::begin(self.key(key));
        fields(&mut inner);
        inner.end();
        self
    }

    /// Any JSON value (what is not one of the above).
    pub fn value(&mut self, key: &'static str, value: &Value) -> &mut Self {
        json_text::value(self.key(key), value);
        self
    }

    /// Every field of `map` as an argument of its own (config.json's
    /// object, spread out); the only arguments of the step.
    pub fn fields(&mut self, map: &serde_json::Map<String, Value>) -> &mut Self {
        debug_assert!(self.last_key.is_none(), "fields() writes the whole object");
        json_text::members(self.out, map);
        self
    }
}

/// `fmt::Write` into a byte buffer (what `Display` writes is UTF-8).
struct Utf8Out<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8Out<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        json_text::put(self.0, s.as_bytes());
        Ok(())
    }
}
