//! JSON text for [`crate::write_line`], written straight into the line's
//! buffer: the same bytes `serde_json::to_writer` makes, without going
//! through serde's `Serializer` for every field. A container's record is
//! ~130 lines made while the container is being made, most of them on the
//! init's way to execve: through serde they cost ~0.85 µs a line (hot; twice
//! that in the freshly cloned init), which alone was a third of what the
//! events cost a `run` (bench/run-true.sh). What is rare — a string that
//! needs escaping, a number that is not an integer — still goes to
//! serde_json, so the text is serde's by construction; tests/wire.rs holds
//! the two writers to the same bytes.

use serde_json::{Map, Value};

/// `"key":` (a step's argument names are checked like any string).
pub fn key(out: &mut Vec<u8>, key: &str) {
    string(out, key);
    out.push(b':');
}

/// A string of the model's own — a field's name, a stage's or a type's —
/// quoted: nothing in those needs escaping, so nothing is looked for.
pub fn known(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!needs_escape(s.as_bytes()), "{s:?}");
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// An unsigned integer.
pub fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A signed integer.
pub fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A string, quoted; escaped as serde_json escapes (only `"`, `\` and
/// control characters need it, and the runtime's strings — paths, flag
/// names, shell commands — seldom hold any).
pub fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        serde_json::to_writer(&mut *out, s).expect("a string always serializes");
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Whether `s` holds a `"`, a `\\` or a control character. Eight bytes
/// at a time: the record's ~38 KB of strings are its hottest loop, and a
/// byte-by-byte test took 40% of writing a line. For each 8-byte word,
/// `(x - 0x0101…·n) & !x & 0x8080…` has a byte's top bit set if that byte is
/// below n (exactly, for "is any"); a byte equal to c is a zero byte of
/// `x ^ 0x0101…·c`, i.e. below 1. The last few bytes (most keys and many
/// values are shorter than a word) are one more word, padded with spaces.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * n as u64) & !x & TOPS;
    let special = |x: u64| below(x, 0x20) | below(x ^ (ONES * b'"' as u64), 1) | below(x ^ (ONES * b'\\' as u64), 1);
    let mut words = s.chunks_exact(8);
    for word in &mut words {
        if special(u64::from_le_bytes(word.try_into().expect("8 bytes"))) != 0 {
            return true;
        }
    }
    let mut last = [b' '; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    special(u64::from_le_bytes(last)) != 0
}

/// Any JSON value (a step's arguments, decoded syscall arguments).
pub fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => uint(out, u),
            (None, Some(i)) => int(out, i),
            // A float: serde_json's shortest round-trip form.
            _ => serde_json::to_writer(&mut *out, n).expect("a number always serializes"),
        },
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => object(out, map),
    }
}

/// A JSON object, in the map's own order (as serde_json writes it).
pub fn object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key(out, k);
        value(out, v);
    }
    out.push(b'}');
}

/// A list of unsigned integers (a syscall's raw arguments).
pub fn uints(out: &mut Vec<u8>, numbers: &[u64]) {
    out.push(b'[');
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        uint(out, *n);
    }
    out.push(b']');
}
