//! What `helm template`'s flags choose: the release name and namespace, the
//! Kubernetes version `.Capabilities` reports, and the user's values
//! (`-f` files merged in order, then `--set` assignments over them).

use std::collections::BTreeMap;
use std::path::Path;

use sealbox_render::engine::Value;

use super::values::{coalesce, parse_values};
use crate::config::ChartRelease;

/// How to render a chart, as `helm template [flags]` would.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// `.Release.Name`.
    pub name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Capabilities.KubeVersion.Version`, `v`-prefixed.
    pub kube_version: String,
    /// The user's values, over the chart's defaults.
    pub values: Value,
}

impl Release {
    /// `helm template`'s defaults for a release named `name`.
    pub fn named(name: &str) -> Release {
        Release {
            name: name.to_string(),
            namespace: "default".into(),
            kube_version: super::render::KUBE_VERSION.into(),
            values: Value::map(BTreeMap::new()),
        }
    }

    /// Sets the Kubernetes version from `--kube-version` (`1.28`, `v1.28.3`);
    /// helm fills a missing patch with 0.
    pub fn with_kube_version(mut self, version: &str) -> Result<Release, String> {
        let v = version.trim().trim_start_matches('v');
        let parts: Vec<&str> = v.split('.').collect();
        if parts.len() < 2
            || parts.len() > 3
            || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("invalid kube version {version:?}: expected MAJOR.MINOR[.PATCH]"));
        }
        self.kube_version = format!("v{}.{}.{}", parts[0], parts[1], parts.get(2).unwrap_or(&"0"));
        Ok(self)
    }

    /// Merges a values file (`-f`) over the values so far; `file` names it
    /// in errors.
    pub fn add_values_file(&mut self, file: &str, text: &str) -> Result<(), String> {
        let v = parse_values(text).map_err(|e| format!("{file}:{}: invalid YAML: {}", e.line, e.message))?;
        if !matches!(v, Value::Map(_) | Value::Null) {
            return Err(format!("{file}: values must be a map"));
        }
        self.values = merge_user(&v, &self.values);
        Ok(())
    }

    /// Applies one `--set` argument (`a.b=1,c[0]=x,d={p,q}`).
    pub fn add_set(&mut self, arg: &str) -> Result<(), String> {
        self.assign("--set", arg, typed)
    }

    /// Applies one `--set-string` argument: like `--set`, every value a string.
    pub fn add_set_string(&mut self, arg: &str) -> Result<(), String> {
        self.assign("--set-string", arg, as_string)
    }

    /// Applies `--set-file KEY=…` given the file's text: the value is the text.
    pub fn add_set_file(&mut self, key: &str, text: &str) -> Result<(), String> {
        self.values = set_path(&self.values, &parse_key(key)?, Value::String(text.to_string()))?;
        Ok(())
    }

    /// Applies one `--set-json` argument (`a.b={"x":[1]},c=2`): each value is
    /// one JSON value, numbers float64 as Go's decoder gives them.
    pub fn add_set_json(&mut self, arg: &str) -> Result<(), String> {
        let mut rest = arg;
        while !rest.is_empty() {
            let (key, after) =
                rest.split_once('=').ok_or_else(|| format!("--set-json {arg:?}: key {rest:?} has no value"))?;
            let mut stream = serde_json::Deserializer::from_str(after).into_iter::<serde_json::Value>();
            let value = match stream.next() {
                Some(Ok(v)) => v,
                Some(Err(e)) => return Err(format!("--set-json {arg:?}: value of {key:?} is not JSON: {e}")),
                None => return Err(format!("--set-json {arg:?}: key {key:?} has no value")),
            };
            let used = stream.byte_offset();
            self.values = set_path(&self.values, &parse_key(key)?, json_value(&value))?;
            rest = after[used..].trim_start();
            if !rest.is_empty() {
                rest = rest
                    .strip_prefix(',')
                    .ok_or_else(|| format!("--set-json {arg:?}: expected `,` after {key:?}'s value"))?;
            }
        }
        Ok(())
    }

    /// `key=value` assignments separated by unescaped commas, each value typed by `typing`.
    fn assign(&mut self, flag: &str, arg: &str, typing: fn(&str) -> Value) -> Result<(), String> {
        for assignment in split_unescaped(arg, ',') {
            if assignment.is_empty() {
                continue;
            }
            let (key, value) =
                assignment.split_once('=').ok_or_else(|| format!("{flag} {arg:?}: key {assignment:?} has no value"))?;
            self.values = set_path(&self.values, &parse_key(key)?, typing(value))?;
        }
        Ok(())
    }
}

/// A JSON value as helm holds it after `json.Decode`: every number a float64.
fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::Array(a) => Value::list(a.iter().map(json_value).collect()),
        serde_json::Value::Object(o) => Value::map(o.iter().map(|(k, v)| (k.clone(), json_value(v))).collect()),
        other => Value::from(other),
    }
}

/// The largest values file read.
const MAX_VALUES_FILE: u64 = 16 << 20;

/// The release a [`ChartRelease`] describes, its values files read from
/// under `root`; `default_name` is the release name when it gives none.
pub fn from_config(root: &Path, config: &ChartRelease, default_name: &str) -> Result<Release, String> {
    let mut release = Release::named(config.release_name.as_deref().unwrap_or(default_name));
    if let Some(ns) = &config.namespace {
        release.namespace = ns.clone();
    }
    if let Some(v) = &config.kube_version {
        release = release.with_kube_version(v)?;
    }
    for file in &config.values_files {
        let text = read_values_file(root, file)?;
        release.add_values_file(file, &text)?;
    }
    for (file, text) in &config.values {
        release.add_values_file(file, text)?;
    }
    for set in &config.set_json {
        release.add_set_json(set)?;
    }
    for set in &config.set {
        release.add_set(set)?;
    }
    for set in &config.set_string {
        release.add_set_string(set)?;
    }
    for set in &config.set_file {
        let (key, file) = set.split_once('=').ok_or_else(|| format!("--set-file {set:?}: no `=`"))?;
        let text = read_values_file(root, file)?;
        release.add_set_file(key, &text)?;
    }
    for (key, text) in &config.set_file_values {
        release.add_set_file(key, text)?;
    }
    Ok(release)
}

/// Reads a values file under `root` without following links out of it:
/// `file` must be a plain relative path to a regular file.
fn read_values_file(root: &Path, file: &str) -> Result<String, String> {
    if file.split('/').any(|c| c.is_empty() || c == "." || c == "..") || file.starts_with('/') {
        return Err(format!("values file {file:?}: not a plain relative path"));
    }
    let mut path = root.to_path_buf();
    for part in file.split('/') {
        path.push(part);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("values file {file}: {e}"))?;
        if meta.file_type().is_symlink() {
            return Err(format!("values file {file}: {} is a symbolic link", path.display()));
        }
        if meta.is_file() && meta.len() > MAX_VALUES_FILE {
            return Err(format!("values file {file}: larger than {MAX_VALUES_FILE} bytes"));
        }
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("values file {file}: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("values file {file}: not UTF-8 text"))
}

/// Values given by the user merge like helm's `mergeMaps`: maps deeply, a
/// later value replaces, and a null stays null (it deletes the default).
fn merge_user(over: &Value, base: &Value) -> Value {
    match (over, base) {
        (Value::Map(o), Value::Map(b)) => {
            let mut out = (**b).clone();
            for (k, v) in o.iter() {
                let merged = match out.get(k) {
                    Some(existing @ Value::Map(_)) if matches!(v, Value::Map(_)) => merge_user(v, existing),
                    _ => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::map(out)
        }
        (Value::Null, b) => b.clone(),
        (o, _) => o.clone(),
    }
}

/// The user's values over a chart's defaults, as helm coalesces them.
pub fn over_defaults(user: &Value, defaults: &Value) -> Value {
    coalesce(user, defaults)
}

/// Splits on `sep` where it is not escaped by `\` (and not inside `{…}`).
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut escaped, mut depth) = (false, 0usize);
    for c in s.chars() {
        let cur = out.last_mut().expect("never empty");
        if escaped {
            if c != sep {
                cur.push('\\');
            }
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '{' {
            depth += 1;
            cur.push(c);
        } else if c == '}' {
            depth = depth.saturating_sub(1);
            cur.push(c);
        } else if c == sep && depth == 0 {
            out.push(String::new());
        } else {
            cur.push(c);
        }
    }
    out
}

/// A key segment: a map key, or a list index (`name[2]`).
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The largest list index `--set` may create (helm's own limit is 65536).
const MAX_INDEX: usize = 65_536;

fn parse_key(key: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    for part in split_unescaped(key, '.') {
        let part = part.replace("\\.", ".");
        let (name, mut rest) = match part.find('[') {
            Some(i) => (part[..i].to_string(), &part[i..]),
            None => (part.clone(), ""),
        };
        if name.is_empty() && segs.is_empty() {
            return Err(format!("--set: key {key:?} has an empty segment"));
        }
        if !name.is_empty() {
            segs.push(Seg::Key(name));
        }
        while let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| format!("--set: key {key:?} has an unclosed ["))?;
            let i: usize = after[..end].parse().map_err(|_| format!("--set: key {key:?} has a bad index"))?;
            if i > MAX_INDEX {
                return Err(format!("--set: index {i} in {key:?} is above {MAX_INDEX}"));
            }
            segs.push(Seg::Index(i));
            rest = &after[end + 1..];
        }
    }
    Ok(segs)
}

/// helm's `--set-string` typing: `{a,b}` lists of strings, else a string.
fn as_string(v: &str) -> Value {
    if let Some(inner) = v.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        return Value::list(
            split_unescaped(inner, ',').iter().filter(|s| !s.is_empty()).map(|s| as_string(s)).collect(),
        );
    }
    Value::String(v.to_string())
}

/// helm's `--set` typing: `true`/`false`, `null`, integers, `{a,b}` lists,
/// else a string.
fn typed(v: &str) -> Value {
    if let Some(inner) = v.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        return Value::list(split_unescaped(inner, ',').iter().filter(|s| !s.is_empty()).map(|s| typed(s)).collect());
    }
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ if v.len() > 1 && v.starts_with('0') => Value::String(v.to_string()),
        _ => v.parse::<i64>().map(Value::Int).unwrap_or_else(|_| Value::String(v.to_string())),
    }
}

fn set_path(cur: &Value, path: &[Seg], value: Value) -> Result<Value, String> {
    let Some((first, rest)) = path.split_first() else { return Ok(value) };
    match first {
        Seg::Key(k) => {
            let mut m = match cur {
                Value::Map(m) => (**m).clone(),
                _ => BTreeMap::new(),
            };
            let child = m.get(k).cloned().unwrap_or_default();
            m.insert(k.clone(), set_path(&child, rest, value)?);
            Ok(Value::map(m))
        }
        Seg::Index(i) => {
            let mut l = match cur {
                Value::List(l) => (**l).clone(),
                _ => Vec::new(),
            };
            if l.len() <= *i {
                l.resize(*i + 1, Value::Null);
            }
            l[*i] = set_path(&l[*i], rest, value)?;
            Ok(Value::list(l))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helm::values::lookup_path;

    #[test]
    fn set_parses_like_helm() {
        let mut r = Release::named("r");
        r.add_set("image.tag=1.2,replicas=3,on=true,list={a,b},x[1].y=z,dotted\\.key=v").expect("valid");
        let v = &r.values;
        assert_eq!(lookup_path(v, "image.tag"), Some(&Value::String("1.2".into())));
        assert_eq!(lookup_path(v, "replicas"), Some(&Value::Int(3)));
        assert_eq!(lookup_path(v, "on"), Some(&Value::Bool(true)));
        assert_eq!(
            lookup_path(v, "list"),
            Some(&Value::list(vec![Value::String("a".into()), Value::String("b".into())]))
        );
        let Some(Value::Map(m)) = Some(v) else { panic!("map") };
        assert!(m.contains_key("dotted.key"));
        let Some(Value::List(x)) = m.get("x") else { panic!("list") };
        assert_eq!(x.len(), 2);
        assert!(r.add_set("a[99999999]=1").is_err());
        assert!(r.add_set("novalue").is_err());
    }

    #[test]
    fn set_string_json_and_file_type_values_like_helm() {
        let mut r = Release::named("r");
        r.add_set_json(r#"a.b={"x":[1,"y"]},c=2"#).expect("valid");
        r.add_set_string("n=10,t=true,l={1,2}").expect("valid");
        r.add_set_file("cfg.text", "line\n").expect("valid");
        let v = &r.values;
        assert_eq!(lookup_path(v, "a.b.x"), Some(&Value::list(vec![Value::Float(1.0), Value::String("y".into())])));
        assert_eq!(lookup_path(v, "c"), Some(&Value::Float(2.0)));
        assert_eq!(lookup_path(v, "n"), Some(&Value::String("10".into())));
        assert_eq!(lookup_path(v, "t"), Some(&Value::String("true".into())));
        assert_eq!(lookup_path(v, "l"), Some(&Value::list(vec![Value::String("1".into()), Value::String("2".into())])));
        assert_eq!(lookup_path(v, "cfg.text"), Some(&Value::String("line\n".into())));
        assert!(r.add_set_json("a={bad").is_err());
        assert!(r.add_set_json("a=1 b=2").is_err());
    }

    #[test]
    fn values_files_merge_in_order_and_kube_versions_normalise() {
        let mut r = Release::named("r").with_kube_version("1.28").expect("valid");
        assert_eq!(r.kube_version, "v1.28.0");
        r.add_values_file("a.yaml", "image: {repo: a, tag: '1'}\n").expect("valid");
        r.add_values_file("b.yaml", "image: {tag: '2'}\n").expect("valid");
        assert_eq!(lookup_path(&r.values, "image.repo"), Some(&Value::String("a".into())));
        assert_eq!(lookup_path(&r.values, "image.tag"), Some(&Value::String("2".into())));
        assert!(r.add_values_file("c.yaml", "- a\n").is_err());
        assert!(Release::named("r").with_kube_version("one").is_err());
    }
}
