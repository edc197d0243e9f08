//! `.Files` helpers: glob matching and the ConfigMap/Secret renderings Helm
//! offers (`AsConfig`, `AsSecrets`).

use std::collections::BTreeMap;

use base64::Engine;
use sealbox_render::engine::{Value, to_yaml};

/// Whether `path` matches `pattern` the way Helm's `Files.Glob` does: `*` and
/// `?` stay within one path segment, `**` crosses segments.
pub fn glob(pattern: &str, path: &str) -> bool {
    matches(pattern.as_bytes(), path.as_bytes())
}

fn matches(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) if rest.first() == Some(&b'*') => {
            let rest = &rest[1..];
            (0..=s.len()).any(|i| matches(rest, &s[i..]))
        }
        Some((b'*', rest)) => {
            let mut i = 0;
            loop {
                if matches(rest, &s[i..]) {
                    return true;
                }
                if i == s.len() || s[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some((b'?', rest)) => s.first().is_some_and(|c| *c != b'/') && matches(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && matches(rest, &s[1..]),
    }
}

fn by_base_name(files: &BTreeMap<String, Value>, f: impl Fn(&str) -> String) -> Value {
    let mut out = BTreeMap::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        out.insert(base.to_string(), Value::String(f(content.as_str().unwrap_or(""))));
    }
    Value::map(out)
}

/// The files as ConfigMap `data` YAML, keyed by base name.
pub fn as_config(files: &BTreeMap<String, Value>) -> String {
    if files.is_empty() {
        return String::new();
    }
    to_yaml(&by_base_name(files, str::to_string)).trim_end().to_string()
}

/// The files as Secret `data` YAML, base64-encoded, keyed by base name.
pub fn as_secrets(files: &BTreeMap<String, Value>) -> String {
    if files.is_empty() {
        return String::new();
    }
    to_yaml(&by_base_name(files, |s| base64::engine::general_purpose::STANDARD.encode(s))).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_helm() {
        assert!(glob("files/*.conf", "files/a.conf"));
        assert!(!glob("files/*.conf", "files/sub/a.conf"));
        assert!(glob("files/**.conf", "files/sub/a.conf"));
        assert!(glob("files/?.txt", "files/a.txt"));
        assert!(!glob("files/?.txt", "files/ab.txt"));
    }

    #[test]
    fn renders_config_and_secrets() {
        let files = BTreeMap::from([("conf/a.txt".to_string(), Value::String("hi".into()))]);
        assert_eq!(as_config(&files), "a.txt: hi");
        assert_eq!(as_secrets(&files), "a.txt: aGk=");
    }
}
