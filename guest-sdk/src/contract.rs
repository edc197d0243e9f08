//! The step contract v1: what the host sends a module on stdin and what the
//! module answers on stdout. These types are the single definition of the
//! contract; the host and every Rust module use them, and the JSON Schema in
//! `guest-sdk/schema/` describes the same shapes for other languages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `apiVersion` every request and response carries.
pub const API_VERSION: &str = "sealbox.dev/step/v1";

/// Where a module finds its input tree (read-only).
pub const INPUT_DIR: &str = "/in";
/// Where a module writes its results (empty at start, writable).
pub const OUTPUT_DIR: &str = "/out";

/// One request, sent as JSON on the module's stdin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// The step's name in the plan (for example `render` or `layer-3`).
    pub step: String,
    /// The step's configuration, as given by the pipeline; its shape is the
    /// module's own business.
    #[serde(default)]
    pub config: serde_json::Value,
    /// The environment values this step was granted, and only those.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// What the step needs to know about the image being built.
    #[serde(default)]
    pub image: ImageInfo,
    /// Every entry of `/in`, sorted by path, with what WASI cannot tell a
    /// module (mode bits, link targets). Present when the host staged a tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEntry>,
}

/// Facts about the image a step contributes to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    /// The platform being built (`linux/amd64`).
    #[serde(default)]
    pub platform: Platform,
    /// Seconds since the epoch that stand for "now" in this build.
    #[serde(default)]
    pub source_date_epoch: u64,
    /// The image's environment so far (its `ENV` values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The image's labels so far.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// An OCI platform.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform { os: "linux".into(), architecture: "amd64".into(), variant: None }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The type of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
}

/// One entry of a staged tree, as the host saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Path relative to the tree root, `/`-separated, no `.` or `..`.
    pub path: String,
    pub kind: FileKind,
    /// Permission bits (`0o755`), without the file type.
    pub mode: u32,
    /// Size in bytes (files only).
    #[serde(default)]
    pub size: u64,
    /// Target of a symlink, as stored in the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// For the second and later names of a hard-linked file: the first
    /// name's path, so packers can keep the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardlink: Option<String>,
}

/// One response, written as JSON on the module's stdout (or, when the host
/// streams a module's stdout elsewhere, as it does the builtin packer's
/// layer, to `/out/response.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Always [`API_VERSION`].
    pub api_version: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// Step-specific structured results (an image list, policy results…).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Response {
    /// A successful response with no diagnostics.
    pub fn success() -> Self {
        Response {
            api_version: API_VERSION.into(),
            status: Status::Success,
            diagnostics: vec![],
            data: serde_json::Value::Null,
        }
    }

    /// A failed response carrying one error diagnostic.
    pub fn failure(message: impl Into<String>) -> Self {
        Response { status: Status::Failure, diagnostics: vec![Diagnostic::error(message)], ..Response::success() }
    }

    /// The response's status, made `Failure` when any diagnostic is an error.
    pub fn with_diagnostics(mut self, diagnostics: Vec<Diagnostic>) -> Self {
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            self.status = Status::Failure;
        }
        self.diagnostics = diagnostics;
        self
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The step did its work; its outputs may be used.
    Success,
    /// The step ran correctly and found the input bad (a policy violation,
    /// a template error). Diagnostics say why.
    Failure,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One finding of a step, pointing at a place in the input where it can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Path under `/in`, `/`-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The rule (or policy/rule) that produced this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Diagnostic {
    /// An error diagnostic with no location.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            line: None,
            column: None,
            rule: None,
        }
    }

    /// A warning diagnostic with no location.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }

    /// The same diagnostic, located at `file:line:column`.
    pub fn at(mut self, file: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self.column = column;
        self
    }
}

/// The name of the wasm custom section that carries [`ModuleMetadata`].
pub const METADATA_SECTION: &str = "sealbox.module";

/// What kind of step a module is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    /// Reads `/in`, writes files to `/out` that the host applies to the image.
    Transform,
    /// Reads `/in`, answers with a verdict; its `/out` is discarded.
    Policy,
}

/// The JSON a module carries in its `sealbox.module` custom section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModuleMetadata {
    pub name: String,
    pub version: String,
    pub kind: ModuleKind,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The oldest sealbox that can run this module (semver `x.y.z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_host_version: Option<String>,
}

/// What a module asks the host for. The host refuses to run a module that
/// asks for more than its step is granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capabilities {
    /// Names of environment values the module wants to read (`*` for any
    /// the pipeline chooses to grant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Whether the module writes files to `/out` that should be applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write_output: bool,
    /// The largest linear memory it needs, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
}
