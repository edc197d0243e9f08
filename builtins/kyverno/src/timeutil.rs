//! RFC 3339 timestamps as Unix seconds, enough for Kyverno's time_*
//! JMESPath functions without a clock or a time-zone database.

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A UTC instant: whole seconds since the epoch plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    pub secs: i64,
    pub nanos: u32,
}

impl Instant {
    /// The instant `seconds` (fractional) later.
    pub fn add_seconds(self, seconds: f64) -> Instant {
        let total = self.secs as i128 * 1_000_000_000 + self.nanos as i128 + (seconds * 1e9).round() as i128;
        Instant { secs: total.div_euclid(1_000_000_000) as i64, nanos: total.rem_euclid(1_000_000_000) as u32 }
    }

    /// Seconds from `other` to `self`.
    pub fn seconds_since(self, other: Instant) -> f64 {
        (self.secs - other.secs) as f64 + (self.nanos as f64 - other.nanos as f64) / 1e9
    }

    /// Broken-down UTC fields: year, month, day, hour, minute, second, weekday (0 = Sunday).
    pub fn fields(self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let days = self.secs.div_euclid(86400);
        let rem = self.secs.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        let weekday = (days + 4).rem_euclid(7);
        (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60, weekday)
    }
}

/// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05Z`, offsets and fractions allowed).
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
            let oh: i64 = tz[1..3].parse().ok()?;
            let om: i64 = tz[4..6].parse().ok()?;
            let o = oh * 3600 + om * 60;
            if &tz[..1] == "-" { -o } else { o }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    Some(Instant { secs, nanos })
}

/// Formats an instant as Go's `time.RFC3339` in UTC (`2024-01-02T03:04:05Z`).
pub fn format_rfc3339(t: Instant) -> String {
    let (y, m, d, h, mi, s, _) = t.fields();
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = parse_rfc3339("2024-02-29T12:34:56Z").unwrap();
        assert_eq!(format_rfc3339(t), "2024-02-29T12:34:56Z");
        let t2 = parse_rfc3339("2024-02-29T14:34:56+02:00").unwrap();
        assert_eq!(t, t2);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap().secs, 0);
        assert_eq!(parse_rfc3339("nope"), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap().fields().6, 4);
    }
}
