//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) parsed to a
//! comparable number.

/// Parses a Kubernetes quantity string into its value, or `None` when `s`
/// is not a quantity.
pub fn parse(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    if matches!(bytes[0], b'+' | b'-') {
        i = 1;
    }
    let num_start = i;
    let mut digits = 0;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        if bytes[i].is_ascii_digit() {
            digits += 1;
        }
        i += 1;
    }
    if digits == 0 || s[num_start..i].matches('.').count() > 1 {
        return None;
    }
    let number: f64 = s[..i].parse().ok()?;
    let suffix = &s[i..];
    let scaled = match suffix {
        "" => number,
        "Ki" => number * 1024f64,
        "Mi" => number * 1024f64.powi(2),
        "Gi" => number * 1024f64.powi(3),
        "Ti" => number * 1024f64.powi(4),
        "Pi" => number * 1024f64.powi(5),
        "Ei" => number * 1024f64.powi(6),
        "n" => number / 1e9,
        "u" => number / 1e6,
        "m" => number / 1e3,
        "k" => number * 1e3,
        "M" => number * 1e6,
        "G" => number * 1e9,
        "T" => number * 1e12,
        "P" => number * 1e15,
        "E" => number * 1e18,
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let e: i32 = exp.parse().ok()?;
            if e >= 0 { number * 10f64.powi(e) } else { number / 10f64.powi(-e) }
        }
    };
    scaled.is_finite().then_some(scaled)
}

/// Compares two quantity values, treating values within rounding noise as equal.
pub fn cmp(a: f64, b: f64) -> std::cmp::Ordering {
    let scale = a.abs().max(b.abs()).max(1e-300);
    if (a - b).abs() <= scale * 1e-12 { std::cmp::Ordering::Equal } else { a.total_cmp(&b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn quantities() {
        assert_eq!(cmp(parse("1").unwrap(), parse("1000m").unwrap()), Ordering::Equal);
        assert_eq!(cmp(parse("1Ki").unwrap(), parse("1024").unwrap()), Ordering::Equal);
        assert_eq!(cmp(parse("1Gi").unwrap(), parse("1G").unwrap()), Ordering::Greater);
        assert_eq!(parse("2e3"), Some(2000.0));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("1h"), None);
        assert_eq!(parse("1.2.3"), None);
        assert_eq!(parse(""), None);
    }
}
