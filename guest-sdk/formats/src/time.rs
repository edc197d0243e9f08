//! Time as Go spells it, for the places where a result must match what a Go
//! program prints: RFC 3339 timestamps (`time.RFC3339`, as OCI `created`
//! fields and Kyverno's `time_*` functions use them) and Go durations
//! (`time.ParseDuration`, `Duration.String`). No clock and no time-zone
//! database: callers pass instants in.

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A UTC instant: whole seconds since the epoch plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    pub secs: i64,
    pub nanos: u32,
}

impl Instant {
    /// The instant `secs` whole seconds after the epoch.
    pub fn from_secs(secs: i64) -> Instant {
        Instant { secs, nanos: 0 }
    }

    /// The instant `seconds` (fractional) later.
    pub fn add_seconds(self, seconds: f64) -> Instant {
        let total = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos) + (seconds * 1e9).round() as i128;
        let secs =
            i64::try_from(total.div_euclid(1_000_000_000)).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX });
        Instant { secs, nanos: total.rem_euclid(1_000_000_000) as u32 }
    }

    /// Seconds from `other` to `self`.
    pub fn seconds_since(self, other: Instant) -> f64 {
        (self.secs as f64 - other.secs as f64) + (f64::from(self.nanos) - f64::from(other.nanos)) / 1e9
    }

    /// Broken-down UTC fields: year, month, day, hour, minute, second, weekday (0 = Sunday).
    pub fn fields(self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let weekday = (days + 4).rem_euclid(7);
        (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60, weekday)
    }
}

/// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05Z`; fractions and
/// `±hh:mm` offsets allowed), or `None` when `s` is not one.
pub fn parse_rfc3339(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        if frac.is_empty() {
            return None;
        }
        let padded: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = padded.parse().ok()?;
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && matches!(&tz[..1], "+" | "-") && &tz[3..4] == ":" => {
            let oh: i64 = num(i + 1..i + 3)?;
            let om: i64 = num(i + 4..i + 6)?;
            let o = oh * 3600 + om * 60;
            if &tz[..1] == "-" { -o } else { o }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(Instant { secs, nanos })
}

/// Formats an instant as Go's `time.RFC3339` in UTC (`2024-01-02T03:04:05Z`;
/// fractions dropped, as that layout does).
pub fn format_rfc3339(t: Instant) -> String {
    let (y, m, d, h, mi, s, _) = t.fields();
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Parses a Go duration (`1h30m`, `300ms`, `-1.5s`) into seconds, or `None`
/// when `s` is not one (a bare number other than `0` is not).
pub fn parse_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = num.strip_suffix('.').unwrap_or(num).parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(if neg { -total } else { total })
}

/// Formats seconds as Go's `Duration.String` does (`1h0m0s`, `1.5s`, `2ms`, `0s`).
pub fn format_duration(seconds: f64) -> String {
    let nanos = (seconds * 1e9).round() as i128;
    if nanos == 0 {
        return "0s".into();
    }
    let n = nanos.unsigned_abs();
    let mut out = String::from(if nanos < 0 { "-" } else { "" });
    if n < 1_000_000_000 {
        let (unit, div) = if n < 1_000 {
            ("ns", 1u128)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&trim_fraction(n, div));
        out.push_str(unit);
        return out;
    }
    let h = n / 3_600_000_000_000;
    let rem = n % 3_600_000_000_000;
    let m = rem / 60_000_000_000;
    if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&trim_fraction(rem % 60_000_000_000, 1_000_000_000));
    out.push('s');
    out
}

fn trim_fraction(n: u128, div: u128) -> String {
    let (whole, frac) = (n / div, n % div);
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, seconds since the epoch, where the expectation comes from)
    const TIMESTAMPS: &[(&str, Option<i64>, &str)] = &[
        ("1970-01-01T00:00:00Z", Some(0), "the Unix epoch"),
        ("2000-02-29T00:00:00Z", Some(951_782_400), "Go: time.Date(2000, 2, 29, ...).Unix(), a leap day of a 400-year"),
        ("2023-11-14T22:13:20Z", Some(1_700_000_000), "Go: time.Unix(1700000000, 0).UTC()"),
        ("2099-12-31T23:59:59Z", Some(4_102_444_799), "Go: time.Unix(4102444799, 0).UTC()"),
        ("1969-12-31T23:59:59Z", Some(-1), "Go: before the epoch"),
        ("2024-02-29T14:34:56+02:00", Some(1_709_210_096), "RFC 3339: an offset is subtracted"),
        ("2024-02-29T12:34:56.5Z", Some(1_709_210_096), "RFC 3339: fractions (formatting drops them, as time.RFC3339)"),
        ("2024-13-01T00:00:00Z", None, "Go time.Parse: month out of range"),
        ("2024-01-01T00:00:00", None, "RFC 3339 needs a zone"),
        ("nope", None, "not a time"),
    ];

    /// (duration, seconds, Go's Duration.String of those seconds)
    const DURATIONS: &[(&str, Option<f64>, &str)] = &[
        ("1h", Some(3600.0), "1h0m0s"),
        ("1h30m", Some(5400.0), "1h30m0s"),
        ("-1.5s", Some(-1.5), "-1.5s"),
        ("300ms", Some(0.3), "300ms"),
        ("2us", Some(2e-6), "2µs"),
        ("0", Some(0.0), "0s"),
        ("1", None, ""),
        ("1d", None, ""),
        ("", None, ""),
    ];

    #[test]
    fn times_read_and_print_as_go_does() {
        for &(text, secs, source) in TIMESTAMPS {
            let got = parse_rfc3339(text);
            assert_eq!(got.map(|t| t.secs), secs, "{text} ({source})");
            if let Some(secs) = secs {
                let printed = format_rfc3339(Instant::from_secs(secs));
                assert_eq!(parse_rfc3339(&printed).map(|t| t.secs), Some(secs), "{printed} round trips");
                if !text.contains(['+', '.']) {
                    assert_eq!(printed, text, "{source}");
                }
            }
        }
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").map(|t| t.fields().6), Some(4), "a Thursday");
        for &(text, secs, printed) in DURATIONS {
            assert_eq!(parse_duration(text), secs, "time.ParseDuration({text:?})");
            if let Some(secs) = secs {
                assert_eq!(format_duration(secs), printed, "Duration.String of {text}");
            }
        }
    }
}
