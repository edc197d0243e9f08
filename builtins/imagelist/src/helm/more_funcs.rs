//! The rest of helm 3.17's function map: the sprig functions and helm
//! extras that [`super::funcs`] does not define (`tuple`, `semver`, paths,
//! base32, TOML, URLs, `all`/`any`…). A template that merely mentions a
//! missing function fails to parse, as in Go, so every name helm knows must
//! exist here even when charts rarely call it.
//!
//! As in [`super::funcs`], what is random or secret in sprig (`randBytes`,
//! `bcrypt`, `derivePassword`, AES, certificates with a given key) returns a
//! fixed placeholder: it cannot change which images a chart uses.

use std::collections::BTreeMap;

use base64::Engine;
use sealbox_render::engine::{Templates, Value};
use sha2::Digest;

use super::funcs::{hex, int_arg as int, str_arg as text};
use super::semver::semver_parts;

/// Adds the functions to `set`; `alias` copies an already registered one.
pub fn register(set: &mut Templates, alias: &mut dyn FnMut(&mut Templates, &'static str, &'static str)) {
    set.add_fn("tuple", |args| Ok(Value::list(args.to_vec())));
    set.add_fn("semver", |args| semver_parts(text(args, 0, "semver")?));
    set.add_fn("hello", |_| Ok(Value::String("Hello!".into())));
    set.add_fn("all", |args| Ok(Value::Bool(args.iter().all(|v| !is_empty(v)))));
    set.add_fn("any", |args| Ok(Value::Bool(args.iter().any(|v| !is_empty(v)))));
    set.add_fn("sha512sum", |args| Ok(Value::String(hex(&sha2::Sha512::digest(text(args, 0, "sha512sum")?)))));
    set.add_fn("b32enc", |args| Ok(Value::String(base32_encode(text(args, 0, "b32enc")?.as_bytes()))));
    set.add_fn("b32dec", |args| {
        let s = text(args, 0, "b32dec")?;
        // sprig returns the decoding error as the string.
        Ok(Value::String(match base32_decode(s) {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => "illegal base32 data".to_string(),
        }))
    });
    set.add_fn("clean", |args| Ok(Value::String(clean_path(text(args, 0, "clean")?))));
    set.add_fn("isAbs", |args| Ok(Value::Bool(text(args, 0, "isAbs")?.starts_with('/'))));
    set.add_fn("regexQuoteMeta", |args| Ok(Value::String(quote_meta(text(args, 0, "regexQuoteMeta")?))));
    set.add_fn("abbrevboth", |args| {
        let (left, width) = (int(args, 0)?, int(args, 1)?);
        Ok(Value::String(abbrev_both(text(args, 2, "abbrevboth")?, left, width)))
    });
    set.add_fn("wrapWith", |args| {
        let width = int(args, 0)?.max(1) as usize;
        Ok(Value::String(wrap_with(text(args, 2, "wrapWith")?, width, text(args, 1, "wrapWith")?)))
    });
    set.add_fn("typeIsLike", |args| {
        let want = text(args, 0, "typeIsLike")?;
        let got = args.get(1).map(Value::type_name).unwrap_or("<nil>");
        Ok(Value::Bool(want == got || want.strip_prefix('*') == Some(got)))
    });
    set.add_fn("duration", |args| {
        let secs = match args.first() {
            Some(Value::String(s)) => s.trim().parse::<i64>().unwrap_or(0),
            Some(Value::Int(i)) => *i,
            Some(Value::Float(f)) => *f as i64,
            _ => 0,
        };
        Ok(Value::String(go_duration(secs)))
    });
    set.add_fn("toToml", |args| Ok(Value::String(to_toml(args.first().unwrap_or(&Value::Null)))));
    set.add_fn("fromToml", |args| {
        Ok(match text(args, 0, "fromToml")?.parse::<toml::Table>() {
            Ok(table) => serde_json::to_value(&table).map(|v| Value::from(&v)).unwrap_or_default(),
            Err(e) => Value::map(BTreeMap::from([("Error".to_string(), Value::String(e.to_string()))])),
        })
    });
    set.add_fn("urlParse", |args| Ok(url_parse(text(args, 0, "urlParse")?)));
    set.add_fn("urlJoin", |args| match args.first() {
        Some(Value::Map(m)) => Ok(Value::String(url_join(m))),
        _ => Err("urlJoin: wrong type for value; expected map[string]interface {}".into()),
    });
    set.add_fn("randBytes", |args| {
        let n = int(args, 0)?.clamp(0, 4096) as usize;
        Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(vec![0u8; n])))
    });
    set.add_fn("bcrypt", |_| Ok(Value::String("$2a$10$placeholder".into())));
    set.add_fn("derivePassword", |_| Ok(Value::String("placeholder".into())));
    set.add_fn("encryptAES", |args| {
        Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text(args, 1, "encryptAES")?)))
    });
    set.add_fn("decryptAES", |args| {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text(args, 1, "decryptAES")?).unwrap_or_default();
        Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    });
    for (name, existing) in [
        ("biggest", "max"),
        ("osBase", "base"),
        ("osDir", "dir"),
        ("osExt", "ext"),
        ("osClean", "clean"),
        ("osIsAbs", "isAbs"),
        ("mustSlice", "slice"),
        ("mustToPrettyJson", "toPrettyJson"),
        ("mustToRawJson", "toRawJson"),
        ("mustToToml", "toToml"),
        ("mustFromJsonArray", "fromJsonArray"),
        ("mustFromYamlArray", "fromYamlArray"),
        ("date_in_zone", "date"),
        ("htmlDateInZone", "date"),
        ("mustToDate", "date"),
        ("date_modify", "now"),
        ("mustDateModify", "now"),
        ("must_date_modify", "now"),
        ("ago", "duration"),
        ("durationRound", "duration"),
        ("genCAWithKey", "genCA"),
        ("genSelfSignedCertWithKey", "genSelfSignedCert"),
        ("genSignedCertWithKey", "genSignedCert"),
        // helm's indented YAML differs from toYaml only in how deep
        // sequences under a key are indented; the parsed documents agree.
        ("toYamlPretty", "toYaml"),
    ] {
        alias(set, name, existing);
    }
}

/// sprig's `empty`: Go's zero values are empty.
fn is_empty(v: &Value) -> bool {
    !v.is_true()
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 with padding, as Go's `base32.StdEncoding`.
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(B32[((bits >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut nbits) = (0u64, 0u32);
    for c in s.bytes() {
        let v = B32.iter().position(|b| *b == c)? as u64;
        acc = (acc << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// Go's `path.Clean`.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// goutils' `AbbreviateFull`: an ellipsis on both sides around `left`.
fn abbrev_both(s: &str, left: i64, width: i64) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    if width < 4 || len <= width {
        return s.to_string();
    }
    let mut offset = left.clamp(0, len);
    if len - offset < width - 3 {
        offset = len - (width - 3);
    }
    if offset <= 4 {
        let keep = (width - 3).max(0) as usize;
        return format!("{}...", chars[..keep.min(chars.len())].iter().collect::<String>());
    }
    if offset + width - 3 < len {
        let inner: String = chars[offset as usize..].iter().collect();
        return format!("...{}", abbrev_both(&inner, 0, width - 3));
    }
    let start = (len - (width - 3)).max(0) as usize;
    format!("...{}", chars[start..].iter().collect::<String>())
}

/// goutils' `WrapCustom` with long words broken: lines of at most `width`
/// characters, joined by `sep`.
fn wrap_with(s: &str, width: usize, sep: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in s.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => {
                let chars: Vec<char> = word.chars().collect();
                for piece in chars.chunks(width) {
                    lines.push(piece.iter().collect());
                }
                if chars.is_empty() {
                    lines.push(String::new());
                }
            }
        }
    }
    lines.join(sep)
}

/// Go's `time.Duration.String` for whole seconds.
fn go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{sign}{sec}s"),
        (0, _) => format!("{sign}{m}m{sec}s"),
        _ => format!("{sign}{h}h{m}m{sec}s"),
    }
}

/// helm's `toToml`: a map as a TOML document; anything else is the
/// encoder's error text, as helm prints it.
fn to_toml(v: &Value) -> String {
    match toml::Value::try_from(v.to_json()) {
        Ok(toml::Value::Table(t)) => toml::to_string(&t).unwrap_or_else(|e| e.to_string()),
        Ok(_) => "toml: top-level values must be Go maps or structs".into(),
        Err(e) => e.to_string(),
    }
}

/// sprig's `urlParse`: the parts of a URL by the keys sprig uses.
fn url_parse(s: &str) -> Value {
    let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (scheme, rest) = match rest.split_once("://") {
        Some((scheme, after)) => (scheme, after),
        None => ("", rest),
    };
    let (authority, path) = if scheme.is_empty() {
        ("", rest)
    } else {
        match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        }
    };
    let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    let hostname = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let hostname = hostname.trim_start_matches('[').trim_end_matches(']');
    let field = |k: &str, v: &str| (k.to_string(), Value::String(v.to_string()));
    Value::map(BTreeMap::from([
        field("scheme", scheme),
        field("host", host),
        field("hostname", hostname),
        field("path", path),
        field("query", query),
        field("opaque", ""),
        field("fragment", fragment),
        field("userinfo", userinfo),
    ]))
}

/// sprig's `urlJoin`: the inverse of [`url_parse`].
fn url_join(m: &BTreeMap<String, Value>) -> String {
    let get = |k: &str| m.get(k).map(Value::to_go_string).unwrap_or_default();
    let mut out = String::new();
    if !get("scheme").is_empty() {
        out.push_str(&format!("{}://", get("scheme")));
    }
    if !get("userinfo").is_empty() {
        out.push_str(&format!("{}@", get("userinfo")));
    }
    out.push_str(&get("host"));
    out.push_str(&get("path"));
    if !get("query").is_empty() {
        out.push_str(&format!("?{}", get("query")));
    }
    if !get("fragment").is_empty() {
        out.push_str(&format!("#{}", get("fragment")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_match_go() {
        assert_eq!(base32_encode(b"hi"), "NBUQ====");
        assert_eq!(base32_decode("NBUQ===="), Some(b"hi".to_vec()));
        assert_eq!(clean_path("a/./b/../c//"), "a/c");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(quote_meta("a.b*c"), "a\\.b\\*c");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(wrap_with("aaa bbb ccc", 7, "\n"), "aaa bbb\nccc");
        assert_eq!(abbrev_both("abcdefghijklmno", 5, 10), "...fghi...");
    }

    #[test]
    fn url_round_trips() {
        let Value::Map(m) = url_parse("https://u@example.com:8443/p?q=1#f") else { panic!("map") };
        assert_eq!(m.get("hostname").and_then(Value::as_str), Some("example.com"));
        assert_eq!(m.get("host").and_then(Value::as_str), Some("example.com:8443"));
        assert_eq!(url_join(&m), "https://u@example.com:8443/p?q=1#f");
    }

    fn run(template: &str) -> Result<String, String> {
        let mut set = Templates::new();
        super::super::funcs::register(&mut set, std::rc::Rc::new(std::cell::RefCell::new(None)));
        set.parse("t", template).map_err(|e| e.to_string())?;
        set.execute("t", &Value::map(BTreeMap::new()), &sealbox_render::engine::Options::default())
            .map_err(|e| e.to_string())
    }

    /// Every name in helm 3.17.1's function map (sprig's, minus `env` and
    /// `expandenv`, plus helm's own), as found by asking `helm template` to
    /// parse a template mentioning each: a chart that merely mentions one
    /// must parse here too.
    const HELM_3_17_FUNCTIONS: &str = "
        abbrev abbrevboth add add1 add1f addf adler32sum ago all and any append atoi b32dec b32enc b64dec b64enc base 
        bcrypt biggest buildCustomCert call camelcase cat ceil chunk clean coalesce compact concat contains date 
        dateInZone dateModify date_in_zone date_modify decryptAES deepCopy deepEqual default derivePassword dict dig 
        dir div divf duration durationRound empty encryptAES eq ext fail first float64 floor fromJson fromJsonArray 
        fromToml fromYaml fromYamlArray ge genCA genCAWithKey genPrivateKey genSelfSignedCert 
        genSelfSignedCertWithKey genSignedCert genSignedCertWithKey get getHostByName gt has hasKey hasPrefix 
        hasSuffix hello html htmlDate htmlDateInZone htpasswd include indent index initial initials int int64 isAbs 
        join js kebabcase keys kindIs kindOf last le len list lookup lower lt max maxf merge mergeOverwrite min minf 
        mod mul mulf mustAppend mustChunk mustCompact mustDateModify mustDeepCopy mustFirst mustFromJson mustHas 
        mustInitial mustLast mustMerge mustMergeOverwrite mustPrepend mustPush mustRegexFind mustRegexFindAll 
        mustRegexMatch mustRegexReplaceAll mustRegexReplaceAllLiteral mustRegexSplit mustRest mustReverse mustSlice 
        mustToDate mustToJson mustToPrettyJson mustToRawJson mustUniq mustWithout must_date_modify ne nindent nospace 
        not now omit or osBase osClean osDir osExt osIsAbs pick pluck plural prepend print printf println push quote 
        randAlpha randAlphaNum randAscii randBytes randInt randNumeric regexFind regexFindAll regexMatch 
        regexQuoteMeta regexReplaceAll regexReplaceAllLiteral regexSplit repeat replace required rest reverse round 
        semver semverCompare seq set sha1sum sha256sum sha512sum shuffle slice snakecase sortAlpha split splitList 
        splitn squote sub subf substr swapcase ternary title toDate toDecimal toJson toPrettyJson toRawJson toString 
        toStrings toToml toYaml toYamlPretty tpl trim trimAll trimPrefix trimSuffix trimall trunc tuple typeIs 
        typeIsLike typeOf uniq unixEpoch unset until untilStep untitle upper urlJoin urlParse urlquery uuidv4 values 
        without wrap wrapWith";

    #[test]
    fn every_function_helm_knows_exists() {
        let missing: Vec<&str> = HELM_3_17_FUNCTIONS
            .split_whitespace()
            .filter(|name| run(&format!("{{{{ if false }}}}{{{{ {name} }}}}{{{{ end }}}}")).is_err())
            .collect();
        assert!(missing.is_empty(), "missing: {missing:?}");
        for name in ["env", "expandenv", "nosuchfunction"] {
            assert!(run(&format!("{{{{ if false }}}}{{{{ {name} }}}}{{{{ end }}}}")).is_err(), "{name} must not exist");
        }
    }

    #[test]
    fn tuple_semver_and_friends_print_what_helm_prints() {
        // Outputs taken from helm 3.17.1's `helm template` on the same text.
        let cases = [
            (r#"{{ tuple 1 "a" | toJson }}"#, r#"[1,"a"]"#),
            (r#"{{ (semver "1.2.3-rc.1+b").Major }} {{ (semver "v1.2.3").Minor }}"#, "1 2"),
            (r#"{{ abbrevboth 5 10 "abcdefghijklmno" }}"#, "...fghi..."),
            (r#"{{ wrapWith 7 "\n" "aaa bbb ccc" | quote }}"#, r#""aaa bbb\nccc""#),
            (
                r#"{{ all 1 "a" true }} {{ any 0 "" false }} {{ b32enc "hi" }} {{ clean "a//b/../c" }}"#,
                "true false NBUQ==== a/c",
            ),
            (r#"{{ $s := (lookup "v1" "Secret" "ns" "x").data }}{{ hasKey $s "k" }}"#, "false"),
        ];
        for (template, want) in cases {
            assert_eq!(run(template).as_deref(), Ok(want), "{template}");
        }
    }
}
