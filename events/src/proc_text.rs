//! Text the kernel writes in /proc files, decoded. In mountinfo (see
//! proc_pid_mountinfo(5)) a path's space, tab, newline and backslash are
//! written as three octal digits after a backslash (`\040` is a space), so
//! that fields stay separated by single spaces.
//!
//! Here, not in the runtime, because two sides read mountinfo: the runtime
//! (which mount holds the rootfs) and the end-to-end tests (what a container
//! left mounted), and the tests look at the runtime from outside, through
//! its binary, not its library. Pure text, no file is read.

/// `field` with every `\ooo` turned back into the byte it stands for;
/// anything else, a lone backslash included, is kept as it is.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn octal_escapes_become_their_bytes() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape(r"/x\011y\012z\134w"), "/x\ty\nz\\w");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn what_is_not_an_escape_stays() {
        assert_eq!(unescape(r"/a\04"), r"/a\04");
        assert_eq!(unescape(r"/a\089"), r"/a\089");
        assert_eq!(unescape(r"\"), r"\");
    }
}
