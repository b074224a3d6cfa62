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
    quoted(out, s.as_bytes());
}

/// An unsigned integer.
pub fn uint(out: &mut Vec<u8>, n: u64) {
    put(out, itoa::Buffer::new().format(n).as_bytes());
}

/// A signed integer.
pub fn int(out: &mut Vec<u8>, n: i64) {
    put(out, itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `bytes`, as `extend_from_slice` does. A line is ~30 pieces of a
/// few bytes each (a key, a number, a flag's name), and `extend_from_slice`
/// hands each to libc's memcpy: ~4000 calls for one container's record,
/// the writer's largest cost (bench/run-true.sh under `perf record`). Up
/// to 32 bytes are copied here instead, as two machine words that overlap
/// when the length is not a word's.
#[inline]
pub fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 32 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(32);
    // SAFETY: `reserve` made room for 32 more bytes, every write below
    // lands in [len, len + n) with n ≤ 32, every read in bytes[0..n]; the
    // new length covers exactly the bytes written.
    unsafe {
        let (src, dst) = (bytes.as_ptr(), out.as_mut_ptr().add(out.len()));
        match n {
            16..=32 => {
                let (head, tail) =
                    (src.cast::<u128>().read_unaligned(), src.add(n - 16).cast::<u128>().read_unaligned());
                dst.cast::<u128>().write_unaligned(head);
                dst.add(n - 16).cast::<u128>().write_unaligned(tail);
            }
            8..=15 => {
                let (head, tail) = (src.cast::<u64>().read_unaligned(), src.add(n - 8).cast::<u64>().read_unaligned());
                dst.cast::<u64>().write_unaligned(head);
                dst.add(n - 8).cast::<u64>().write_unaligned(tail);
            }
            4..=7 => {
                let (head, tail) = (src.cast::<u32>().read_unaligned(), src.add(n - 4).cast::<u32>().read_unaligned());
                dst.cast::<u32>().write_unaligned(head);
                dst.add(n - 4).cast::<u32>().write_unaligned(tail);
            }
            1..=3 => {
                *dst = *src;
                *dst.add(n / 2) = *src.add(n / 2);
                *dst.add(n - 1) = *src.add(n - 1);
            }
            _ => {}
        }
        out.set_len(out.len() + n);
    }
}

/// `"bytes"`: bytes that need no escaping, quoted.
fn quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    put(out, bytes);
    out.push(b'"');
}

/// A string, quoted; escaped as serde_json escapes (only `"`, `\` and
/// control characters need it, and the runtime's strings — paths, flag
/// names, shell commands — seldom hold any).
pub fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        serde_json::to_writer(&mut *out, s).expect("a string always serializes");
        return;
    }
    quoted(out, s.as_bytes());
}

/// Whether `s` holds a `"`, a `\\` or a control character. Eight bytes
/// at a time: the record's ~38 KB of strings are its hottest loop, and a
/// byte-by-byte test took 40% of writing a line. For each 8-byte word,
/// `(x - 0x0101…·n) & !x & 0x8080…` has a byte's top bit set if that byte is
/// below n (exactly, for "is any"); a byte equal to c is a zero byte of
/// `x ^ 0x0101…·c`, i.e. below 1. The bytes after the last whole word are
/// looked at as the string's last eight (a byte seen twice changes
/// nothing); a string shorter than a word (most keys, many values) is one
/// word padded with spaces, put together in a register — copying it into a
/// padded buffer cost a memcpy call and a stalled load, half of this
/// function's time.
pub(crate) fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * n as u64) & !x & TOPS;
    let special = |x: u64| below(x, 0x20) | below(x ^ (ONES * b'"' as u64), 1) | below(x ^ (ONES * b'\\' as u64), 1);
    let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    if s.len() < 8 {
        let mut padded = ONES * b' ' as u64;
        for (i, byte) in s.iter().enumerate() {
            padded = padded & !(0xff << (8 * i)) | u64::from(*byte) << (8 * i);
        }
        return special(padded) != 0;
    }
    let mut words = s.chunks_exact(8);
    if words.any(|w| special(word(w)) != 0) {
        return true;
    }
    !words.remainder().is_empty() && special(word(&s[s.len() - 8..])) != 0
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
    members(out, map);
    out.push(b'}');
}

/// An object's members, `"key":value,…`, without its braces.
pub fn members(out: &mut Vec<u8>, map: &Map<String, Value>) {
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key(out, k);
        value(out, v);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length the short copy handles (and a longer one), after any
    /// amount already in the buffer, appends what `extend_from_slice` does.
    #[test]
    fn put_appends_what_extend_from_slice_appends() {
        let source: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for before in [0usize, 1, 7, 31] {
            for n in 0..=source.len() {
                let mut expected = vec![b'x'; before];
                let mut got = Vec::with_capacity(before);
                got.extend_from_slice(&expected);
                expected.extend_from_slice(&source[..n]);
                put(&mut got, &source[..n]);
                assert_eq!(got, expected, "{before} bytes before, {n} put");
            }
        }
    }
}
