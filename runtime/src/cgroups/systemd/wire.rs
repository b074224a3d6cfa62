//! The D-Bus wire format, as much of it as talking to systemd takes: values
//! (`Value`) written into and read out of a message's bytes, and the message
//! itself (a 16-byte fixed header, an array of header fields, the body).
//!
//! The rules (D-Bus specification, "Message Protocol"): every value starts
//! at a multiple of its alignment (1 for a byte or a signature, 4 for a u32,
//! a bool, a string's length or an array's length, 8 for a u64 and for every
//! struct or dict entry), counted from the start of the message; strings
//! and object paths are a u32 length, the bytes and a NUL; a signature is a
//! one-byte length, the letters and a NUL; an array is its length in bytes,
//! padding to its element's alignment, then the elements; a variant is the
//! signature of its value, then the value. The body starts at a multiple of
//! 8, so body offsets align the same as message offsets.

/// A D-Bus value of one of the types glassbox sends or reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    U32(u32),
    U64(u64),
    Str(String),
    /// An object path, `/org/freedesktop/systemd1/job/42`.
    Path(String),
    Signature(String),
    /// The element type's signature, then the elements (an empty array
    /// still has a type).
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// Its D-Bus type signature: `s`, `a(sv)`, ….
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::U32(_) => "u".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Array(element, _) => format!("a{element}"),
            Value::Struct(fields) => format!("({})", fields.iter().map(Value::signature).collect::<String>()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// A string, object path or signature's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("a D-Bus message ended early (wanted {wanted} bytes at offset {at})")]
    Short { at: usize, wanted: usize },
    #[error("a D-Bus message has a malformed {what} at offset {at}")]
    Malformed { at: usize, what: &'static str },
    #[error("a D-Bus message uses type {0:?}, which glassbox does not read")]
    Unsupported(char),
}

/// Bytes being written, aligned from the start of the buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while self.buf.len() % align != 0 {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, n: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::U32(n) => self.u32(*n),
            Value::U64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Str(s) | Value::Path(s) => {
                self.u32(s.len() as u32);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Signature(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(element, items) => {
                self.u32(0); // the length, filled in below
                let length_at = self.buf.len() - 4;
                self.pad(alignment(element.as_bytes()[0]));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let length = (self.buf.len() - start) as u32;
                self.buf[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::Variant(inner) => {
                self.value(&Value::Signature(inner.signature()));
                self.value(inner);
            }
        }
    }
}

/// How a type's values align: its first signature letter says.
fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b't' | b'x' | b'd' | b'(' | b'{' => 8,
        _ => 4,
    }
}

/// Bytes being read: a whole message, little- or big-endian as its first
/// byte says.
pub struct Reader<'a> {
    buf: &'a [u8],
    pub at: usize,
    big_endian: bool,
    /// Variants inside variants, so far: the specification allows 64.
    depth: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], big_endian: bool) -> Reader<'a> {
        Reader { buf, at: 0, big_endian, depth: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let bytes = self.buf.get(self.at..self.at + n).ok_or(WireError::Short { at: self.at, wanted: n })?;
        self.at += n;
        Ok(bytes)
    }

    pub fn pad(&mut self, align: usize) -> Result<(), WireError> {
        let n = (align - self.at % align) % align;
        self.take(n).map(drop)
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.pad(4)?;
        let b: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    fn text(&mut self, len: usize, what: &'static str) -> Result<String, WireError> {
        let at = self.at;
        let bytes = self.take(len + 1)?;
        if bytes[len] != 0 {
            return Err(WireError::Malformed { at, what });
        }
        String::from_utf8(bytes[..len].to_vec()).map_err(|_| WireError::Malformed { at, what })
    }

    /// One value of the single complete type at the start of `sig`; returns
    /// it and the rest of the signature.
    pub fn value<'s>(&mut self, sig: &'s str) -> Result<(Value, &'s str), WireError> {
        let code = *sig.as_bytes().first().ok_or(WireError::Malformed { at: self.at, what: "signature" })?;
        let rest = &sig[1..];
        let value = match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'u' | b'i' => Value::U32(self.u32()?),
            b't' | b'x' => {
                self.pad(8)?;
                let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
                Value::U64(if self.big_endian { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) })
            }
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let text = self.text(len, "string")?;
                if code == b's' {
                    Value::Str(text)
                } else {
                    Value::Path(text)
                }
            }
            b'g' => {
                let len = self.take(1)?[0] as usize;
                Value::Signature(self.text(len, "signature")?)
            }
            b'v' => {
                let len = self.take(1)?[0] as usize;
                let inner_sig = self.text(len, "variant signature")?;
                if self.depth >= 64 {
                    return Err(WireError::Malformed { at: self.at, what: "variant nesting" });
                }
                self.depth += 1;
                let inner = self.value(&inner_sig);
                self.depth -= 1;
                let (inner, left) = inner?;
                if !left.is_empty() {
                    return Err(WireError::Malformed { at: self.at, what: "variant signature" });
                }
                Value::Variant(Box::new(inner))
            }
            b'a' => {
                let len = self.u32()? as usize;
                let element_sig =
                    first_complete_type(rest).ok_or(WireError::Malformed { at: self.at, what: "array signature" })?;
                self.pad(alignment(element_sig.as_bytes()[0]))?;
                let end = self.at + len;
                let mut items = Vec::new();
                while self.at < end {
                    items.push(self.value(element_sig)?.0);
                }
                if self.at != end {
                    return Err(WireError::Malformed { at: self.at, what: "array length" });
                }
                return Ok((Value::Array(element_sig.to_string(), items), &rest[element_sig.len()..]));
            }
            b'(' | b'{' => {
                self.pad(8)?;
                let whole =
                    first_complete_type(sig).ok_or(WireError::Malformed { at: self.at, what: "struct signature" })?;
                let mut inner = &whole[1..whole.len() - 1];
                let mut fields = Vec::new();
                while !inner.is_empty() {
                    let (v, left) = self.value(inner)?;
                    fields.push(v);
                    inner = left;
                }
                return Ok((Value::Struct(fields), &sig[whole.len()..]));
            }
            other => return Err(WireError::Unsupported(other as char)),
        };
        Ok((value, rest))
    }

    /// Every value of a body whose signature is `sig`.
    pub fn values(&mut self, mut sig: &str) -> Result<Vec<Value>, WireError> {
        let mut values = Vec::new();
        while !sig.is_empty() {
            let (v, rest) = self.value(sig)?;
            values.push(v);
            sig = rest;
        }
        Ok(values)
    }
}

/// The first single complete type of `sig`: `s` of `su`, `a(sv)` of `a(sv)u`.
fn first_complete_type(sig: &str) -> Option<&str> {
    let bytes = sig.as_bytes();
    let mut i = 0;
    while *bytes.get(i)? == b'a' {
        i += 1;
    }
    match bytes[i] {
        open @ (b'(' | b'{') => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut depth = 0;
            for (j, &c) in bytes.iter().enumerate().skip(i) {
                if c == open {
                    depth += 1;
                } else if c == close {
                    depth -= 1;
                    if depth == 0 {
                        return Some(&sig[..=j]);
                    }
                }
            }
            None
        }
        _ => Some(&sig[..=i]),
    }
}

/// A message's type (the second byte of its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

/// A whole message: what the header says, and the body's values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub kind: Option<Kind>,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

/// Header field codes (D-Bus specification, "Header Fields").
const PATH: u8 = 1;
const INTERFACE: u8 = 2;
const MEMBER: u8 = 3;
const ERROR_NAME: u8 = 4;
const REPLY_SERIAL: u8 = 5;
const DESTINATION: u8 = 6;
const SENDER: u8 = 7;
const SIGNATURE: u8 = 8;

/// The fixed part of a header: endianness, type, flags, version, body
/// length, serial, and the header fields array's length.
pub const FIXED_HEADER: usize = 16;

impl Message {
    /// A method call to `destination`'s object `path`.
    pub fn call(destination: &str, path: &str, interface: &str, member: &str, body: Vec<Value>) -> Message {
        Message {
            kind: Some(Kind::MethodCall),
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            destination: Some(destination.into()),
            body,
            ..Message::default()
        }
    }

    /// The message's bytes, little-endian, numbered `serial`.
    pub fn encode(&self, serial: u32) -> Vec<u8> {
        let mut body = Writer::default();
        for v in &self.body {
            body.value(v);
        }
        let signature: String = self.body.iter().map(Value::signature).collect();
        let mut fields = Vec::new();
        let mut field =
            |code: u8, v: Value| fields.push(Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(v))]));
        if let Some(p) = &self.path {
            field(PATH, Value::Path(p.clone()));
        }
        if let Some(i) = &self.interface {
            field(INTERFACE, Value::Str(i.clone()));
        }
        if let Some(m) = &self.member {
            field(MEMBER, Value::Str(m.clone()));
        }
        if let Some(e) = &self.error_name {
            field(ERROR_NAME, Value::Str(e.clone()));
        }
        if let Some(r) = self.reply_serial {
            field(REPLY_SERIAL, Value::U32(r));
        }
        if let Some(d) = &self.destination {
            field(DESTINATION, Value::Str(d.clone()));
        }
        if let Some(s) = &self.sender {
            field(SENDER, Value::Str(s.clone()));
        }
        if !signature.is_empty() {
            field(SIGNATURE, Value::Signature(signature));
        }
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', self.kind.unwrap_or(Kind::MethodCall) as u8, 0, 1]);
        w.u32(body.buf.len() as u32);
        w.u32(serial);
        w.value(&Value::Array("(yv)".into(), fields));
        w.pad(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }

    /// How many bytes the whole message has, from its first 16.
    pub fn total_len(fixed: &[u8; FIXED_HEADER]) -> Result<usize, WireError> {
        let big_endian = match fixed[0] {
            b'l' => false,
            b'B' => true,
            _ => return Err(WireError::Malformed { at: 0, what: "endianness byte" }),
        };
        let mut r = Reader::new(fixed, big_endian);
        r.at = 4;
        let body = r.u32()? as usize;
        r.at = 12;
        let fields = r.u32()? as usize;
        let header = (FIXED_HEADER + fields).div_ceil(8) * 8;
        Ok(header + body)
    }

    /// Read a whole message's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let big_endian = match bytes.first() {
            Some(b'l') => false,
            Some(b'B') => true,
            _ => return Err(WireError::Malformed { at: 0, what: "endianness byte" }),
        };
        let mut r = Reader::new(bytes, big_endian);
        r.at = 1;
        let kind = match r.take(1)?[0] {
            1 => Some(Kind::MethodCall),
            2 => Some(Kind::MethodReturn),
            3 => Some(Kind::Error),
            4 => Some(Kind::Signal),
            _ => None,
        };
        r.at = 4;
        let body_len = r.u32()? as usize;
        let serial = r.u32()?;
        let (fields, _) = r.value("a(yv)")?;
        r.pad(8)?;
        let mut m = Message { kind, serial, ..Message::default() };
        let mut signature = String::new();
        let Value::Array(_, fields) = fields else { unreachable!("a(yv) reads as an array") };
        for f in fields {
            let Value::Struct(pair) = f else { continue };
            let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (pair.first(), pair.get(1)) else { continue };
            let text = v.as_str().map(str::to_string);
            match *code {
                PATH => m.path = text,
                INTERFACE => m.interface = text,
                MEMBER => m.member = text,
                ERROR_NAME => m.error_name = text,
                REPLY_SERIAL => {
                    if let Value::U32(n) = **v {
                        m.reply_serial = Some(n);
                    }
                }
                DESTINATION => m.destination = text,
                SENDER => m.sender = text,
                SIGNATURE => signature = text.unwrap_or_default(),
                _ => {}
            }
        }
        let body_start = r.at;
        if bytes.len() < body_start + body_len {
            return Err(WireError::Short { at: body_start, wanted: body_len });
        }
        // The body aligns from the message's start, which a Reader over
        // the whole message keeps.
        let mut body = Reader { buf: &bytes[..body_start + body_len], at: body_start, big_endian, depth: 0 };
        m.body = body.values(&signature)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str, v: Value) -> Value {
        Value::Struct(vec![Value::Str(name.into()), Value::Variant(Box::new(v))])
    }

    #[test]
    fn values_align_as_the_specification_says() {
        let mut w = Writer::default();
        w.value(&Value::Byte(7));
        w.value(&Value::U64(1));
        assert_eq!(w.buf.len(), 16, "a u64 after a byte starts at 8");
        let mut w = Writer::default();
        w.value(&Value::Str("ab".into()));
        assert_eq!(w.buf, [2, 0, 0, 0, b'a', b'b', 0]);
        let mut w = Writer::default();
        w.value(&Value::Array("(sv)".into(), vec![]));
        assert_eq!(w.buf, [0, 0, 0, 0, 0, 0, 0, 0], "an empty array of structs still pads to 8, length 0");
    }

    #[test]
    fn a_property_array_reads_back() {
        let props = Value::Array(
            "(sv)".into(),
            vec![
                prop("Description", Value::Str("glassbox container web".into())),
                prop("PIDs", Value::Array("u".into(), vec![Value::U32(4242)])),
                prop("MemoryMax", Value::U64(67108864)),
                prop("Delegate", Value::Bool(true)),
                prop("AllowedCPUs", Value::Array("y".into(), vec![Value::Byte(0b101)])),
            ],
        );
        let mut w = Writer::default();
        w.value(&Value::Str("glassbox-web.scope".into()));
        w.value(&props);
        let mut r = Reader::new(&w.buf, false);
        let read = r.values("sa(sv)").unwrap();
        assert_eq!(read, vec![Value::Str("glassbox-web.scope".into()), props]);
        assert_eq!(r.at, w.buf.len());
    }

    #[test]
    fn a_message_survives_encoding() {
        let call = Message::call(
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StopUnit",
            vec![Value::Str("glassbox-web.scope".into()), Value::Str("replace".into())],
        );
        let bytes = call.encode(3);
        assert_eq!(&bytes[..4], b"l\x01\x00\x01");
        let fixed: [u8; FIXED_HEADER] = bytes[..16].try_into().unwrap();
        assert_eq!(Message::total_len(&fixed).unwrap(), bytes.len());
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, Message { serial: 3, ..call });
    }

    /// The other byte order: a sender on a big-endian machine writes "B"
    /// and its numbers big-endian (a JobRemoved body, "uoss", by hand).
    #[test]
    fn big_endian_numbers_read() {
        let mut fixed = [0u8; FIXED_HEADER];
        fixed[..4].copy_from_slice(&[b'B', 4, 0, 1]);
        fixed[4..8].copy_from_slice(&24u32.to_be_bytes());
        fixed[12..16].copy_from_slice(&20u32.to_be_bytes());
        assert_eq!(Message::total_len(&fixed).unwrap(), 40 + 24, "16 + 20 padded to 40, then the body");
        let mut body = Vec::new();
        body.extend_from_slice(&9u32.to_be_bytes());
        body.extend_from_slice(&6u32.to_be_bytes());
        body.extend_from_slice(b"/job/9\0\0");
        body.extend_from_slice(&1u32.to_be_bytes());
        body.extend_from_slice(b"a\0\0\0");
        body.extend_from_slice(&4u32.to_be_bytes());
        body.extend_from_slice(b"done\0");
        let mut r = Reader::new(&body, true);
        assert_eq!(
            r.values("uoss").unwrap(),
            vec![Value::U32(9), Value::Path("/job/9".into()), Value::Str("a".into()), Value::Str("done".into())]
        );
    }

    /// Whatever the bus sends, reading it ends in a value or an error,
    /// never a panic: every cut of a real message, every byte flipped.
    #[test]
    fn damaged_messages_are_errors() {
        let call = Message::call(
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartTransientUnit",
            vec![
                Value::Str("a.scope".into()),
                Value::Array("(sv)".into(), vec![prop("PIDs", Value::Array("u".into(), vec![Value::U32(1)]))]),
            ],
        );
        let bytes = call.encode(1);
        for cut in 0..bytes.len() {
            let _ = Message::decode(&bytes[..cut]);
        }
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let _ = Message::decode(&damaged);
            }
        }
        // A variant in a variant … 100 deep.
        let mut deep = Writer::default();
        for _ in 0..100 {
            deep.buf.extend_from_slice(&[1, b'v', 0]);
        }
        deep.buf.extend_from_slice(&[1, b'y', 0, 7]);
        assert!(Reader::new(&deep.buf, false).value("v").is_err());
    }

    #[test]
    fn complete_types() {
        assert_eq!(first_complete_type("a(sv)u"), Some("a(sv)"));
        assert_eq!(first_complete_type("a(sa(sv))"), Some("a(sa(sv))"));
        assert_eq!(first_complete_type("uoss"), Some("u"));
        assert_eq!(first_complete_type("a{sv}"), Some("a{sv}"));
        assert_eq!(first_complete_type("(s"), None);
    }
}
