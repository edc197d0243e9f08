//! Anchored pattern keys: `(k)` condition, `^(k)` existence, `=(k)`
//! equality, `X(k)` negation, `<(k)` global and `+(k)` add-if-absent.

/// What an anchored key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    Condition,
    Existence,
    Equality,
    Negation,
    Global,
    AddIfNotPresent,
}

/// A parsed anchored key: its kind and the resource key it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor<'a> {
    pub kind: AnchorKind,
    pub key: &'a str,
}

/// Parses `key` as an anchor; `None` for plain keys.
pub fn parse(key: &str) -> Option<Anchor<'_>> {
    // Most keys are plain; only keys ending in `)` (before spaces) can be anchors.
    if !key.ends_with(')') && !key.ends_with(char::is_whitespace) {
        return None;
    }
    let k = key.trim();
    let (kind, rest) = match k.as_bytes().first()? {
        b'(' => (AnchorKind::Condition, k),
        b'^' => (AnchorKind::Existence, &k[1..]),
        b'=' => (AnchorKind::Equality, &k[1..]),
        b'X' => (AnchorKind::Negation, &k[1..]),
        b'<' => (AnchorKind::Global, &k[1..]),
        b'+' => (AnchorKind::AddIfNotPresent, &k[1..]),
        _ => return None,
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() {
        return None;
    }
    Some(Anchor { kind, key: inner })
}

/// Wraps `key` in the anchor syntax of `kind`.
pub fn wrap(kind: Option<AnchorKind>, key: &str) -> String {
    match kind {
        None => key.to_string(),
        Some(AnchorKind::Condition) => format!("({key})"),
        Some(AnchorKind::Existence) => format!("^({key})"),
        Some(AnchorKind::Equality) => format!("=({key})"),
        Some(AnchorKind::Negation) => format!("X({key})"),
        Some(AnchorKind::Global) => format!("<({key})"),
        Some(AnchorKind::AddIfNotPresent) => format!("+({key})"),
    }
}

/// The resource key a (possibly anchored) pattern key names.
pub fn strip(key: &str) -> &str {
    parse(key).map(|a| a.key).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_anchor() {
        assert_eq!(parse("(image)"), Some(Anchor { kind: AnchorKind::Condition, key: "image" }));
        assert_eq!(parse("^(containers)").map(|a| a.kind), Some(AnchorKind::Existence));
        assert_eq!(parse("=(x)").map(|a| a.kind), Some(AnchorKind::Equality));
        assert_eq!(parse("X(hostPath)").map(|a| a.kind), Some(AnchorKind::Negation));
        assert_eq!(parse("<(a)").map(|a| a.kind), Some(AnchorKind::Global));
        assert_eq!(parse("+(a)").map(|a| a.kind), Some(AnchorKind::AddIfNotPresent));
        assert_eq!(parse("image"), None);
        assert_eq!(parse("()"), None);
        assert_eq!(parse("Xy"), None);
    }
}
