//! Loading a chart: its metadata, default values, templates, other files and
//! sub-charts (directories or `.tgz` archives under `charts/`), from a
//! directory or an archive.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sealbox_render::engine::Value;

use super::ChartError;
use super::helmignore::Rules;
use super::values::{parse_values, to_value};
use crate::yaml::{self, Node};

/// A loaded chart and its sub-charts.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `name` from `Chart.yaml` (or the dependency's alias).
    pub name: String,
    /// Where it came from, for messages: a path under the input root, with
    /// `!/` separating an archive from a path inside it.
    pub source: String,
    /// `.Chart` as templates see it (`Name`, `Version`, `AppVersion`…).
    pub metadata: Value,
    /// The chart's own `values.yaml`.
    pub values: Value,
    /// Files under `templates/`, by path relative to the chart root.
    pub templates: Vec<ChartFile>,
    /// The other files (for `.Files`), by path relative to the chart root.
    pub files: Vec<ChartFile>,
    /// `dependencies` of `Chart.yaml` (or `requirements.yaml`).
    pub dependencies: Vec<Dependency>,
    /// Sub-charts found under `charts/`.
    pub subcharts: Vec<Chart>,
    /// `values.schema.json`, when the chart has one.
    pub schema: Option<Vec<u8>>,
}

impl Chart {
    /// Whether `Chart.yaml` says `type: library`.
    pub fn is_library(&self) -> bool {
        match &self.metadata {
            Value::Map(m) => m.get("Type").and_then(Value::as_str) == Some("library"),
            _ => false,
        }
    }
}

/// One file of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Path relative to the chart root, `/`-separated.
    pub name: String,
    /// The contents.
    pub data: Vec<u8>,
}

/// A declared dependency: which sub-chart, under which name, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependency {
    /// The sub-chart's `name`.
    pub name: String,
    /// The name it is used under, when aliased.
    pub alias: Option<String>,
    /// Comma-separated value paths; the first that is a boolean decides.
    pub condition: Option<String>,
    /// Tags; the sub-chart is off when every tag it has is false.
    pub tags: Vec<String>,
    /// `import-values`, as (path in the sub-chart's values, path in the
    /// parent's; empty for its root): `- data` is `exports.data` into the
    /// root, `- {child: a, parent: b}` is `a` into `b`.
    pub import_values: Vec<(String, String)>,
}

/// Loads the chart in directory `dir`; `source` names it in messages.
pub fn load_dir(dir: &Path, source: &str) -> Result<Chart, ChartError> {
    let mut files = Vec::new();
    read_tree(dir, "", &mut files, source)?;
    // helm applies the top chart's `.helmignore` to the whole directory
    // tree, sub-chart directories included; archives were filtered when packed.
    if let Some(ignore) = files.iter().find(|f| f.name == ".helmignore") {
        let rules = Rules::parse(text(ignore, source)?).map_err(|(line, message)| ChartError {
            file: Some(format!("{source}/.helmignore")),
            line: (line > 0).then_some(line),
            message,
        })?;
        files.retain(|f| !rules.ignores_file(&f.name));
    }
    from_files(files, source)
}

/// Loads a chart from a gzip-compressed tar archive, whose entries sit
/// under one top directory (`name/Chart.yaml`).
pub fn load_archive(bytes: &[u8], source: &str) -> Result<Chart, ChartError> {
    let err = |message: String| ChartError { file: Some(source.to_string()), line: None, message };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = Vec::new();
    let entries = archive.entries().map_err(|e| err(format!("cannot read chart archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| err(format!("cannot read chart archive: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(|e| err(format!("bad path in chart archive: {e}")))?;
        let path = path.to_string_lossy().replace('\\', "/");
        let Some((_, inner)) = path.split_once('/') else { continue };
        if inner.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(err(format!("chart archive entry {path:?} escapes the chart")));
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| err(format!("cannot read {path} in chart archive: {e}")))?;
        files.push(ChartFile { name: inner.to_string(), data });
    }
    from_files(files, &format!("{source}!"))
}

fn read_tree(dir: &Path, prefix: &str, out: &mut Vec<ChartFile>, source: &str) -> Result<(), ChartError> {
    let err = |message: String| ChartError { file: Some(format!("{source}/{prefix}")), line: None, message };
    let read = std::fs::read_dir(dir).map_err(|e| err(format!("cannot list chart directory: {e}")))?;
    let mut entries: Vec<_> = read.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
        let rel = format!("{prefix}{name}");
        if meta.is_dir() {
            read_tree(&entry.path(), &format!("{rel}/"), out, source)?;
        } else if meta.is_file() {
            let data = std::fs::read(entry.path()).map_err(|e| err(format!("cannot read {rel}: {e}")))?;
            out.push(ChartFile { name: rel, data });
        }
    }
    Ok(())
}

fn text<'a>(file: &'a ChartFile, source: &str) -> Result<&'a str, ChartError> {
    std::str::from_utf8(&file.data).map_err(|_| ChartError {
        file: Some(format!("{source}/{}", file.name)),
        line: None,
        message: "not UTF-8 text".into(),
    })
}

fn yaml_doc(file: &ChartFile, source: &str) -> Result<Option<Node>, ChartError> {
    let docs = yaml::load(text(file, source)?).map_err(|e| ChartError {
        file: Some(format!("{source}/{}", file.name)),
        line: Some(e.line),
        message: format!("invalid YAML: {}", e.message),
    })?;
    Ok(docs.into_iter().next().map(|d| d.root))
}

/// Builds a chart from its files (paths relative to the chart root).
fn from_files(files: Vec<ChartFile>, source: &str) -> Result<Chart, ChartError> {
    let find = |name: &str| files.iter().find(|f| f.name == name);
    let chart_yaml = find("Chart.yaml").ok_or_else(|| ChartError {
        file: Some(source.to_string()),
        line: None,
        message: "no Chart.yaml".into(),
    })?;
    let meta_node = yaml_doc(chart_yaml, source)?.unwrap_or(Node::new(1, 1, yaml::NodeValue::Map(Vec::new())));
    let name = meta_node.get("name").and_then(Node::text).unwrap_or("").to_string();
    if name.is_empty() {
        return Err(ChartError {
            file: Some(format!("{source}/Chart.yaml")),
            line: None,
            message: "chart has no name".into(),
        });
    }
    let mut dependencies = dependencies_of(&meta_node);
    if let Some(req) = find("requirements.yaml")
        && let Some(node) = yaml_doc(req, source)?
    {
        dependencies.extend(dependencies_of(&node));
    }
    let values = match find("values.yaml") {
        Some(f) => parse_values(text(f, source)?).map_err(|e| ChartError {
            file: Some(format!("{source}/values.yaml")),
            line: Some(e.line),
            message: format!("invalid YAML: {}", e.message),
        })?,
        None => Value::map(BTreeMap::new()),
    };

    let mut templates = Vec::new();
    let mut other = Vec::new();
    let mut sub_dirs: BTreeMap<String, Vec<ChartFile>> = BTreeMap::new();
    let mut sub_archives = Vec::new();
    let mut schema = None;
    for file in files {
        if file.name == "values.schema.json" {
            schema = Some(file.data);
        } else if file.name.starts_with("templates/") {
            templates.push(file);
        } else if let Some(rest) = file.name.strip_prefix("charts/") {
            match rest.split_once('/') {
                Some((dir, inner)) => sub_dirs
                    .entry(dir.to_string())
                    .or_default()
                    .push(ChartFile { name: inner.to_string(), data: file.data }),
                None if rest.ends_with(".tgz") => sub_archives.push(file),
                None => {}
            }
        } else if !matches!(
            file.name.as_str(),
            "Chart.yaml"
                | "Chart.lock"
                | "values.yaml"
                | "values.schema.json"
                | "requirements.yaml"
                | "requirements.lock"
        ) {
            // Helm keeps these out of `.Files`.
            other.push(file);
        }
    }
    let mut subcharts = Vec::new();
    for (dir, files) in sub_dirs {
        if files.iter().any(|f| f.name == "Chart.yaml") {
            subcharts.push(from_files(files, &format!("{source}/charts/{dir}"))?);
        }
    }
    for archive in sub_archives {
        subcharts.push(load_archive(&archive.data, &format!("{source}/{}", archive.name))?);
    }
    Ok(Chart {
        metadata: metadata_value(&meta_node),
        name,
        source: source.to_string(),
        values,
        templates,
        files: other,
        dependencies,
        subcharts,
        schema,
    })
}

fn dependencies_of(node: &Node) -> Vec<Dependency> {
    let Some(Node { value: yaml::NodeValue::Seq(items), .. }) = node.get("dependencies") else { return Vec::new() };
    items
        .iter()
        .filter_map(|d| {
            let name = d.get("name").and_then(Node::text)?.to_string();
            let tags = match d.get("tags").map(|t| &t.value) {
                Some(yaml::NodeValue::Seq(ts)) => ts.iter().filter_map(|t| t.text().map(str::to_string)).collect(),
                _ => Vec::new(),
            };
            let import_values = match d.get("import-values").map(|t| &t.value) {
                Some(yaml::NodeValue::Seq(items)) => items
                    .iter()
                    .filter_map(|i| match &i.value {
                        yaml::NodeValue::Map(_) => Some((
                            i.get("child").and_then(Node::text)?.to_string(),
                            i.get("parent").and_then(Node::text)?.to_string(),
                        )),
                        _ => Some((format!("exports.{}", i.text()?), String::new())),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some(Dependency {
                name,
                alias: d.get("alias").and_then(Node::text).map(str::to_string),
                condition: d.get("condition").and_then(Node::text).map(str::to_string),
                tags,
                import_values,
            })
        })
        .collect()
}

/// `.Chart`: Chart.yaml's keys under the Go field names Helm exposes.
fn metadata_value(node: &Node) -> Value {
    const FIELDS: [(&str, &str); 16] = [
        ("name", "Name"),
        ("home", "Home"),
        ("sources", "Sources"),
        ("version", "Version"),
        ("description", "Description"),
        ("keywords", "Keywords"),
        ("maintainers", "Maintainers"),
        ("icon", "Icon"),
        ("apiVersion", "APIVersion"),
        ("condition", "Condition"),
        ("tags", "Tags"),
        ("appVersion", "AppVersion"),
        ("deprecated", "Deprecated"),
        ("annotations", "Annotations"),
        ("kubeVersion", "KubeVersion"),
        ("type", "Type"),
    ];
    let mut map = BTreeMap::new();
    for (key, field) in FIELDS {
        let v = match node.get(key) {
            // Versions are strings in Chart.yaml even when they look like numbers.
            Some(n) => match &n.value {
                yaml::NodeValue::Scalar(_) if key != "deprecated" => {
                    Value::String(n.text().unwrap_or_default().to_string())
                }
                _ => to_value(n),
            },
            None if matches!(key, "deprecated") => Value::Bool(false),
            None => Value::String(String::new()),
        };
        map.insert(field.to_string(), v);
    }
    map.insert("IsRoot".into(), Value::Bool(false));
    Value::map(map)
}
