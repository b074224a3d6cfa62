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
            self.prefix = date_and_time(second);
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

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of `second` since the Unix epoch. The
/// calendar date from a day count is H. Hinnant's `civil_from_days`
/// (howardhinnant.github.io/date_algorithms.html): proleptic Gregorian,
/// in 400-year eras of 146097 days. chrono's formatter did the same at
/// ~10 µs the first time in a process — every `run`'s first event.
fn date_and_time(second: i64) -> String {
    let (days, time) = (second.div_euclid(86_400), second.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let (hour, minute, sec) = (time / 3600, time / 60 % 60, time % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{sec:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_chronos_rfc3339_with_nanoseconds() {
        let mut wall = WallText::new();
        let leap_days = [951_782_400i64, 1_709_164_800, 4_107_542_400, -2_203_891_200, -2_208_988_800];
        let instants = [0i64, 1, 999_999_999, 1_000_000_000, 1_764_416_889_752_696_647, 1_764_416_889_000_000_001, -1];
        let days = (-25_000..106_000i64).step_by(97).map(|d| d * 86_400_000_000_000 + 3_723_000_000_001);
        for ns in instants.into_iter().chain(leap_days.map(|s| s * 1_000_000_000)).chain(days) {
            let expected =
                chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            assert_eq!(wall.format(ns), expected, "{ns} ns");
        }
    }
}
