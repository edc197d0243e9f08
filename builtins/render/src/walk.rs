//! The render step: every `*.tmpl` under `etc/`, `charts/`, `manifests/`,
//! `applications/` and `application/apps/<app>/` of the input tree is
//! rendered and written, without `.tmpl`, at the same relative path under
//! the output tree (the host applies the output over the image, so the
//! template itself stays, as sealer keeps it).
//!
//! Data is the image's ENV overlaid with the request's `env`; files under
//! `application/apps/<app>/` also see `config.apps.<app>` on top (APPENV).
//! Each file is its own template set, as sealer parses each file alone.
//!
//! # Config (`request.config`)
//!
//! ```json
//! { "missingKey": "default" | "zero" | "error",
//!   "funcs": "sprig" | "sealer",
//!   "apps": { "<app>": { "KEY": "value" } } }
//! ```
//!
//! `default` fails where a missing key would be printed, `zero` is Go's
//! default (prints `<no value>`, as sealer does), `error` is Go's
//! `missingkey=error`. `funcs` is the function set: `sprig` (the default)
//! adds the common sprig functions and warns (rule `render/not-sealer`)
//! for each template that calls one sealer's deploy-time renderer does not
//! have; `sealer` offers only what that renderer has, so such a template
//! fails as `sealer run` would fail on it. Every field is optional.
//!
//! # Response
//!
//! Failure when any template fails to parse or execute, with one error
//! diagnostic per failure (file, line, column; `rule` is `render/parse`,
//! `render/missing-key`, `render/limit` or `render/exec`). `data` lists what
//! was written, so the host can give each output its template's mode
//! (WASI cannot set mode bits):
//!
//! ```json
//! { "rendered": [ { "path": "etc/kubeadm.yml", "template": "etc/kubeadm.yml.tmpl", "mode": 420 } ] }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use sealbox_guest::{Diagnostic, FileEntry, Request, Response};
use serde::{Deserialize, Serialize};

use crate::engine::{Error, ExecErrorKind, MissingKey, Options, Templates, Value};

/// The directories whose templates are rendered with the common data.
pub const TEMPLATE_DIRS: &[&str] = &sealbox_formats::layout::TEMPLATE_DIRS;
/// The directory holding one subdirectory per application.
pub const APPS_DIR: &str = sealbox_formats::layout::APPS;

/// Mode given to outputs whose template has no entry in the request's file list.
const DEFAULT_MODE: u32 = 0o644;

/// The largest template read; bigger files are refused rather than loaded.
pub const MAX_TEMPLATE_BYTES: u64 = 16 << 20;

/// The step's configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// What a missing key does (`missingKey`).
    #[serde(default)]
    pub missing_key: MissingKeyMode,
    /// Which functions templates may call (`funcs`).
    #[serde(default)]
    pub funcs: FuncSet,
    /// Per-application values (APPENV), layered over the env for
    /// `application/apps/<app>/`.
    #[serde(default)]
    pub apps: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

/// The `funcs` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FuncSet {
    /// Go's builtins, sealer's and the common sprig functions.
    #[default]
    Sprig,
    /// Only what sealer's deploy-time renderer has.
    Sealer,
}

impl FuncSet {
    /// An empty template set with these functions.
    pub fn templates(self) -> Templates {
        match self {
            FuncSet::Sprig => Templates::new(),
            FuncSet::Sealer => Templates::sealer(),
        }
    }
}

/// The `missingKey` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingKeyMode {
    /// Printing a missing key is an error; testing it is fine.
    #[default]
    Default,
    /// Go's default: prints `<no value>`.
    Zero,
    /// Go's `missingkey=error`.
    Error,
}

impl From<MissingKeyMode> for MissingKey {
    fn from(m: MissingKeyMode) -> MissingKey {
        match m {
            MissingKeyMode::Default => MissingKey::ErrorOnPrint,
            MissingKeyMode::Zero => MissingKey::GoDefault,
            MissingKeyMode::Error => MissingKey::Error,
        }
    }
}

/// One output the step wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// Output path, relative to the tree root.
    pub path: String,
    /// The template it came from.
    pub template: String,
    /// The template's permission bits, to give the output.
    pub mode: u32,
}

/// What rendering a tree produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The outputs written, in walk order.
    pub rendered: Vec<Rendered>,
    /// Every failure (errors) and skipped entry (warnings), located.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs the step for a request: renders `input` into `output`.
pub fn run_step(req: &Request, input: &Path, output: &Path) -> Response {
    let config: Config = if req.config.is_null() {
        Config::default()
    } else {
        match serde_json::from_value(req.config.clone()) {
            Ok(c) => c,
            Err(e) => return Response::failure(format!("render: invalid config: {e}")),
        }
    };
    let mut env = req.image.env.clone();
    env.extend(req.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let outcome = render_tree(input, output, &env, &config, &req.files);
    let data = serde_json::json!({ "rendered": outcome.rendered });
    Response { data, ..Response::success() }.with_diagnostics(outcome.diagnostics)
}

/// Renders every template of the tree at `input` into `output`.
pub fn render_tree(
    input: &Path,
    output: &Path,
    env: &BTreeMap<String, String>,
    config: &Config,
    files: &[FileEntry],
) -> Outcome {
    let mut outcome = Outcome::default();
    let opts = Options { missing_key: config.missing_key.into(), ..Options::default() };
    let modes: BTreeMap<&str, u32> = files.iter().map(|f| (f.path.as_str(), f.mode)).collect();
    let base: BTreeMap<String, Value> = env.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    let base_data = Value::map(base.clone());

    let funcs = config.funcs;
    let mut job = Job { input, output, opts, funcs, modes: &modes, outcome: &mut outcome, made_dirs: HashSet::new() };
    for dir in TEMPLATE_DIRS {
        job.render_dir(dir, &base_data);
    }
    let apps_root = input.join(APPS_DIR);
    for (app, kind) in sorted_entries(&apps_root, &mut job.outcome.diagnostics, APPS_DIR) {
        let Some(name) = app.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if !kind.is_dir() {
            continue;
        }
        let mut data = base.clone();
        if let Some(values) = config.apps.get(&name) {
            data.extend(values.iter().map(|(k, v)| (k.clone(), Value::from(v))));
        }
        job.render_dir(&format!("{APPS_DIR}/{name}"), &Value::map(data));
    }
    outcome
}

struct Job<'a> {
    input: &'a Path,
    output: &'a Path,
    opts: Options,
    funcs: FuncSet,
    modes: &'a BTreeMap<&'a str, u32>,
    outcome: &'a mut Outcome,
    /// Output directories already created: each file system call costs a
    /// round trip through the sandbox, so none is repeated.
    made_dirs: HashSet<PathBuf>,
}

impl Job<'_> {
    /// Renders every template under `rel` (relative to the input root).
    fn render_dir(&mut self, rel: &str, data: &Value) {
        let dir = self.input.join(rel);
        for (entry, kind) in sorted_entries(&dir, &mut self.outcome.diagnostics, rel) {
            let Some(os_name) = entry.file_name() else { continue };
            let Some(name) = os_name.to_str().map(str::to_string) else {
                if os_name.to_string_lossy().ends_with(".tmpl") {
                    let shown = format!("{rel}/{}", os_name.to_string_lossy());
                    let d = Diagnostic::warning("template name is not UTF-8, not rendered").at(shown, None, None);
                    self.outcome.diagnostics.push(d);
                }
                continue;
            };
            let rel_path = format!("{rel}/{name}");
            if kind.is_dir() {
                self.render_dir(&rel_path, data);
            } else if kind.is_file() && name.ends_with(".tmpl") {
                self.render_file(&entry, &rel_path, data);
            } else if kind.is_symlink() && name.ends_with(".tmpl") {
                self.outcome.diagnostics.push(Diagnostic::warning("symlinked template not rendered").at(
                    rel_path.as_str(),
                    None,
                    None,
                ));
            }
        }
    }

    fn render_file(&mut self, path: &Path, rel: &str, data: &Value) {
        let out_rel = &rel[..rel.len() - ".tmpl".len()];
        if out_rel.ends_with('/') {
            self.outcome
                .diagnostics
                .push(Diagnostic::warning("template named only `.tmpl`, skipped").at(rel, None, None));
            return;
        }
        let text = match read_limited(path).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(_)) => {
                self.outcome.diagnostics.push(Diagnostic::error("template is not UTF-8 text").at(rel, None, None));
                return;
            }
            Err(e) => {
                self.outcome
                    .diagnostics
                    .push(Diagnostic::error(format!("cannot read template: {e}")).at(rel, None, None));
                return;
            }
        };
        match render_text_with(self.funcs.templates(), rel, &text, data, &self.opts) {
            Ok(rendered) => {
                self.write(rel, out_rel, rendered.as_bytes());
                if self.funcs == FuncSet::Sprig {
                    self.outcome.diagnostics.extend(not_sealer(rel, &text));
                }
            }
            Err(e) => self.outcome.diagnostics.push(diagnostic(&e)),
        }
    }

    fn write(&mut self, template: &str, out_rel: &str, bytes: &[u8]) {
        let dest = self.output.join(out_rel);
        let result = self.make_parent(&dest).and_then(|()| fs::write(&dest, bytes));
        match result {
            Ok(()) => self.outcome.rendered.push(Rendered {
                path: out_rel.to_string(),
                template: template.to_string(),
                mode: self.modes.get(template).copied().unwrap_or(DEFAULT_MODE),
            }),
            Err(e) => self
                .outcome
                .diagnostics
                .push(Diagnostic::error(format!("cannot write {out_rel}: {e}")).at(template, None, None)),
        }
    }
}

impl Job<'_> {
    fn make_parent(&mut self, dest: &Path) -> std::io::Result<()> {
        let Some(parent) = dest.parent() else { return Ok(()) };
        if self.made_dirs.contains(parent) {
            return Ok(());
        }
        fs::create_dir_all(parent)?;
        self.made_dirs.insert(parent.to_path_buf());
        Ok(())
    }
}

/// Parses and executes one template source named `name`.
pub fn render_text(name: &str, text: &str, data: &Value, opts: &Options) -> Result<String, Error> {
    render_text_with(Templates::new(), name, text, data, opts)
}

/// [`render_text`] with the functions of `set`.
fn render_text_with(mut set: Templates, name: &str, text: &str, data: &Value, opts: &Options) -> Result<String, Error> {
    set.parse(name, text)?;
    Ok(set.execute(name, data, opts)?)
}

/// A warning when the template `name` calls a function that sealer's
/// deploy-time renderer does not define: the image keeps its templates and
/// `sealer run` renders them again, so it would fail there. Go refuses an
/// undefined function when it parses, so parsing with sealer's set finds
/// the first such call, with its line.
fn not_sealer(name: &str, text: &str) -> Option<Diagnostic> {
    let Err(e) = Templates::sealer().parse(name, text) else { return None };
    let mut d = Diagnostic::warning(format!(
        "{}: sealer's deploy-time renderer has only Go's builtins and {}, so `sealer run` fails on this \
         template (`sealbox render --funcs sealer` checks for it)",
        e.message,
        crate::engine::SEALER_FUNCS.join("/"),
    ))
    .at(name, Some(e.line), Some(e.column));
    d.rule = Some("render/not-sealer".to_string());
    Some(d)
}

/// The diagnostic for a template error, located at its file, line and column.
pub fn diagnostic(e: &Error) -> Diagnostic {
    let (file, line, column) = e.location();
    let rule = match e {
        Error::Parse(_) => "render/parse",
        Error::Exec(x) => match x.kind {
            ExecErrorKind::NoValue(_) => "render/missing-key",
            ExecErrorKind::Limit => "render/limit",
            _ => "render/exec",
        },
    };
    let mut d = Diagnostic::error(e.message()).at(file, Some(line), Some(column));
    d.rule = Some(rule.to_string());
    d
}

/// Reads a file of at most [`MAX_TEMPLATE_BYTES`]. Avoids `fs::read`'s
/// size probes (two more system calls, each a trip through the sandbox).
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(8 << 10);
    fs::File::open(path)?.take(MAX_TEMPLATE_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_TEMPLATE_BYTES {
        return Err(std::io::Error::other(format!("template is larger than {MAX_TEMPLATE_BYTES} bytes")));
    }
    Ok(buf)
}

/// The entries of `dir` with their types (as the directory listing gives
/// them, symlinks not followed), sorted by name; a missing directory has none.
fn sorted_entries(dir: &Path, diagnostics: &mut Vec<Diagnostic>, rel: &str) -> Vec<(PathBuf, fs::FileType)> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Vec::new(),
        Err(e) => {
            diagnostics.push(Diagnostic::error(format!("cannot list directory: {e}")).at(rel, None, None));
            return Vec::new();
        }
    };
    let mut paths: Vec<(PathBuf, fs::FileType)> =
        entries.filter_map(|e| e.ok().and_then(|e| Some((e.path(), e.file_type().ok()?)))).collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    paths
}
