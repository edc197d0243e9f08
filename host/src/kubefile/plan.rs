//! The plan: what one platform's build of a Kubefile does, step by step,
//! and the image metadata it ends with. [`super::plan()`] makes it; the
//! pipeline runs it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::extension::{Application, BuildClient, ImageExtension};
use super::ignore::Ignore;
use super::parser::Keyword;
use super::rootfs::RootfsTree;

pub use sealbox_guest::Platform;

/// The architectures an OCI platform may name (Go's `GOARCH` values, which the image spec
/// follows); sealer itself builds `amd64` and `arm64`.
pub const KNOWN_ARCHITECTURES: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le", "riscv64",
    "s390x", "wasm",
];

/// Parses a platform written `os/architecture[/variant]` (as `--platform` takes it), refusing another
/// shape, an empty part, or an architecture OCI does not know (with the ones it does).
pub fn parse_platform(text: &str) -> Result<Platform, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let shape = || format!("{text:?}: expected OS/ARCH[/VARIANT], e.g. linux/arm64");
    if parts.iter().any(|p| p.is_empty()) {
        return Err(shape());
    }
    let (os, architecture, variant) = match parts.as_slice() {
        [os, arch] => (os, arch, None),
        [os, arch, variant] => (os, arch, Some((*variant).to_owned())),
        _ => return Err(shape()),
    };
    if !KNOWN_ARCHITECTURES.contains(architecture) {
        let hint = match *architecture {
            "x86_64" | "x86-64" => " (x86_64 is called amd64)",
            "aarch64" => " (aarch64 is called arm64)",
            _ => "",
        };
        return Err(format!(
            "{text:?}: unknown architecture {architecture:?}{hint}; sealer builds amd64 and arm64, and OCI knows {}",
            KNOWN_ARCHITECTURES.join(", ")
        ));
    }
    Ok(Platform { os: (*os).to_owned(), architecture: (*architecture).to_owned(), variant })
}

/// The sealer image type (`--type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageType {
    /// A cluster image: Kubernetes itself plus applications (sealer's default).
    #[default]
    KubeInstaller,
    /// Applications only, installed onto an existing cluster.
    AppInstaller,
}

impl ImageType {
    /// The name written in the image extension.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::KubeInstaller => "kube-installer",
            ImageType::AppInstaller => "app-installer",
        }
    }
}

/// What the planner needs besides the Kubefile and the context.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The platform being built; sets `${ARCH}` and the `TARGET*` ARGs.
    pub platform: Platform,
    /// `--build-arg K=V` values; they override ARG defaults.
    pub build_args: BTreeMap<String, String>,
    /// `--type`.
    pub image_type: ImageType,
    /// Written as the extension's `buildClient`.
    pub build_client: BuildClient,
}

impl PlanOptions {
    /// Options for one platform: no build args, `kube-installer`, sealbox as the build client.
    pub fn new(platform: Platform) -> PlanOptions {
        PlanOptions {
            platform,
            build_args: BTreeMap::new(),
            image_type: ImageType::default(),
            build_client: BuildClient::sealbox(),
        }
    }
}

/// The image a FROM names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    /// `FROM scratch`: no base.
    Scratch,
    /// `FROM NAME`: an image in the local store.
    Store(String),
    /// `FROM oci:DIR[:REF]`: an OCI image layout on disk, split at the first `:` after `oci:` as
    /// containers/image does. The path is as written; the caller decides what it is relative to.
    OciLayout {
        /// The layout directory.
        path: String,
        /// The reference (tag) in its index, if given.
        reference: Option<String>,
    },
}

/// What the planner needs to know about the base image; the caller's resolver supplies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseImage {
    /// The base config's `Env` (`K=V`); available to substitution and kept in the new config.
    pub env: Vec<String>,
    /// The base config's labels; kept unless overridden.
    pub labels: BTreeMap<String, String>,
    /// The base config's author.
    pub author: Option<String>,
    /// The base's `sealer.image.extension` applications; kept, in order, ahead of the Kubefile's.
    pub applications: Vec<Application>,
    /// The base rootfs's whole tree (directories, files, links), so that COPY and ADD resolve a
    /// destination as buildah does over it: through its links, into an existing directory, over an
    /// existing file. Empty for `scratch`.
    pub tree: RootfsTree,
    /// The full reference a short FROM name was resolved to (`docker.io/sealerio/kubernetes:v1`),
    /// when the store did not hold it as written; the plan's warnings say so.
    pub resolved: Option<String>,
}

/// A resolver for the base image: given the FROM reference and its `--platform` flag (if any),
/// returns the base's metadata or a message saying why it cannot.
pub type BaseResolver<'a> = dyn FnMut(&BaseRef, Option<&str>) -> std::result::Result<BaseImage, String> + 'a;

/// The image config fields a Kubefile sets (merged over the base's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `Env`, as `K=V`, in the order the keys were first set.
    pub env: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `author`, from MAINTAINER.
    pub author: Option<String>,
}

/// Everything the pipeline needs to build one platform's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The base image.
    pub base: BaseRef,
    /// `FROM --platform=...`, if given (substituted).
    pub base_platform: Option<String>,
    /// The steps in Kubefile order; each adds one history entry, and layer and module steps one layer.
    pub steps: Vec<PlanStep>,
    /// The final image config fields (base merged with the Kubefile's).
    pub config: ImageConfig,
    /// The `sealer.image.extension` annotation.
    pub extension: ImageExtension,
    /// The context's `.containerignore`/`.dockerignore`: paths it excludes are left out of every
    /// layer. Sources named directly are checked by the planner; the pipeline must leave out excluded
    /// paths found inside [`EntryKind::Dir`] sources (still looking inside excluded directories when
    /// [`Ignore::has_exceptions`]).
    pub ignore: Ignore,
    /// Things worth telling the user that do not stop the build (unused build args, a short FROM
    /// name resolved on Docker Hub).
    pub warnings: Vec<String>,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanStep {
    /// Copy context sources into a new layer (COPY, ADD, APP, CNI, CSI).
    Layer(LayerStep),
    /// Change metadata only: a history entry with `empty_layer: true`.
    Metadata(MetadataStep),
    /// Run a WASI module (RUN --module); not run by the pipeline yet.
    Module(ModuleStep),
}

impl PlanStep {
    /// The Kubefile line the step comes from.
    pub fn line(&self) -> usize {
        match self {
            PlanStep::Layer(s) => s.line,
            PlanStep::Metadata(s) => s.line,
            PlanStep::Module(s) => s.line,
        }
    }

    /// Whether the step's history entry has no layer.
    pub fn empty_layer(&self) -> bool {
        matches!(self, PlanStep::Metadata(_))
    }
}

/// A layer made of context sources copied into the rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerStep {
    /// The Kubefile line.
    pub line: usize,
    /// COPY, ADD, APP, CNI or CSI.
    pub instruction: Keyword,
    /// For APP/CNI/CSI, the application; its files go to `application/apps/<name>/`.
    pub app: Option<String>,
    /// What to copy, in order; later entries overwrite earlier ones.
    pub entries: Vec<CopyEntry>,
    /// The destination as buildah records it in history (as written, or the app directory).
    pub destination: String,
    /// `file`, `dir` or `multi`: what buildah calls the copied content in history.
    pub(crate) summary: &'static str,
}

impl LayerStep {
    /// The history `created_by`, as buildah writes it: `/bin/sh -c #(nop) COPY file:<hex> in <dest> `,
    /// with `dir:` or `multi:` for a single directory or several sources. `content_digest` is the hex
    /// digest that identifies the copied content (sealbox uses the layer's diff ID).
    pub fn created_by(&self, content_digest: &str) -> String {
        let verb = if self.instruction == Keyword::Add { "ADD" } else { "COPY" };
        format!("/bin/sh -c #(nop) {verb} {}:{content_digest} in {} ", self.summary, self.destination)
    }
}

/// One source of a layer step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyEntry {
    /// The source, relative to the context root, with every symlink already resolved inside the
    /// context (empty for the root itself). Copying must not follow symlinks in it again.
    pub source: PathBuf,
    /// How to copy it.
    pub kind: EntryKind,
    /// Where it lands, relative to the rootfs (no leading `/`; empty for the root).
    pub target: PathBuf,
}

/// How a [`CopyEntry`] is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file, copied to `target` (the full path of the new file).
    File,
    /// A directory whose contents (not itself) are merged into the directory `target`; symlinks
    /// inside are copied as symlinks.
    Dir,
    /// ADD of a local tar archive (plain, gzip, bzip2, xz or zstd): its entries are unpacked into
    /// the directory `target`, as buildah does.
    Archive,
}

/// A metadata-only instruction (ARG, ENV, LABEL, MAINTAINER, KUBEVERSION, the label of CNI/CSI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataStep {
    /// The Kubefile line.
    pub line: usize,
    /// The history `created_by`, as buildah writes it.
    pub created_by: String,
}

/// `RUN --module=PATH[@sha256:HEX] ARGS...`: a WASI module to run over the rootfs (a later issue).
/// Arguments starting with `--` follow a `--` separator, or are written as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleStep {
    /// The Kubefile line.
    pub line: usize,
    /// The module as written.
    pub module: String,
    /// The pinned digest, `sha256:<hex>`, if given.
    pub digest: Option<String>,
    /// The arguments (JSON array, or split at blanks), not substituted.
    pub args: Vec<String>,
    /// The history `created_by`.
    pub created_by: String,
}
