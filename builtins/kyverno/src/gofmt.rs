//! Go's number spellings where Kyverno's results depend on them: `%v`,
//! `%f` and `strconv.FormatFloat(f, 'E', -1, 64)`.

use serde_json::Value;

/// `fmt.Sprint(f)` for a float64: shortest digits, exponent form below 1e-4 or from 1e21.
pub fn sprint_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..21).contains(&exp) {
        return exponent_form(f, 'e');
    }
    let s = format!("{f}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// `strconv.FormatFloat(f, 'E', -1, 64)`: `1E+00`, `1.5E+02`.
pub fn format_e(f: f64) -> String {
    exponent_form(f, 'E')
}

fn exponent_form(f: f64, e: char) -> String {
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}{e}{sign}{:02}", exp.abs())
}

/// A JSON number in Go's `%v` spelling (ints decimal, floats shortest).
pub fn sprint_number(n: &serde_json::Number) -> String {
    if n.is_f64() { sprint_float(n.as_f64().unwrap_or(0.0)) } else { n.to_string() }
}

/// `fmt.Sprint(v)` for JSON values, the way Kyverno stringifies scalars.
pub fn sprint(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => sprint_number(n),
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings() {
        assert_eq!(format_e(1.0), "1E+00");
        assert_eq!(format_e(150.0), "1.5E+02");
        assert_eq!(format_e(0.25), "2.5E-01");
        assert_eq!(sprint_float(1.5), "1.5");
        assert_eq!(sprint_float(3.0), "3");
        assert_eq!(sprint_float(1e21), "1e+21");
    }
}
