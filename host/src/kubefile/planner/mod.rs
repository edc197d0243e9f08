//! Kubefile meaning: turns parsed instructions into a [`Plan`] the pipeline
//! runs for one platform, following sealer's `build/kubefile/parser/kubefile.go`
//! and the buildah behaviour sealer relies on, and being correct where sealer
//! is careless (every COPY source is kept, applications are in Kubefile order,
//! variables are substituted everywhere buildah substitutes them).
//!
//! The planner reads the build context only through a `cap_std::fs::Dir`, to
//! resolve sources and detect application types; it never copies anything.
//! This module holds the walk over the instructions and the metadata ones;
//! `copy` holds COPY/ADD and the destinations, `apps` the application ones.

use std::collections::{BTreeMap, BTreeSet};

use cap_std::fs::Dir;

use super::error::{Error, ErrorKind, Result};
use super::expand::expand;
use super::extension::{
    Application, ImageExtension, LABEL_CNI_PREFIX, LABEL_CSI_PREFIX, LABEL_KUBE_VERSION, LABEL_SEALER_VERSION, Launch,
    SCHEMA_VERSION,
};
use super::ignore::Ignore;
use super::parser::{Instruction, Keyword, Kubefile};
use super::plan::{
    BaseImage, BaseRef, BaseResolver, ImageConfig, MetadataStep, ModuleStep, Plan, PlanOptions, PlanStep,
};
use super::rootfs::Rootfs;

mod apps;
mod copy;

/// Plans one platform's build of a parsed Kubefile over a build context. `file` names the
/// Kubefile in errors; `resolve_base` is called once, for a FROM that is not `scratch`.
pub fn plan(
    file: &str,
    kubefile: &Kubefile,
    ctx: &Dir,
    options: &PlanOptions,
    resolve_base: &mut BaseResolver<'_>,
) -> Result<Plan> {
    let ignore = Ignore::load(ctx).map_err(|e| {
        let line = kubefile.instructions.first().map_or(1, |i| i.line);
        Error::new(file, line, ErrorKind::IgnoreFile { file: e.file, cause: e.cause })
    })?;
    let mut planner = Planner {
        file,
        ctx,
        ignore,
        options,
        escape: kubefile.escape,
        from: None,
        global_args: BTreeMap::new(),
        args: BTreeMap::new(),
        declared: BTreeSet::new(),
        env: Vec::new(),
        labels: BTreeMap::new(),
        author: None,
        ext_env: BTreeMap::new(),
        apps: Vec::new(),
        launch: Launch::default(),
        seen_cmd: false,
        steps: Vec::new(),
        rootfs: Rootfs::default(),
        warnings: Vec::new(),
        failed_apps: BTreeSet::new(),
    };
    // Every error is reported, not only the first: an instruction that fails leaves the plan as it
    // was, and planning goes on, unless FROM failed (everything after would fail for want of it).
    let mut errors: Vec<Error> = kubefile.errors.clone();
    let count = kubefile.instructions.len();
    for (index, ins) in kubefile.instructions.iter().enumerate() {
        if let Err(e) = planner.instruction(ins, index + 1 == count, resolve_base) {
            let unknown_failed_app =
                matches!(&e.kind, ErrorKind::UnknownApp { app, .. } if planner.failed_apps.contains(app));
            if !unknown_failed_app {
                errors.push(e);
            }
            if matches!(ins.keyword, Keyword::App | Keyword::Cni | Keyword::Csi) {
                planner.failed_apps.extend(ins.args.first().cloned());
            }
            if planner.from.is_none() {
                break;
            }
        }
    }
    if planner.from.is_none()
        && let Some(e) = Error::all(std::mem::take(&mut errors))
    {
        // FROM failed or never came: nothing after it was planned, so the end checks say nothing.
        return Err(e);
    }
    match planner.finish(kubefile) {
        Ok(plan) => Error::all(errors).map_or(Ok(plan), Err),
        Err(last) => Err(last.join(errors)),
    }
}

/// An application and the line that defined it (for errors found at the end).
struct AppEntry {
    app: Application,
    line: usize,
}

struct Planner<'a> {
    file: &'a str,
    ctx: &'a Dir,
    ignore: Ignore,
    options: &'a PlanOptions,
    escape: char,
    from: Option<(BaseRef, Option<String>)>,
    /// ARGs declared before FROM: usable in FROM, and as defaults of ARGs redeclared after it.
    global_args: BTreeMap<String, Option<String>>,
    /// ARGs declared after FROM, with their values.
    args: BTreeMap<String, Option<String>>,
    declared: BTreeSet<String>,
    env: Vec<(String, String)>,
    labels: BTreeMap<String, String>,
    author: Option<String>,
    ext_env: BTreeMap<String, String>,
    apps: Vec<AppEntry>,
    launch: Launch,
    seen_cmd: bool,
    steps: Vec<PlanStep>,
    rootfs: Rootfs,
    /// Warnings found along the way, in Kubefile order.
    warnings: Vec<String>,
    /// Applications whose APP/CNI/CSI failed: later instructions naming them add no error of their own.
    failed_apps: BTreeSet<String>,
}

impl Planner<'_> {
    fn err(&self, line: usize, kind: ErrorKind) -> Error {
        Error::new(self.file, line, kind)
    }

    fn usage(&self, ins: &Instruction, problem: &str, usage: &'static str) -> Error {
        self.err(ins.line, ErrorKind::Usage { instruction: ins.keyword.as_str(), problem: problem.into(), usage })
    }

    fn instruction(&mut self, ins: &Instruction, last: bool, resolve_base: &mut BaseResolver<'_>) -> Result<()> {
        if self.from.is_none() && !matches!(ins.keyword, Keyword::From | Keyword::Arg) {
            let msg = format!(
                "{} before FROM: FROM must be the first instruction (only ARG may precede it)",
                ins.keyword.as_str()
            );
            return Err(self.err(ins.line, ErrorKind::From(msg)));
        }
        match ins.keyword {
            Keyword::From => self.from_(ins, resolve_base),
            Keyword::Arg => self.arg(ins),
            Keyword::Env => self.env_(ins),
            Keyword::Label => self.label(ins),
            Keyword::Maintainer => self.maintainer(ins),
            Keyword::Copy => self.copy(ins, false),
            Keyword::Add => self.copy(ins, true),
            Keyword::Run => self.run(ins),
            Keyword::App => self.app(ins, None),
            Keyword::Cni => self.app(ins, Some(LABEL_CNI_PREFIX)),
            Keyword::Csi => self.app(ins, Some(LABEL_CSI_PREFIX)),
            Keyword::AppEnv => self.app_env(ins),
            Keyword::AppCmds => self.app_cmds(ins),
            Keyword::KubeVersion => self.kube_version(ins),
            Keyword::Launch => self.launch_(ins, last),
            Keyword::Cmds => self.cmds(ins, last),
            Keyword::Cmd => self.cmd(ins),
        }
    }

    fn finish(mut self, kubefile: &Kubefile) -> Result<Plan> {
        let Some((base, base_platform)) = self.from.take() else {
            let line = kubefile.instructions.last().map_or(1, |i| i.line);
            return Err(self.err(line, ErrorKind::NoFrom));
        };
        for entry in &self.apps {
            if entry.app.app_type.is_empty() && entry.app.cmds.is_empty() {
                return Err(self.err(entry.line, ErrorKind::AppNeedsCmds(entry.app.name.clone())));
            }
        }
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(
            self.options
                .build_args
                .keys()
                .filter(|name| !self.declared.contains(*name) && !self.global_args.contains_key(*name))
                .map(|name| format!("build argument {name:?} was given but no ARG declares it")),
        );
        // As sealer's `--label` default: the builder of this image, over the base's.
        self.labels.insert(LABEL_SEALER_VERSION.into(), self.options.build_client.sealer_version.clone());
        let extension = ImageExtension {
            build_client: self.options.build_client.clone(),
            schema_version: SCHEMA_VERSION.into(),
            image_type: self.options.image_type.as_str().into(),
            applications: self.apps.into_iter().map(|e| e.app).collect(),
            labels: BTreeMap::new(),
            env: self.ext_env,
            launch: self.launch,
        };
        Ok(Plan {
            base,
            base_platform,
            steps: self.steps,
            config: ImageConfig {
                env: self.env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
                labels: self.labels,
                author: self.author,
            },
            extension,
            ignore: self.ignore,
            warnings,
        })
    }

    /// A variable's value for substitution: ENV, then ARG, then the platform's `ARCH`.
    fn lookup(&self, name: &str) -> Option<String> {
        if self.from.is_none() {
            if let Some(Some(value)) = self.global_args.get(name) {
                return Some(value.clone());
            }
        } else {
            if let Some((_, value)) = self.env.iter().find(|(k, _)| k == name) {
                return Some(value.clone());
            }
            if let Some(Some(value)) = self.args.get(name) {
                return Some(value.clone());
            }
        }
        (name == "ARCH").then(|| self.options.platform.architecture.clone())
    }

    fn expand(&self, ins: &Instruction, word: &str) -> Result<String> {
        expand(word, self.escape, &|name| self.lookup(name))
            .map_err(|msg| self.err(ins.line, ErrorKind::Substitution(format!("{}: {msg}", ins.keyword.as_str()))))
    }

    fn metadata(&mut self, ins: &Instruction, created_by: String) {
        self.steps.push(PlanStep::Metadata(MetadataStep { line: ins.line, created_by }));
    }

    fn nop(ins: &Instruction) -> String {
        format!("/bin/sh -c #(nop) {}", ins.original)
    }

    fn from_(&mut self, ins: &Instruction, resolve_base: &mut BaseResolver<'_>) -> Result<()> {
        if self.from.is_some() {
            let msg = "a second FROM starts a multi-stage build, which sealbox does not support; \
                       build the other stage as an image of its own and COPY its files from the context";
            return Err(self.err(ins.line, ErrorKind::From(msg.into())));
        }
        let mut platform = None;
        for flag in &ins.flags {
            match flag.split_once('=') {
                Some(("platform", value)) => platform = Some(self.expand(ins, value)?),
                _ => return Err(self.flag_error(ins, flag, "")),
            }
        }
        let image = match ins.args.as_slice() {
            [image] => image,
            [image, as_, _name] if as_.eq_ignore_ascii_case("as") => image,
            _ => return Err(self.usage(ins, "expected one image", "FROM [--platform=P] IMAGE|scratch|oci:DIR[:REF]")),
        };
        let image = self.expand(ins, image)?;
        let base = if image == "scratch" {
            BaseRef::Scratch
        } else if let Some(layout) = image.strip_prefix("oci:") {
            match layout.split_once(':') {
                Some((path, reference)) => BaseRef::OciLayout { path: path.into(), reference: Some(reference.into()) },
                None => BaseRef::OciLayout { path: layout.into(), reference: None },
            }
        } else {
            BaseRef::Store(image.clone())
        };
        if matches!(&base, BaseRef::OciLayout { path, .. } if path.is_empty()) {
            return Err(self.usage(ins, "oci: needs a directory", "FROM oci:DIR[:REF]"));
        }
        let base_image = match &base {
            BaseRef::Scratch => BaseImage::default(),
            other => resolve_base(other, platform.as_deref())
                .map_err(|cause| self.err(ins.line, ErrorKind::BaseImage { image: image.clone(), cause }))?,
        };
        for kv in &base_image.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            set_env(&mut self.env, k, v);
        }
        self.labels = base_image.labels;
        self.author = base_image.author;
        self.apps = base_image.applications.into_iter().map(|app| AppEntry { app, line: ins.line }).collect();
        self.rootfs.tree = base_image.tree;
        if let Some(full) = base_image.resolved {
            let line = ins.line;
            self.warnings
                .push(format!("{}:{line}: FROM {image}: a short name, resolved as sealer does to {full}", self.file));
        }
        self.from = Some((base, platform));
        Ok(())
    }

    fn arg(&mut self, ins: &Instruction) -> Result<()> {
        if ins.args.is_empty() {
            return Err(self.usage(ins, "expected a name", "ARG NAME[=DEFAULT]..."));
        }
        // Defaults are substituted with the variables as they were before this instruction.
        let mut declared = Vec::new();
        for word in &ins.args {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name, Some(self.expand(ins, default)?)),
                None => (word.as_str(), None),
            };
            if name.is_empty() {
                return Err(self.usage(ins, &format!("{word:?} has no name"), "ARG NAME[=DEFAULT]..."));
            }
            declared.push((name.to_owned(), default));
        }
        for (name, default) in declared {
            let given = self.options.build_args.get(&name).cloned();
            if self.from.is_none() {
                self.global_args.insert(name, given.or(default));
                continue;
            }
            let value = given
                .or(default)
                .or_else(|| self.global_args.get(&name).cloned().flatten())
                .or_else(|| self.platform_arg(&name));
            self.declared.insert(name.clone());
            self.args.insert(name, value);
        }
        if self.from.is_some() {
            // buildah lists the build args this stage has declared so far, sorted.
            let used: Vec<&str> =
                self.options.build_args.keys().filter(|k| self.declared.contains(*k)).map(String::as_str).collect();
            self.metadata(ins, format!("/bin/sh -c #(nop) ARG {}", used.join(" ")));
        }
        Ok(())
    }

    /// The automatic platform ARGs, set when declared without a value.
    fn platform_arg(&self, name: &str) -> Option<String> {
        let p = &self.options.platform;
        match name {
            "TARGETPLATFORM" => Some(p.to_string()),
            "TARGETOS" => Some(p.os.clone()),
            "TARGETARCH" => Some(p.architecture.clone()),
            "TARGETVARIANT" => Some(p.variant.clone().unwrap_or_default()),
            _ => None,
        }
    }

    /// `KEY=VALUE...` or the old `KEY VALUE`, substituted with the variables before the instruction.
    fn name_values(&self, ins: &Instruction, usage: &'static str) -> Result<Vec<(String, String)>> {
        let Some(first) = ins.args.first() else {
            return Err(self.usage(ins, "expected KEY=VALUE", usage));
        };
        let raw: Vec<(String, String)> = if !first.contains('=') {
            let mut parts = ins.rest.splitn(2, [' ', '\t', '\u{b}', '\u{c}', '\r']);
            let key = parts.next().unwrap_or_default();
            let value = parts.next().map(str::trim_start).unwrap_or_default();
            if value.is_empty() {
                return Err(self.usage(ins, &format!("{key:?} has no value"), usage));
            }
            vec![(key.to_owned(), value.to_owned())]
        } else {
            let mut pairs = Vec::new();
            for word in &ins.args {
                let Some((key, value)) = word.split_once('=') else {
                    let problem = format!("cannot find = in {word:?}; every word must be KEY=VALUE");
                    return Err(self.usage(ins, &problem, usage));
                };
                pairs.push((key.to_owned(), value.to_owned()));
            }
            pairs
        };
        let mut out = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            let key = self.expand(ins, &key)?;
            if key.is_empty() {
                return Err(self.usage(ins, "a key is empty", usage));
            }
            out.push((key, self.expand(ins, &value)?));
        }
        Ok(out)
    }

    fn env_(&mut self, ins: &Instruction) -> Result<()> {
        for (key, value) in self.name_values(ins, "ENV KEY=VALUE...")? {
            set_env(&mut self.env, &key, &value);
            self.ext_env.insert(key, value);
        }
        self.metadata(ins, Self::nop(ins));
        Ok(())
    }

    fn label(&mut self, ins: &Instruction) -> Result<()> {
        for (key, value) in self.name_values(ins, "LABEL KEY=VALUE...")? {
            self.labels.insert(key, value);
        }
        self.metadata(ins, Self::nop(ins));
        Ok(())
    }

    fn maintainer(&mut self, ins: &Instruction) -> Result<()> {
        if ins.rest.is_empty() {
            return Err(self.usage(ins, "expected a name", "MAINTAINER NAME"));
        }
        self.author = Some(ins.rest.clone());
        self.metadata(ins, Self::nop(ins));
        Ok(())
    }

    fn kube_version(&mut self, ins: &Instruction) -> Result<()> {
        if ins.rest.is_empty() {
            return Err(self.usage(ins, "expected a version", "KUBEVERSION VERSION"));
        }
        // sealer hands buildah `LABEL key="<quoted version>"`; substitute as buildah then does.
        let mut quoted = String::from('"');
        for c in ins.rest.chars() {
            if c == '"' || c == self.escape {
                quoted.push(self.escape);
            }
            quoted.push(c);
        }
        quoted.push('"');
        let value = self.expand(ins, &quoted)?;
        self.labels.insert(LABEL_KUBE_VERSION.into(), value);
        self.metadata(ins, format!("/bin/sh -c #(nop) LABEL {LABEL_KUBE_VERSION}={:?}", ins.rest));
        Ok(())
    }

    fn flag_error(&self, ins: &Instruction, flag: &str, hint: &'static str) -> Error {
        let name = flag.split_once('=').map_or(flag, |(n, _)| n).to_owned();
        self.err(ins.line, ErrorKind::UnsupportedFlag { instruction: ins.keyword.as_str(), flag: name, hint })
    }

    fn run(&mut self, ins: &Instruction) -> Result<()> {
        let mut module = None;
        for flag in &ins.flags {
            match flag.split_once('=') {
                Some(("module", value)) if !value.is_empty() => module = Some(value.to_owned()),
                _ if flag.starts_with("module") => {
                    return Err(self.usage(ins, "--module needs a path", "RUN --module=PATH[@sha256:HEX] ARGS..."));
                }
                _ => return Err(self.flag_error(ins, flag, "")),
            }
        }
        let Some(module) = module else {
            return Err(self.err(ins.line, ErrorKind::RunShell));
        };
        let (module, digest) = match module.rsplit_once('@') {
            Some((path, pin)) => {
                let hex = pin.strip_prefix("sha256:").unwrap_or_default();
                let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !valid || path.is_empty() {
                    return Err(self.err(ins.line, ErrorKind::BadDigest(module.clone())));
                }
                (path.to_owned(), Some(pin.to_owned()))
            }
            None => (module, None),
        };
        let args = if ins.json { ins.args.clone() } else { ins.rest.split_whitespace().map(str::to_owned).collect() };
        self.steps.push(PlanStep::Module(ModuleStep {
            line: ins.line,
            module,
            digest,
            args,
            created_by: Self::nop(ins),
        }));
        Ok(())
    }
}

/// Sets an env var the way Docker does: in place if present, else appended.
fn set_env(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_owned(),
        None => env.push((key.to_owned(), value.to_owned())),
    }
}
