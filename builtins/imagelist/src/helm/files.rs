//! `.Files` helpers: glob matching and the ConfigMap/Secret renderings Helm
//! offers (`AsConfig`, `AsSecrets`).

use std::collections::BTreeMap;

use base64::Engine;
use sealbox_formats::glob::{Pattern, Syntax};
use sealbox_render::engine::{Value, to_yaml};

/// Whether `path` matches `pattern` the way Helm's `Files.Glob` does: `*` and
/// `?` stay within one path segment, `**` crosses segments; a malformed
/// pattern matches nothing.
pub fn glob(pattern: &str, path: &str) -> bool {
    Pattern::new(pattern, Syntax::Helm).is_ok_and(|p| p.matches(path))
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
    fn renders_config_and_secrets() {
        let files = BTreeMap::from([("conf/a.txt".to_string(), Value::String("hi".into()))]);
        assert_eq!(as_config(&files), "a.txt: hi");
        assert_eq!(as_secrets(&files), "a.txt: aGk=");
    }
}
