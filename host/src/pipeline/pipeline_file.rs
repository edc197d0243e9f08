//! The pipeline file (`sealbox.yaml` beside the Kubefile, or
//! `--pipeline FILE`): third-party steps, where in the build they run, the
//! module each runs (pinned), its config and its grants.
//!
//! ```yaml
//! apiVersion: sealbox.io/v1
//! kind: Pipeline
//! steps:
//!   - name: require-limits
//!     stage: after-render          # after-copy | after-render | before-pack
//!     module: modules/require-limits.wasm   # or builtin:NAME
//!     digest: sha256:<hex>
//!     kind: policy                 # policy | transform
//!     config: {}
//!     grants: {tree: manifests, env: {TEAM: platform}, timeout: 30s, memoryMib: 256, documents: true}
//!     # env: "*" grants every --env value (needs --allow-module-env-all)
//!     failureAction: Enforce       # policy only: Enforce | Audit
//! ```
//!
//! Every mistake is reported as `FILE:LINE: cause`, at the line of the
//! offending value, before anything runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sealbox_guest::ModuleKind;
use sealbox_guest::yaml::{self, Node, NodeValue};

/// The file name looked for beside the Kubefile.
pub const PIPELINE_FILE: &str = "sealbox.yaml";

const API_VERSION: &str = "sealbox.io/v1";
const KIND: &str = "Pipeline";

/// The keys a pipeline file, one of its steps and a step's grants may
/// hold; `guest-sdk/schema/pipeline.schema.json` lists the same (a test
/// holds them together).
const ROOT_KEYS: &[&str] = &["apiVersion", "kind", "steps"];
const STEP_KEYS: &[&str] = &["name", "stage", "module", "digest", "kind", "config", "grants", "failureAction"];
const GRANT_KEYS: &[&str] = &["tree", "env", "timeout", "memoryMib", "documents"];

/// A pipeline file that could not be read or is not valid: `FILE:LINE: cause`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct Error {
    pub file: String,
    pub line: u32,
    pub message: String,
}

/// A parsed, checked pipeline file.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The file, as named in messages.
    pub file: String,
    /// The directory module paths are relative to.
    pub dir: PathBuf,
    pub steps: Vec<PipelineStep>,
}

/// Where in the build a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Over the rootfs as the Kubefile staged it, before rendering.
    AfterCopy,
    /// After templates are rendered and images listed (with the Kyverno policies).
    AfterRender,
    /// After every transform, just before the layers are packed.
    BeforePack,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::AfterCopy => "after-copy",
            Stage::AfterRender => "after-render",
            Stage::BeforePack => "before-pack",
        }
    }
}

/// Which module a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleRef {
    /// A `.wasm` file, relative to the pipeline file's directory.
    File(String),
    /// A module built into sealbox (`builtin:NAME`).
    Builtin(String),
    /// A module artifact in a registry (`oci://REGISTRY/REPO[:TAG]`),
    /// fetched by its pin (see `sealbox module push`).
    Oci(String),
}

impl ModuleRef {
    /// The name the lock records the module under: the path as written,
    /// or the `oci://` reference; builtins are part of sealbox, not locked.
    pub fn lock_name(&self) -> Option<String> {
        match self {
            ModuleRef::File(p) => Some(p.clone()),
            ModuleRef::Oci(_) => Some(self.to_string()),
            ModuleRef::Builtin(_) => None,
        }
    }
}

impl std::fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleRef::File(p) => f.write_str(p),
            ModuleRef::Builtin(n) => write!(f, "builtin:{n}"),
            ModuleRef::Oci(r) => write!(f, "oci://{r}"),
        }
    }
}

/// What a failing policy step does to the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FailureAction {
    /// An error finding fails the build.
    Enforce,
    /// Findings are reported as warnings; the build goes on.
    Audit,
}

/// What a step grants its module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepGrants {
    /// The sub-path of the image rootfs the module sees as `/in` (`.` for
    /// the whole rootfs); a transform's `/out` maps to the same sub-path.
    pub tree: String,
    /// The env values the module may see. The name `*` (from `env: "*"`)
    /// stands for every `--env` value of the operator.
    pub env: BTreeMap<String, String>,
    /// Wall time; the sandbox default when `None`.
    pub timeout: Option<Duration>,
    /// Memory in MiB; the sandbox default when `None`.
    pub memory_mib: Option<u64>,
    /// Whether the module gets the documents view of its tree, read-only
    /// at `/documents` (`documents: true`; see `pipeline::documents`).
    pub documents: bool,
}

impl StepGrants {
    /// The grants of a step that names none: the whole tree, nothing else.
    pub fn none() -> StepGrants {
        StepGrants { tree: ".".into(), env: BTreeMap::new(), timeout: None, memory_mib: None, documents: false }
    }
}

/// One step of the pipeline file.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineStep {
    pub name: String,
    /// The line the step starts on, for messages.
    pub line: u32,
    pub stage: Stage,
    pub module: ModuleRef,
    /// `sha256:<hex>`; required for a file module.
    pub digest: Option<String>,
    /// `Policy` or `Transform`.
    pub kind: ModuleKind,
    pub config: serde_json::Value,
    pub grants: StepGrants,
    pub failure_action: FailureAction,
}

impl Pipeline {
    /// The steps of `stage`, in file order.
    pub fn at(&self, stage: Stage) -> impl Iterator<Item = &PipelineStep> {
        self.steps.iter().filter(move |s| s.stage == stage)
    }

    /// Reads and checks the pipeline file at `path`.
    pub fn read(path: &Path) -> Result<Pipeline, Error> {
        let file = path.display().to_string();
        let cannot_read =
            |e: &dyn std::fmt::Display| Error { file: file.clone(), line: 0, message: format!("cannot read it: {e}") };
        let bytes = super::small_file::read(path).map_err(|e| cannot_read(&e))?;
        let text = String::from_utf8(bytes).map_err(|e| cannot_read(&e))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        parse(&file, &dir, &text)
    }

    /// The pipeline file of a build: `explicit` when given, else
    /// `sealbox.yaml` beside the Kubefile when there is one.
    pub fn find(explicit: Option<&Path>, kubefile: &Path) -> Result<Option<Pipeline>, Error> {
        if let Some(path) = explicit {
            return Pipeline::read(path).map(Some);
        }
        let beside = kubefile.parent().unwrap_or(Path::new(".")).join(PIPELINE_FILE);
        if beside.is_file() { Pipeline::read(&beside).map(Some) } else { Ok(None) }
    }
}

/// Parses the text of a pipeline file named `file` whose modules are
/// relative to `dir`.
pub fn parse(file: &str, dir: &Path, text: &str) -> Result<Pipeline, Error> {
    let err = |line: u32, message: String| Error { file: file.to_string(), line, message };
    let docs = yaml::load(text).map_err(|e| err(e.line, format!("not valid YAML: {}", e.message)))?;
    let root = match docs.as_slice() {
        [doc] => &doc.root,
        [] => return Err(err(1, "empty: a pipeline file holds one `kind: Pipeline` document".into())),
        [_, second, ..] => return Err(err(second.root.line, "a pipeline file holds exactly one document".into())),
    };
    let at = |node: &Node, message: String| err(node.line, message);
    let entries = mapping(root, "the pipeline file").map_err(|m| at(root, m))?;
    check_keys(entries, ROOT_KEYS).map_err(|(n, m)| at(n, m))?;
    match root.get("apiVersion") {
        Some(v) if v.as_str() == Some(API_VERSION) => {}
        Some(v) => return Err(at(v, format!("apiVersion must be {API_VERSION}, not {}", shown(v)))),
        None => return Err(at(root, format!("missing apiVersion: {API_VERSION}"))),
    }
    match root.get("kind") {
        Some(v) if v.as_str() == Some(KIND) => {}
        Some(v) => return Err(at(v, format!("kind must be {KIND}, not {}", shown(v)))),
        None => return Err(at(root, format!("missing kind: {KIND}"))),
    }
    let mut steps = Vec::new();
    let mut names = BTreeSet::new();
    if let Some(list) = root.get("steps") {
        let items = match &list.value {
            NodeValue::Seq(items) => items.as_slice(),
            NodeValue::Scalar(serde_json::Value::Null) => &[],
            _ => return Err(at(list, format!("steps must be a list, not {}", list.kind()))),
        };
        for item in items {
            let step = parse_step(item).map_err(|(n, m)| at(n, m))?;
            if !names.insert(step.name.clone()) {
                let name_node = item.get("name").unwrap_or(item);
                return Err(at(name_node, format!("step name {:?} is used twice; names must be unique", step.name)));
            }
            steps.push(step);
        }
    }
    Ok(Pipeline { file: file.to_string(), dir: dir.to_path_buf(), steps })
}

pub(crate) type Fail<'a> = (&'a Node, String);

fn parse_step(item: &Node) -> Result<PipelineStep, Fail<'_>> {
    let entries = mapping(item, "a step").map_err(|m| (item, m))?;
    check_keys(entries, STEP_KEYS)?;
    let name_node = required(item, "name")?;
    let name = string(name_node, "name")?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err((name_node, format!("step name {name:?} must be made of a-z, 0-9 and `-`")));
    }
    let in_step = |m: String| format!("step {name}: {m}");
    let stage_node = required(item, "stage").map_err(|(n, m)| (n, in_step(m)))?;
    let stage = match string(stage_node, "stage")?.as_str() {
        "after-copy" => Stage::AfterCopy,
        "after-render" => Stage::AfterRender,
        "before-pack" => Stage::BeforePack,
        other => {
            let m = format!("stage {other:?} is not one of after-copy, after-render, before-pack");
            return Err((stage_node, in_step(m)));
        }
    };
    let module_node = required(item, "module").map_err(|(n, m)| (n, in_step(m)))?;
    let module_text = string(module_node, "module")?;
    // `oci://REF@sha256:HEX` carries its pin; it must agree with `digest:`.
    let mut inline_pin = None;
    let module = match module_text.strip_prefix("builtin:") {
        _ if module_text.starts_with(crate::registry::module::SCHEME) => {
            let reference = &module_text[crate::registry::module::SCHEME.len()..];
            let (name, pin) = match reference.split_once("@sha256:") {
                Some((name, hex)) => (name, Some(format!("sha256:{hex}"))),
                None => (reference, None),
            };
            if let Err(e) = crate::registry::Reference::parse(name) {
                return Err((module_node, in_step(format!("module {module_text:?}: {e:#}"))));
            }
            inline_pin = pin;
            ModuleRef::Oci(name.to_string())
        }
        Some(b) if crate::builtins::get(b).is_some() => ModuleRef::Builtin(b.to_string()),
        Some(b) => {
            let known: Vec<&str> = crate::builtins::names().collect();
            let m = format!("there is no builtin module {b:?} (builtins: {})", known.join(", "));
            return Err((module_node, in_step(m)));
        }
        None => {
            let p = Path::new(&module_text);
            if module_text.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            {
                let m = format!(
                    "module {module_text:?} must be a path relative to the pipeline file's directory, \
                     without `..`, builtin:NAME or oci://REGISTRY/REPO[:TAG]"
                );
                return Err((module_node, in_step(m)));
            }
            ModuleRef::File(module_text)
        }
    };
    let digest = match (item.get("digest"), inline_pin) {
        (Some(d), Some(inline)) => {
            let text = string(d, "digest")?;
            if text != inline {
                let m = format!("digest {text:?} differs from the module's own pin {inline:?}");
                return Err((d, in_step(m)));
            }
            Some(text)
        }
        (None, Some(inline)) => {
            if !is_sha256_pin(&inline) {
                return Err((
                    module_node,
                    in_step(format!("pin {inline:?} must be sha256: and 64 lowercase hex digits")),
                ));
            }
            Some(inline)
        }
        (Some(d), None) => {
            let text = string(d, "digest")?;
            if !is_sha256_pin(&text) {
                return Err((d, in_step(format!("digest {text:?} must be sha256: and 64 lowercase hex digits"))));
            }
            Some(text)
        }
        (None, None) if matches!(module, ModuleRef::File(_) | ModuleRef::Oci(_)) => {
            let m = "a module file or artifact must be pinned: add `digest: sha256:<hex>` \
                     (`sealbox module inspect` or `sealbox module push` prints it)";
            return Err((module_node, in_step(m.into())));
        }
        (None, None) => None,
    };
    let kind_node = required(item, "kind").map_err(|(n, m)| (n, in_step(m)))?;
    let kind = match string(kind_node, "kind")?.as_str() {
        "policy" => ModuleKind::Policy,
        "transform" => ModuleKind::Transform,
        other => return Err((kind_node, in_step(format!("kind {other:?} is not one of policy, transform")))),
    };
    // An empty object by default, so a module can read its config into a
    // struct of optional fields without a special case.
    let config = item.get("config").map_or_else(|| serde_json::json!({}), Node::to_json);
    let grants = match item.get("grants") {
        Some(g) => parse_grants(g).map_err(|(n, m)| (n, in_step(m)))?,
        None => StepGrants::none(),
    };
    let failure_action = match item.get("failureAction") {
        None => FailureAction::Enforce,
        Some(n) if kind == ModuleKind::Transform => {
            return Err((n, in_step("failureAction applies to policy steps only".into())));
        }
        Some(n) => match string(n, "failureAction")?.as_str() {
            "Enforce" => FailureAction::Enforce,
            "Audit" => FailureAction::Audit,
            other => return Err((n, in_step(format!("failureAction {other:?} is not one of Enforce, Audit")))),
        },
    };
    Ok(PipelineStep { name, line: item.line, stage, module, digest, kind, config, grants, failure_action })
}

pub(crate) fn parse_grants(node: &Node) -> Result<StepGrants, Fail<'_>> {
    let entries = mapping(node, "grants").map_err(|m| (node, m))?;
    check_keys(entries, GRANT_KEYS)?;
    let tree = match node.get("tree") {
        Some(t) => {
            let text = string(t, "grants.tree")?;
            let p = Path::new(&text);
            let plain = p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if text.is_empty() || !plain {
                let m = format!("grants.tree {text:?} must be a path inside the image rootfs (no `..`, not absolute)");
                return Err((t, m));
            }
            let parts: Vec<&str> = text.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
            if parts.is_empty() { ".".to_string() } else { parts.join("/") }
        }
        None => ".".to_string(),
    };
    let mut env = BTreeMap::new();
    if let Some(e) = node.get("env") {
        // `env: "*"` grants every `--env` value of the operator, which
        // the operator must allow (see ceilings.rs); as a key, `*` too.
        if e.as_str() == Some("*") {
            env.insert("*".to_string(), String::new());
        }
        let pairs = if e.as_str() == Some("*") { &[] } else { mapping(e, "grants.env").map_err(|m| (e, m))? };
        for (k, v) in pairs {
            // A number or boolean is taken as written (`0755`, `yes`), not as YAML resolves it.
            let Some(value) = v.text().map(str::to_string) else {
                let name = k.text().map_or_else(|| k.key_string(), str::to_string);
                return Err((v, format!("grants.env.{name}: a value must be a string, not {}", v.kind())));
            };
            // Names too are taken as written: YAML 1.1 would read `N` or `ON` as a boolean.
            env.insert(k.text().map_or_else(|| k.key_string(), str::to_string), value);
        }
    }
    let timeout = match node.get("timeout") {
        Some(t) => {
            let text = match &t.value {
                NodeValue::Scalar(serde_json::Value::String(s)) => s.clone(),
                NodeValue::Scalar(serde_json::Value::Number(n)) => n.to_string(),
                _ => return Err((t, format!("grants.timeout must be a duration such as 30s, not {}", t.kind()))),
            };
            Some(crate::sandbox::parse_duration(&text).map_err(|m| (t, format!("grants.timeout: {m}")))?)
        }
        None => None,
    };
    let memory_mib = match node.get("memoryMib") {
        Some(m) => match m.to_json().as_u64() {
            Some(n) if (1..=64 * 1024).contains(&n) => Some(n),
            _ => return Err((m, "grants.memoryMib must be a whole number of MiB from 1 to 65536".into())),
        },
        None => None,
    };
    let documents = match node.get("documents") {
        Some(d) => match &d.value {
            NodeValue::Scalar(serde_json::Value::Bool(b)) => *b,
            _ => return Err((d, format!("grants.documents must be true or false, not {}", d.kind()))),
        },
        None => false,
    };
    Ok(StepGrants { tree, env, timeout, memory_mib, documents })
}

pub(crate) fn mapping<'a>(node: &'a Node, what: &str) -> Result<&'a [(Node, Node)], String> {
    match &node.value {
        NodeValue::Map(entries) => Ok(entries),
        _ => Err(format!("{what} must be a mapping, not {}", node.kind())),
    }
}

pub(crate) fn check_keys<'a>(entries: &'a [(Node, Node)], allowed: &[&str]) -> Result<(), Fail<'a>> {
    for (k, _) in entries {
        let key = k.key_string();
        if !allowed.contains(&key.as_str()) {
            return Err((k, format!("unknown field {key:?} (expected one of {})", allowed.join(", "))));
        }
    }
    Ok(())
}

pub(crate) fn required<'a>(node: &'a Node, key: &str) -> Result<&'a Node, Fail<'a>> {
    node.get(key).ok_or_else(|| (node, format!("missing field {key:?}")))
}

pub(crate) fn string<'a>(node: &'a Node, field: &str) -> Result<String, Fail<'a>> {
    node.as_str().map(str::to_string).ok_or_else(|| (node, format!("{field} must be a string, not {}", node.kind())))
}

fn shown(node: &Node) -> String {
    node.to_json().to_string()
}

/// Whether `text` is `sha256:` and 64 lowercase hex digits.
fn is_sha256_pin(text: &str) -> bool {
    let hex = text.strip_prefix("sha256:").unwrap_or("");
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
#[path = "pipeline_file_schema_tests.rs"]
mod schema_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parsed(text: &str) -> Result<Pipeline, Error> {
        parse("sealbox.yaml", Path::new("ctx"), text)
    }

    fn err(text: &str) -> String {
        parsed(text).unwrap_err().to_string()
    }

    #[test]
    fn the_agreed_format_parses_with_its_defaults() {
        let text = format!(
            "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: require-limits\n    stage: after-render\n    \
             module: modules/require-limits.wasm\n    digest: {DIGEST}\n    kind: policy\n    config: {{max: 3}}\n    \
             grants:\n      tree: manifests/\n      env: {{TEAM: platform, N: 1}}\n      timeout: 30s\n      \
             memoryMib: 256\n      documents: true\n    failureAction: Audit\n  - name: stamp\n    stage: before-pack\n    \
             module: builtin:render\n    kind: transform\n"
        );
        let p = parsed(&text).expect("valid");
        assert_eq!(p.steps.len(), 2);
        let s = &p.steps[0];
        assert_eq!(
            (s.name.as_str(), s.line, s.stage, s.kind),
            ("require-limits", 4, Stage::AfterRender, ModuleKind::Policy)
        );
        assert_eq!(s.module, ModuleRef::File("modules/require-limits.wasm".into()));
        assert_eq!(s.config, serde_json::json!({"max": 3}));
        assert_eq!(s.grants.tree, "manifests");
        assert_eq!(s.grants.env.get("N").map(String::as_str), Some("1"));
        assert_eq!((s.grants.timeout, s.grants.memory_mib), (Some(Duration::from_secs(30)), Some(256)));
        assert!(s.grants.documents);
        assert!(!p.steps[1].grants.documents, "the documents view is granted only when asked for");
        assert_eq!(s.failure_action, FailureAction::Audit);
        let t = &p.steps[1];
        assert_eq!(
            (t.module.clone(), t.digest.clone(), t.grants.tree.as_str()),
            (ModuleRef::Builtin("render".into()), None, ".")
        );
        assert_eq!(t.failure_action, FailureAction::Enforce);
        assert_eq!(t.config, serde_json::json!({}));
        assert_eq!(p.at(Stage::BeforePack).count(), 1);
    }

    #[test]
    fn mistakes_name_the_line_and_the_cause() {
        let head = "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n";
        let step = |extra: &str| {
            format!(
                "{head}  - name: a\n    stage: after-render\n    module: m.wasm\n    digest: {DIGEST}\n    kind: policy\n{extra}"
            )
        };
        let cases = [
            ("apiVersion: v2\nkind: Pipeline\n".to_string(), "sealbox.yaml:1: apiVersion must be sealbox.io/v1"),
            (format!("{head}  - name: Bad_Name\n"), "sealbox.yaml:4: step name \"Bad_Name\" must be made of"),
            (
                step("    grants: {tree: ../etc}\n"),
                "sealbox.yaml:9: step a: grants.tree \"../etc\" must be a path inside",
            ),
            (step("    color: red\n"), "sealbox.yaml:9: unknown field \"color\""),
            (step("    grants:\n      memoryMib: lots\n"), "sealbox.yaml:10: step a: grants.memoryMib must be"),
            (step("    grants:\n      timeout: soon\n"), "sealbox.yaml:10: step a: grants.timeout:"),
            (
                step("    grants:\n      documents: all\n"),
                "sealbox.yaml:10: step a: grants.documents must be true or false",
            ),
            (step("    failureAction: Warn\n"), "sealbox.yaml:9: step a: failureAction \"Warn\" is not one of"),
            (format!("{head}  - name: a\n    stage: later\n"), "sealbox.yaml:5: step a: stage \"later\" is not one of"),
            (
                format!("{head}  - name: a\n    stage: after-copy\n    module: m.wasm\n    kind: policy\n"),
                "sealbox.yaml:6: step a: a module file or artifact must be pinned",
            ),
            (
                format!("{head}  - name: a\n    stage: after-copy\n    module: builtin:nope\n    kind: policy\n"),
                "sealbox.yaml:6: step a: there is no builtin module \"nope\"",
            ),
            (
                format!("{head}  - name: a\n    stage: after-copy\n    module: /abs.wasm\n    kind: policy\n"),
                "sealbox.yaml:6: step a: module \"/abs.wasm\" must be a path relative",
            ),
            (step("    kind: transform\n"), "sealbox.yaml:9: not valid YAML: duplicate key \"kind\""),
            (format!("{head}  - name: a\n    stage: [x\n"), "sealbox.yaml:"),
        ];
        for (text, want) in cases {
            let got = err(&text);
            assert!(got.starts_with(want), "want {want:?}, got {got:?} for\n{text}");
        }
        let twice = format!(
            "{head}  - {{name: a, stage: after-copy, module: builtin:render, kind: transform}}\n  \
             - {{name: a, stage: after-copy, module: builtin:render, kind: transform}}\n"
        );
        assert!(err(&twice).starts_with("sealbox.yaml:5: step name \"a\" is used twice"), "{}", err(&twice));
        let transform_action = format!(
            "{head}  - {{name: t, stage: after-copy, module: builtin:render, kind: transform, failureAction: Audit}}\n"
        );
        assert!(err(&transform_action).contains("failureAction applies to policy steps only"));
    }

    #[test]
    fn every_env_value_is_asked_for_as_env_star() {
        let head = "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n";
        let step = |env: &str| {
            format!(
                "{head}  - {{name: a, stage: after-copy, module: builtin:render, kind: transform, grants: {{env: {env}}}}}\n"
            )
        };
        let all = parsed(&step("\"*\"")).expect("env: \"*\"");
        assert_eq!(all.steps[0].grants.env, BTreeMap::from([("*".to_string(), String::new())]));
        let keyed = parsed(&step("{\"*\": \"\", TEAM: a}")).expect("a `*` key");
        assert!(keyed.steps[0].grants.env.contains_key("*") && keyed.steps[0].grants.env.contains_key("TEAM"));
        assert!(err(&step("\"TEAM\"")).contains("grants.env must be a mapping"), "{}", err(&step("\"TEAM\"")));
    }

    #[test]
    fn oci_modules_are_pinned_inline_or_by_digest_and_both_must_agree() {
        let head = "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n";
        let step = |module: &str, digest: &str| {
            format!("{head}  - name: a\n    stage: after-render\n    module: {module}\n{digest}    kind: policy\n")
        };
        let reference = "registry.example.com:5000/team/policies:v1";
        let inline = step(&format!("oci://{reference}@{DIGEST}"), "");
        let parsed = parse("sealbox.yaml", Path::new("."), &inline).expect("inline pin");
        assert_eq!(parsed.steps[0].module, ModuleRef::Oci(reference.to_string()));
        assert_eq!(parsed.steps[0].digest.as_deref(), Some(DIGEST));
        assert_eq!(parsed.steps[0].module.lock_name().as_deref(), Some(&*format!("oci://{reference}")));
        let by_field = step(&format!("oci://{reference}"), &format!("    digest: {DIGEST}\n"));
        assert_eq!(
            parse("sealbox.yaml", Path::new("."), &by_field).expect("digest field").steps[0].digest,
            Some(DIGEST.into())
        );

        let other = format!("sha256:{}", "1".repeat(64));
        let disagree = step(&format!("oci://{reference}@{DIGEST}"), &format!("    digest: {other}\n"));
        assert!(err(&disagree).starts_with("sealbox.yaml:7: step a: digest"), "{}", err(&disagree));
        assert!(err(&step(&format!("oci://{reference}"), "")).contains("must be pinned"));
        assert!(err(&step("oci://Not A Reference", "")).starts_with("sealbox.yaml:6: step a: module"));
    }
}
