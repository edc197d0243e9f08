//! Go's `fmt` formatting for template values: `Sprint`, `Sprintln`,
//! `Sprintf` with the verbs, flags, width and precision templates use, and
//! `strconv`'s float and quote formats.

use super::value::{Value, write_go};

/// `fmt.Sprint`: operands joined, with a space between two operands when
/// neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        write_go(&mut out, a);
    }
    out
}

/// `fmt.Sprintln`: operands joined by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_go(&mut out, a);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf` over template values.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    // After an explicit `%[n]` index, unused arguments are not reported.
    let mut reordered = false;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut bad_index = !arg_index(&mut chars, args.len(), &mut argi, &mut reordered);
        // A number too large for a width or precision makes Go give up on
        // the rest of the format: it reads as a verb that never came.
        let mut overflow = false;
        if chars.peek() == Some(&'*') {
            chars.next();
            match int_arg(args, &mut argi) {
                Some(w) if w < 0 => {
                    spec.minus = true;
                    spec.zero = false;
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                Some(w) => spec.width = Some(w as usize),
                None => out.push_str("%!(BADWIDTH)"),
            }
        } else {
            match parse_num(&mut chars) {
                Num::Absent => {}
                Num::Value(w) => spec.width = Some(w),
                Num::Overflow => overflow = true,
            }
        }
        if !overflow && chars.peek() == Some(&'.') {
            chars.next();
            bad_index |= !arg_index(&mut chars, args.len(), &mut argi, &mut reordered);
            if chars.peek() == Some(&'*') {
                chars.next();
                match int_arg(args, &mut argi) {
                    Some(p) if p >= 0 => spec.prec = Some(p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
            } else {
                match parse_num(&mut chars) {
                    Num::Absent => spec.prec = Some(0),
                    Num::Value(p) => spec.prec = Some(p),
                    Num::Overflow => overflow = true,
                }
            }
        }
        if !overflow {
            bad_index |= !arg_index(&mut chars, args.len(), &mut argi, &mut reordered);
        }
        let Some(verb) = chars.next().filter(|_| !overflow) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        format_one(&mut out, verb, spec, arg);
    }
    if !reordered && argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(a.type_name());
            out.push('=');
            write_go(&mut out, a);
        }
        out.push(')');
    }
    out
}

/// Reads an explicit argument index `[n]` if one follows; returns false
/// when it is malformed or out of range.
fn arg_index(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    len: usize,
    argi: &mut usize,
    reordered: &mut bool,
) -> bool {
    if chars.peek() != Some(&'[') {
        return true;
    }
    chars.next();
    *reordered = true;
    let mut n = 0usize;
    let mut digits = 0;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(d as usize);
        digits += 1;
        chars.next();
    }
    if chars.next() != Some(']') || digits == 0 || n == 0 || n > len {
        return false;
    }
    *argi = n - 1;
    true
}

/// Go's bound on a width or precision (`fmt`'s `tooLarge`): checked before
/// each digit is added, so numbers up to 10,000,009 still get through.
const MAX_WIDTH: i64 = 1_000_000;

fn too_large(n: i64) -> bool {
    !(-MAX_WIDTH..=MAX_WIDTH).contains(&n)
}

/// A width or precision written as digits.
enum Num {
    Absent,
    Value(usize),
    /// Past Go's bound: Go stops reading the format here.
    Overflow,
}

fn parse_num(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Num {
    let mut n: i64 = 0;
    let mut any = false;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        if too_large(n) {
            return Num::Overflow;
        }
        n = n * 10 + i64::from(d);
        any = true;
        chars.next();
    }
    // At most 10,000,009: the check above ran before the last digit.
    if any { Num::Value(n as usize) } else { Num::Absent }
}

/// The integer argument a `*` takes; `None` (Go's BADWIDTH or BADPREC)
/// when there is none, it is not an integer, or it is past Go's bound.
/// A present argument is used up either way, as in Go.
fn int_arg(args: &[Value], argi: &mut usize) -> Option<i64> {
    let arg = args.get(*argi)?;
    *argi += 1;
    match arg {
        Value::Int(n) if !too_large(*n) => Some(*n),
        _ => None,
    }
}

fn bad_verb(out: &mut String, verb: char, arg: &Value) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if matches!(arg, Value::Null) {
        out.push_str("<nil>");
    } else {
        out.push_str(arg.type_name());
        out.push('=');
        write_go(out, arg);
    }
    out.push(')');
}

fn format_one(out: &mut String, verb: char, spec: Spec, arg: &Value) {
    if verb == 'T' {
        pad(out, arg.type_name(), spec, false);
        return;
    }
    match arg {
        Value::Null => match verb {
            'v' => pad(out, "<nil>", spec, false),
            _ => bad_verb(out, verb, arg),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => pad(out, if *b { "true" } else { "false" }, spec, false),
            _ => bad_verb(out, verb, arg),
        },
        Value::Int(i) => format_int(out, verb, spec, *i, arg),
        Value::Float(f) => format_float(out, verb, spec, *f, arg),
        Value::String(s) => format_str(out, verb, spec, s, arg),
        Value::List(items) => {
            if spec.sharp && verb == 'v' {
                pad(out, &arg.to_go_string(), spec, false);
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_one(out, verb, spec, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_str(out, verb, spec, k, &Value::String(k.clone()));
                out.push(':');
                format_one(out, verb, spec, item);
            }
            out.push(']');
        }
        Value::Func(_) => match verb {
            'v' | 'p' => pad(out, &arg.to_go_string(), spec, false),
            _ => bad_verb(out, verb, arg),
        },
    }
}

/// Pads `s` to the width; `numeric` allows zero padding after the sign.
fn pad(out: &mut String, s: &str, spec: Spec, numeric: bool) {
    let len = s.chars().count();
    let Some(width) = spec.width.filter(|&w| w > len) else {
        out.push_str(s);
        return;
    };
    let fill = width - len;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+' | b'-' | b' ') => s.split_at(1),
            _ => ("", s),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(rest);
    } else if spec.zero && !numeric {
        // Go pads strings with zeros too when the 0 flag is given.
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(s);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

fn sign_prefix(neg: bool, spec: Spec) -> &'static str {
    if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_int(out: &mut String, verb: char, spec: Spec, i: i64, arg: &Value) {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let (digits, prefix) = match verb {
        'v' | 'd' => (u.to_string(), ""),
        'b' => (format!("{u:b}"), if spec.sharp { "0b" } else { "" }),
        'o' => (format!("{u:o}"), if spec.sharp { "0" } else { "" }),
        'O' => (format!("{u:o}"), "0o"),
        'x' => (format!("{u:x}"), if spec.sharp { "0x" } else { "" }),
        'X' => (format!("{u:X}"), if spec.sharp { "0X" } else { "" }),
        'c' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
            pad(out, &c.to_string(), spec, false);
            return;
        }
        'q' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
            pad(out, &quote_rune(c), spec, false);
            return;
        }
        'U' => {
            let mut s = format!("U+{u:04X}");
            if spec.sharp
                && let Some(c) = u32::try_from(i).ok().and_then(char::from_u32)
                && !c.is_control()
            {
                s.push_str(&format!(" '{c}'"));
            }
            pad(out, &s, spec, false);
            return;
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => {
            bad_verb(out, verb, arg);
            return;
        }
        _ => {
            bad_verb(out, verb, arg);
            return;
        }
    };
    let mut s = String::from(sign_prefix(neg, spec));
    s.push_str(prefix);
    match spec.prec {
        // Go prints nothing for a zero value at precision zero.
        Some(0) if u == 0 => {}
        Some(p) => {
            s.extend(std::iter::repeat_n('0', p.saturating_sub(digits.len())));
            s.push_str(&digits);
        }
        None => s.push_str(&digits),
    }
    // Go ignores the 0 flag when a precision is given.
    let spec = if spec.prec.is_some() { Spec { zero: false, ..spec } } else { spec };
    pad(out, &s, spec, true);
}

fn format_float(out: &mut String, verb: char, spec: Spec, f: f64, arg: &Value) {
    let body = match verb {
        'v' | 'g' => format_float_g(f, spec.prec, false),
        'x' => format_float_x(f, spec.prec, false),
        'X' => format_float_x(f, spec.prec, true),
        'G' => format_float_g(f, spec.prec, true),
        'e' => format_float_e(f, spec.prec.unwrap_or(6), false),
        'E' => format_float_e(f, spec.prec.unwrap_or(6), true),
        'f' | 'F' => {
            if f.is_finite() {
                let prec = spec.prec.unwrap_or(6);
                let mut s = format!("{:.*}", prec.min(EXACT_DIGITS), f);
                s.extend(std::iter::repeat_n('0', prec.saturating_sub(EXACT_DIGITS)));
                s
            } else {
                special_float(f)
            }
        }
        _ => {
            bad_verb(out, verb, arg);
            return;
        }
    };
    let (neg, digits) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body.as_str()),
    };
    let digits = if digits == "NaN" { digits } else { digits.strip_prefix('+').unwrap_or(digits) };
    let sign = if digits == "NaN" && !spec.plus && !spec.space { "" } else { sign_prefix(neg, spec) };
    let s = format!("{sign}{digits}");
    let numeric = f.is_finite();
    pad(out, &s, spec, numeric);
}

/// Rust's formatter takes precisions up to `u16::MAX` (and panics past
/// it), Go's up to 10,000,009. An f64's exact decimal expansion has at most
/// 767 significant digits and 1074 after the point, so every digit past
/// this many is a zero: format to here, then pad.
const EXACT_DIGITS: usize = 1100;

fn special_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

/// Decimal digits (no leading zeros) and decimal point position of `f`'s
/// absolute value: `digits × 10^(dp − len)`. `sig` rounds to that many
/// significant digits; `None` gives the shortest round-trip digits.
fn decimal_digits(f: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        Some(n) => format!("{:.*e}", n.saturating_sub(1).min(EXACT_DIGITS), f.abs()),
        None => format!("{:e}", f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return (digits, 1);
    }
    (digits, exp + 1)
}

/// `strconv.FormatFloat(f, 'g', prec, 64)` (prec `None` = shortest), as `%v` and `%g` print floats.
pub fn format_float_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    if !f.is_finite() {
        return special_float(f);
    }
    let neg = f.is_sign_negative() && f != 0.0 || (f == 0.0 && f.is_sign_negative());
    let prec = prec.map(|p| p.max(1));
    let (digits, dp) = decimal_digits(f, prec);
    let nd = digits.len() as i32;
    let mut eprec = prec.map_or(6, |p| p as i32);
    if let Some(p) = prec
        && (p as i32) > nd
        && nd >= dp
    {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = dp - 1;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if exp < -4 || exp >= eprec {
        s.push_str(&digits[..1]);
        if nd > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push(if upper { 'E' } else { 'e' });
        push_exp(&mut s, exp);
    } else {
        push_fixed(&mut s, &digits, dp, (nd - dp).max(0) as usize);
    }
    s
}

fn push_exp(s: &mut String, exp: i32) {
    s.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        s.push('0');
    }
    s.push_str(&e.to_string());
}

/// Writes digits with the decimal point at `dp` and `frac` fraction digits.
fn push_fixed(s: &mut String, digits: &str, dp: i32, frac: usize) {
    let d = digits.as_bytes();
    if dp <= 0 {
        s.push('0');
    } else {
        for i in 0..dp as usize {
            s.push(*d.get(i).unwrap_or(&b'0') as char);
        }
    }
    if frac > 0 {
        s.push('.');
        for i in 0..frac as i32 {
            let idx = dp + i;
            s.push(if idx < 0 { '0' } else { *d.get(idx as usize).unwrap_or(&b'0') as char });
        }
    }
}

/// `strconv.FormatFloat(f, 'x', prec, 64)`: `-0x1.8p+01`.
fn format_float_x(f: f64, prec: Option<usize>, upper: bool) -> String {
    if !f.is_finite() {
        return special_float(f);
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let bits = f.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    if f == 0.0 {
        exp = 0;
    } else if exp == 0 {
        // Subnormal: shift until the leading 1 reaches bit 52.
        exp = -1022;
        while mant & (1u64 << 52) == 0 {
            mant <<= 1;
            exp -= 1;
        }
        mant &= (1u64 << 52) - 1;
    } else {
        exp -= 1023;
    }
    let lead = if f == 0.0 { 0 } else { 1 };
    let mut full = (lead << 52) | mant;
    if let Some(p) = prec.filter(|&p| p < 13) {
        // Round to p hex digits, half to even, carrying into the exponent.
        let shift = 4 * (13 - p as u32);
        let rem = full & ((1u64 << shift) - 1);
        let half = 1u64 << (shift - 1);
        full >>= shift;
        if rem > half || (rem == half && full & 1 == 1) {
            full += 1;
        }
        if full >> (4 * p as u32) > 1 {
            full >>= 1;
            exp += 1;
        }
        full <<= shift;
    }
    let mut digits = format!("{:013x}", full & ((1u64 << 52) - 1));
    match prec {
        Some(p) => digits.truncate(p.min(13)),
        None => digits.truncate(digits.trim_end_matches('0').len()),
    }
    if let Some(p) = prec.filter(|&p| p > 13) {
        digits.extend(std::iter::repeat_n('0', p - 13));
    }
    let mut s = format!("{sign}0x{}", full >> 52);
    if !digits.is_empty() {
        s.push('.');
        s.push_str(&digits);
    }
    s.push('p');
    push_exp(&mut s, exp);
    if upper { s.to_uppercase() } else { s }
}

fn format_float_e(f: f64, prec: usize, upper: bool) -> String {
    if !f.is_finite() {
        return special_float(f);
    }
    let s = format!("{:.*e}", prec.min(EXACT_DIGITS), f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut out = mant.to_string();
    out.extend(std::iter::repeat_n('0', prec.saturating_sub(EXACT_DIGITS)));
    out.push(if upper { 'E' } else { 'e' });
    push_exp(&mut out, exp);
    out
}

fn format_str(out: &mut String, verb: char, spec: Spec, s: &str, arg: &Value) {
    match verb {
        'v' | 's' => {
            let s = match spec.prec {
                Some(p) => s.chars().take(p).collect::<String>(),
                None => s.to_string(),
            };
            pad(out, &s, spec, false);
        }
        'q' => {
            let q = if spec.sharp && can_backquote(s) { format!("`{s}`") } else { quote_go(s) };
            pad(out, &q, spec, false);
        }
        'x' | 'X' => {
            let mut h = String::new();
            // The precision counts input bytes, not output digits.
            let len = spec.prec.map_or(s.len(), |p| p.min(s.len()));
            for (i, b) in s.bytes().take(len).enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    h.push_str(&format!("{b:02x}"));
                } else {
                    h.push_str(&format!("{b:02X}"));
                }
            }
            pad(out, &h, spec, false);
        }
        _ => bad_verb(out, verb, arg),
    }
}

fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

fn is_printable(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}' | '\u{2028}' | '\u{2029}' | '\u{00AD}')
}

fn escape_rune(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if is_printable(c) => out.push(c),
        c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// `strconv.Quote`: a double-quoted Go string literal.
pub fn quote_go(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"');
    }
    out.push('"');
    out
}

fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'');
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        sprintf(fmt, args)
    }

    #[test]
    fn verbs_and_flags_match_go() {
        assert_eq!(
            f("%5.2f|%-10s|%+d|%08.3f", &[1.23456.into(), "ab".into(), 5i64.into(), (-3.5).into()]),
            " 1.23|ab        |+5|-003.500"
        );
        assert_eq!(
            f("%04x %X %o %b %#x", &[127i64.into(), 255i64.into(), 8i64.into(), 5i64.into(), 255i64.into()]),
            "007f FF 10 101 0xff"
        );
        assert_eq!(f("%q %#q %x", &["a\"b\n".into(), "zeroArgs".into(), "hi".into()]), "\"a\\\"b\\n\" `zeroArgs` 6869");
        assert_eq!(
            f("%c %U %#U %t", &[65i64.into(), 0x1F600i64.into(), 65i64.into(), true.into()]),
            "A U+1F600 U+0041 'A' true"
        );
        assert_eq!(
            f("%e %E %.2e", &[1234.5678.into(), 0.000123.into(), 1e21.into()]),
            "1.234568e+03 1.230000E-04 1.00e+21"
        );
        assert_eq!(
            f("%g %g %g %.3g %g", &[3.5.into(), 1e8.into(), 1e-5.into(), 1234.5678.into(), 100000.0.into()]),
            "3.5 1e+08 1e-05 1.23e+03 100000"
        );
        assert_eq!(
            f(
                "%x %X %x %.1x %x %x",
                &[1.0.into(), 3.0.into(), (-0.1).into(), 1.96875.into(), 0.0.into(), 5e-324.into()]
            ),
            "0x1p+00 0X1.8P+01 -0x1.999999999999ap-04 0x1.0p+01 0x0p+00 0x1p-1074"
        );
        assert_eq!(
            f("%v %T %T", &[Value::list(vec![1i64.into(), "a".into()]), 1.0.into(), Value::Null]),
            "[1 a] float64 <nil>"
        );
    }

    #[test]
    fn bad_input_is_reported_inline_like_go() {
        assert_eq!(f("%d", &["x".into()]), "%!d(string=x)");
        assert_eq!(f("%d %d", &[1i64.into()]), "1 %!d(MISSING)");
        assert_eq!(f("%d", &[1i64.into(), 2i64.into()]), "1%!(EXTRA int=2)");
        assert_eq!(f("%s", &[Value::Null]), "%!s(<nil>)");
        assert_eq!(f("%z", &[1i64.into()]), "%!z(int=1)");
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("%[2]d %[1]d", &[1i64.into(), 2i64.into()]), "2 1");
        assert_eq!(f("%[3]d", &[1i64.into()]), "%!d(BADINDEX)");
        assert_eq!(f("%[2]s %s", &["a".into(), "b".into(), "c".into()]), "b c");
    }

    #[test]
    fn widths_and_precisions_within_gos_bound() {
        // Expected values printed by Go 1.27's fmt.Sprintf.
        assert_eq!(f("a%.100000000dz|%d", &[3i64.into(), 4i64.into()]), "a%!(NOVERB)%!(EXTRA int=3, int=4)");
        assert_eq!(f("a%10000010dz", &[3i64.into()]), "a%!(NOVERB)%!(EXTRA int=3)");
        assert_eq!(f("a%*dz", &[2_000_000i64.into(), 3i64.into()]), "a%!(BADWIDTH)3z");
        assert_eq!(f("a%.*dz", &[2_000_000i64.into(), 3i64.into()]), "a%!(BADPREC)3z");
        assert_eq!(f("a%*dz", &[(-3i64).into(), 3i64.into()]), "a3  z");
        assert_eq!(f("a%0*dz", &[(-3i64).into(), 3i64.into()]), "a3  z");
        assert_eq!(f("a%.*dz", &[(-3i64).into(), 3i64.into()]), "a%!(BADPREC)3z");
        assert_eq!(f("a%*dz", &["x".into(), 3i64.into()]), "a%!(BADWIDTH)3z");
        assert_eq!(f("a%*d", &[]), "a%!(BADWIDTH)%!d(MISSING)");
        assert_eq!(f("a%.*d", &[]), "a%!(BADPREC)%!d(MISSING)");
        assert_eq!(
            f("%.2x|%.3X|% .2x|%#.1x", &["hello".into(), "hello".into(), "hello".into(), "hello".into()]),
            "6865|68656C|68 65|0x68"
        );
        assert_eq!(
            f(
                "%.5d|%.0d|%8.5d|%-8.5d|%08.5d",
                &[42i64.into(), 0i64.into(), (-42i64).into(), 42i64.into(), 42i64.into()]
            ),
            "00042||  -00042|00042   |   00042"
        );
        // Go's largest precision: 9,999,999 zeros and the digit, at once
        // (zero padding one character at a time took minutes).
        let wide = f("%.9999999d", &[3i64.into()]);
        assert_eq!(wide.len(), 9_999_999);
        assert!(wide.ends_with("03") && wide.bytes().filter(|&b| b == b'0').count() == 9_999_998);
        assert_eq!(f("%.10000009d", &[1i64.into()]).len(), 10_000_009);
        // Float precisions past Rust's u16 limit: the exact digits, then zeros
        // (lengths and digits printed by Go 1.27).
        let fixed = f("%.70000f", &[0.1.into()]);
        assert_eq!(fixed.len(), 70_002);
        assert_eq!(fixed.trim_end_matches('0'), "0.1000000000000000055511151231257827021181583404541015625");
        assert_eq!(f("%.70000f", &[1e300.into()]).trim_end_matches('0').len(), 302);
        let sci = f("%.70000e", &[1.5.into()]);
        assert!(sci.len() == 70_006 && sci.starts_with("1.50") && sci.ends_with("0000e+00"), "{}", &sci[..20]);
        let tiny = f("%.2000e", &[5e-324.into()]);
        let mant = tiny.strip_suffix("e-324").expect("exponent");
        assert_eq!((tiny.len(), mant.trim_end_matches('0').len()), (2007, 752));
        assert!(mant.trim_end_matches('0').ends_with("533447265625"));
        assert_eq!(
            f("%.84557g|%.84557g", &[3.0.into(), 0.1.into()]),
            "3|0.1000000000000000055511151231257827021181583404541015625"
        );
    }

    #[test]
    fn sprint_spaces_between_non_strings() {
        assert_eq!(sprint(&[1i64.into(), 2i64.into(), "a".into(), 3i64.into()]), "1 2a3");
        assert_eq!(sprintln(&["a".into(), "b".into()]), "a b\n");
    }

    #[test]
    fn shortest_floats() {
        assert_eq!(format_float_g(15.1, None, false), "15.1");
        assert_eq!(format_float_g(123456789.0, None, false), "1.23456789e+08");
        assert_eq!(format_float_g(0.0001, None, false), "0.0001");
        assert_eq!(format_float_g(-2.0, None, false), "-2");
    }
}
