//! Go `time.ParseDuration` syntax (`1h30m`, `300ms`, `-1.5s`), as seconds.

/// Parses a Go duration string into seconds, or `None` when `s` is not one.
pub fn parse(s: &str) -> Option<f64> {
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
        let unit = &rest[..unit_len];
        let scale = match unit {
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

/// Formats seconds the way Go's `Duration.String` does (`1h0m0s`, `1.5s`, `0s`).
pub fn format(seconds: f64) -> String {
    let nanos = (seconds * 1e9).round() as i128;
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let n = nanos.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
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
    let s_nanos = rem % 60_000_000_000;
    if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&trim_fraction(s_nanos, 1_000_000_000));
    out.push('s');
    out
}

fn trim_fraction(n: u128, div: u128) -> String {
    let whole = n / div;
    let frac = n % div;
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

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("1h"), Some(3600.0));
        assert_eq!(parse("1h30m"), Some(5400.0));
        assert_eq!(parse("-1.5s"), Some(-1.5));
        assert_eq!(parse("300ms"), Some(0.3));
        assert_eq!(parse("0"), Some(0.0));
        assert_eq!(parse("1"), None);
        assert_eq!(parse("1d"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(3600.0), "1h0m0s");
        assert_eq!(format(90.0), "1m30s");
        assert_eq!(format(1.5), "1.5s");
        assert_eq!(format(0.0), "0s");
        assert_eq!(format(0.002), "2ms");
    }
}
