//! The `wall` field's text: RFC 3339 in UTC with nanoseconds,
//! `2026-11-29T11:48:09.752696647Z`. A container's events come microseconds
//! apart, so the date and time of day are formatted once per second and
//! each event only adds its nine digits of nanoseconds — formatting the
//! whole calendar date for every event was a tenth of what recording cost.

/// Formats wall-clock instants, remembering the text of the last second.
#[derive(Debug, Default, Clone)]
pub struct WallText {
    second: Option<i64>,
    /// `YYYY-MM-DDTHH:MM:SS` of `second`.
    prefix: String,
}

impl WallText {
    pub fn new() -> WallText {
        WallText::default()
    }

    /// The text of `wall_ns` nanoseconds since the Unix epoch.
    pub fn format(&mut self, wall_ns: i64) -> String {
        let mut text = String::with_capacity(30);
        self.push(&mut text, wall_ns);
        text
    }

    /// Appends the text of `wall_ns` to `out`.
    pub fn push(&mut self, out: &mut String, wall_ns: i64) {
        let (second, nanos) = (wall_ns.div_euclid(1_000_000_000), wall_ns.rem_euclid(1_000_000_000));
        if self.second != Some(second) {
            self.second = Some(second);
            self.prefix = chrono::DateTime::from_timestamp(second, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default();
        }
        out.push_str(&self.prefix);
        // `.{nanos:09}Z` without the formatting machinery: this runs for every event.
        let mut digits = *b".000000000Z";
        let mut rest = nanos;
        for digit in digits[1..10].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
    }

    /// The text of the present instant (CLOCK_REALTIME).
    pub fn now(&mut self) -> String {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        self.format(since_epoch.as_nanos() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_chronos_rfc3339_with_nanoseconds() {
        let mut wall = WallText::new();
        for ns in [0i64, 1, 999_999_999, 1_000_000_000, 1_764_416_889_752_696_647, 1_764_416_889_000_000_001, -1] {
            let expected =
                chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            assert_eq!(wall.format(ns), expected, "{ns} ns");
        }
    }
}
