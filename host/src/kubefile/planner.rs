//! Kubefile meaning: turns parsed instructions into a [`Plan`] the pipeline
//! runs for one platform, following sealer's `build/kubefile/parser/kubefile.go`
//! and the buildah behaviour sealer relies on, and being correct where sealer
//! is careless (every COPY source is kept, applications are in Kubefile order,
//! variables are substituted everywhere buildah substitutes them).
//!
//! The planner reads the build context only through a `cap_std::fs::Dir`, to
//! resolve sources and detect application types; it never copies anything.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

use cap_std::fs::Dir;

use super::app::{self, Source};
use super::context::{self, ContextError, Kind, Resolved};
use super::error::{Error, ErrorKind, Result};
use super::expand::expand;
use super::extension::{
    APP_ROOT, Application, ImageExtension, LABEL_CNI_PREFIX, LABEL_CSI_PREFIX, LABEL_KUBE_VERSION, Launch,
    SCHEMA_VERSION,
};
use super::ignore::Ignore;
use super::parser::{Instruction, Keyword, Kubefile};
use super::plan::{
    BaseImage, BaseRef, BaseResolver, CopyEntry, EntryKind, ImageConfig, LayerStep, MetadataStep, ModuleStep, Plan,
    PlanOptions, Step,
};
use super::rootfs::Rootfs;

/// Plans one platform's build of a parsed Kubefile over a build context. `file` names the
/// Kubefile in errors; `resolve_base` is called once, for a FROM that is not `scratch`.
pub fn plan(
    file: &str,
    kubefile: &Kubefile,
    ctx: &Dir,
    options: &PlanOptions,
    resolve_base: &mut BaseResolver<'_>,
) -> Result<Plan> {
    let ignore = Ignore::load(ctx).map_err(|e| Error {
        file: file.to_owned(),
        line: kubefile.instructions.first().map_or(1, |i| i.line),
        kind: ErrorKind::IgnoreFile { file: e.file, cause: e.cause },
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
    };
    let count = kubefile.instructions.len();
    for (index, ins) in kubefile.instructions.iter().enumerate() {
        planner.instruction(ins, index + 1 == count, resolve_base)?;
    }
    planner.finish(kubefile)
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
    steps: Vec<Step>,
    rootfs: Rootfs,
}

const COPY_USAGE: &str = "COPY SRC... DEST";
const ADD_USAGE: &str = "ADD SRC... DEST";

impl Planner<'_> {
    fn err(&self, line: usize, kind: ErrorKind) -> Error {
        Error { file: self.file.to_owned(), line, kind }
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
        let warnings = self
            .options
            .build_args
            .keys()
            .filter(|name| !self.declared.contains(*name) && !self.global_args.contains_key(*name))
            .map(|name| format!("build argument {name:?} was given but no ARG declares it"))
            .collect();
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
        self.steps.push(Step::Metadata(MetadataStep { line: ins.line, created_by }));
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
        self.rootfs.dirs = base_image.directories;
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

    fn copy(&mut self, ins: &Instruction, add: bool) -> Result<()> {
        let name = ins.keyword.as_str();
        if let Some(flag) = ins.flags.first() {
            let hint = match flag.split_once('=').map_or(flag.as_str(), |(n, _)| n) {
                "from" => "; sealbox builds a single stage: put the files in the build context instead",
                "chown" => "; every file in a sealbox layer is owned by uid 0 and gid 0",
                "chmod" => "; files keep the modes they have in the build context",
                _ => "",
            };
            return Err(self.flag_error(ins, flag, hint));
        }
        let usage = if add { ADD_USAGE } else { COPY_USAGE };
        let Some((dest, sources)) = ins.args.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Err(self.usage(ins, "expected at least one source and a destination", usage));
        };
        let dest_expanded = self.expand(ins, dest)?;
        let mut found = Vec::new();
        for source in sources {
            let source = self.expand(ins, source)?;
            if is_remote(&source) {
                let instead = if add { "ADD it by its path there" } else { "COPY it by its path there" };
                return Err(self.err(ins.line, ErrorKind::RemoteSource { instruction: name, given: source, instead }));
            }
            found.extend(self.find(ins, &source)?);
        }
        let entries = self.place(ins, &found, &dest_expanded, add)?;
        let summary = copy_summary(&found);
        self.steps.push(Step::Layer(LayerStep {
            line: ins.line,
            instruction: ins.keyword,
            app: None,
            entries,
            destination: dest.clone(),
            summary,
        }));
        Ok(())
    }

    /// The context paths a source names (several if it has wildcards), each with the name it lands under.
    fn find(&self, ins: &Instruction, source: &str) -> Result<Vec<(OsString, Resolved)>> {
        let instruction = ins.keyword.as_str();
        let fail = |e: ContextError| {
            let given = source.to_owned();
            self.err(
                ins.line,
                match e {
                    ContextError::Outside => ErrorKind::OutsideContext { instruction, given },
                    ContextError::NotFound => ErrorKind::SourceNotFound { instruction, given },
                    ContextError::NoMatch => ErrorKind::NoMatch { instruction, given },
                    ContextError::BadPattern => ErrorKind::BadPattern { instruction, given },
                    ContextError::Io(path, cause) => {
                        ErrorKind::Context { path: path.to_string_lossy().into_owned(), cause: cause.to_string() }
                    }
                },
            )
        };
        let parts = context::normalize(source).map_err(fail)?;
        let found: Vec<_> = if sealbox_formats::glob::has_go_meta(source) {
            // Each match lands under its name as matched, not the name a symlink resolves to.
            let matches = context::glob(self.ctx, &parts).map_err(fail)?;
            let kept: Vec<_> = matches
                .into_iter()
                .filter(|(path, _)| !self.ignore.is_excluded(path))
                .map(|(path, r)| (path.file_name().map(OsString::from).unwrap_or_default(), r))
                .collect();
            if kept.is_empty() {
                return Err(fail(ContextError::NoMatch));
            }
            kept
        } else {
            let path: PathBuf = parts.iter().collect();
            if self.ignore.is_excluded(&path) {
                let (given, file) = (source.to_owned(), self.ignore.file.clone().unwrap_or_default());
                return Err(self.err(ins.line, ErrorKind::ExcludedSource { instruction, given, file }));
            }
            let resolved = context::resolve(self.ctx, &path).map_err(fail)?;
            vec![(parts.last().map(OsString::from).unwrap_or_default(), resolved)]
        };
        for (_, resolved) in &found {
            if resolved.kind == Kind::Special {
                let given = source.to_owned();
                return Err(self.err(ins.line, ErrorKind::SpecialFile { instruction, given }));
            }
        }
        Ok(found)
    }

    /// Where each source lands, with Docker's COPY rules for the destination.
    fn place(
        &mut self,
        ins: &Instruction,
        found: &[(OsString, Resolved)],
        dest: &str,
        add: bool,
    ) -> Result<Vec<CopyEntry>> {
        let instruction = ins.keyword.as_str();
        let mut parts: Vec<&str> = Vec::new();
        for part in dest.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        let given = dest.to_owned();
                        return Err(self.err(ins.line, ErrorKind::DestinationOutside { instruction, given }));
                    }
                }
                name => parts.push(name),
            }
        }
        let target: PathBuf = parts.iter().collect();
        let written_as_dir = dest.ends_with('/') || dest.ends_with("/.") || dest == "." || parts.is_empty();
        let into_dir = written_as_dir || self.rootfs.is_dir(self.ctx, &target);
        if found.len() > 1 && !into_dir {
            let destination = dest.to_owned();
            return Err(self.err(ins.line, ErrorKind::DestinationNotDir { instruction, destination }));
        }
        let mut entries = Vec::with_capacity(found.len());
        for (name, resolved) in found {
            let io = |e: ContextError| match e {
                ContextError::Io(path, cause) => self.err(
                    ins.line,
                    ErrorKind::Context { path: path.to_string_lossy().into_owned(), cause: cause.to_string() },
                ),
                _ => {
                    self.err(ins.line, ErrorKind::SourceNotFound { instruction, given: name.to_string_lossy().into() })
                }
            };
            let entry = match resolved.kind {
                Kind::Dir => CopyEntry { source: resolved.path.clone(), kind: EntryKind::Dir, target: target.clone() },
                _ if add && context::is_archive(self.ctx, &resolved.path).map_err(io)? => {
                    CopyEntry { source: resolved.path.clone(), kind: EntryKind::Archive, target: target.clone() }
                }
                _ => CopyEntry {
                    source: resolved.path.clone(),
                    kind: EntryKind::File,
                    target: if into_dir { target.join(name) } else { target.clone() },
                },
            };
            entries.push(entry);
        }
        self.rootfs.record(&entries);
        Ok(entries)
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
        self.steps.push(Step::Module(ModuleStep { line: ins.line, module, digest, args, created_by: Self::nop(ins) }));
        Ok(())
    }

    fn app(&mut self, ins: &Instruction, label_prefix: Option<&'static str>) -> Result<()> {
        let instruction = ins.keyword.as_str();
        let usage = match ins.keyword {
            Keyword::Cni => "CNI NAME local://PATH...",
            Keyword::Csi => "CSI NAME local://PATH...",
            _ => "APP NAME local://PATH...",
        };
        let Some((name, sources)) = ins.args.split_first().filter(|(_, s)| !s.is_empty()) else {
            return Err(self.usage(ins, "expected a name and at least one source", usage));
        };
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(self.err(ins.line, ErrorKind::AppName { instruction, name: name.clone() }));
        }
        let mut found = Vec::new();
        let mut slashes = Vec::new();
        for source in sources {
            if is_remote(source) {
                let instead = "refer to it as local://PATH";
                let given = source.clone();
                return Err(self.err(ins.line, ErrorKind::RemoteSource { instruction, given, instead }));
            }
            let Some(path) = source.strip_prefix("local://") else {
                return Err(self.err(ins.line, ErrorKind::AppSourceScheme { instruction, given: source.clone() }));
            };
            let path = self.expand(ins, path)?;
            let matched = self.find(ins, &path)?;
            slashes.extend(std::iter::repeat_n(path.ends_with('/'), matched.len()));
            found.extend(matched);
        }
        let destination = format!("{APP_ROOT}/{name}/");
        let entries = self.place(ins, &found, &destination, false)?;
        let sources: Vec<Source<'_>> = found
            .iter()
            .zip(&slashes)
            .map(|((name, resolved), &trailing_slash)| Source { name, resolved, trailing_slash })
            .collect();
        let (app_type, files) = app::detect(self.ctx, name, &sources, &self.ignore).map_err(|e| match e {
            ContextError::Io(path, cause) => self.err(
                ins.line,
                ErrorKind::Context { path: path.to_string_lossy().into_owned(), cause: cause.to_string() },
            ),
            _ => self.err(ins.line, ErrorKind::SourceNotFound { instruction, given: name.clone() }),
        })?;
        let mut listed = Vec::with_capacity(files.len());
        for file in files {
            match file.to_str() {
                Some(f) => listed.push(f.to_owned()),
                None => {
                    let path = file.to_string_lossy().into_owned();
                    return Err(self.err(ins.line, ErrorKind::AppFileNotUtf8 { app: name.clone(), path }));
                }
            }
        }
        let app_type = app_type.map(|t| t.as_str().to_owned()).unwrap_or_default();
        match self.apps.iter_mut().find(|e| e.app.name == *name) {
            // A redefined application keeps its place, APPENV and APPCMDS (sealer keys those by name).
            Some(entry) => {
                entry.app.app_type = app_type;
                entry.app.files = listed;
                entry.app.version = "v1".into();
                entry.line = ins.line;
            }
            None => self.apps.push(AppEntry {
                app: Application {
                    name: name.clone(),
                    app_type,
                    files: listed,
                    version: "v1".into(),
                    env: BTreeMap::new(),
                    cmds: Vec::new(),
                },
                line: ins.line,
            }),
        }
        let summary = copy_summary(&found);
        self.steps.push(Step::Layer(LayerStep {
            line: ins.line,
            instruction: ins.keyword,
            app: Some(name.clone()),
            entries,
            destination,
            summary,
        }));
        if let Some(prefix) = label_prefix {
            self.labels.insert(format!("{prefix}{name}"), "true".into());
            self.metadata(ins, format!("/bin/sh -c #(nop) LABEL {prefix}{name}=\"true\""));
        }
        Ok(())
    }

    fn existing_app(&mut self, ins: &Instruction, name: &str) -> Result<&mut Application> {
        let line = ins.line;
        let instruction = ins.keyword.as_str();
        match self.apps.iter().position(|e| e.app.name == name) {
            Some(at) => Ok(&mut self.apps[at].app),
            None => Err(self.err(line, ErrorKind::UnknownApp { instruction, app: name.to_owned() })),
        }
    }

    /// APPENV values are not substituted: they are the application's own settings, used at deploy time.
    fn app_env(&mut self, ins: &Instruction) -> Result<()> {
        const USAGE: &str = "APPENV NAME KEY=VALUE...";
        let Some((name, words)) = ins.args.split_first().filter(|(_, w)| !w.is_empty()) else {
            return Err(self.usage(ins, "expected a name and at least one KEY=VALUE", USAGE));
        };
        let mut pairs = Vec::new();
        for word in words {
            match word.split_once('=') {
                Some((key, value)) if !key.is_empty() => pairs.push((key.to_owned(), value.to_owned())),
                _ => return Err(self.usage(ins, &format!("{word:?} is not KEY=VALUE"), USAGE)),
            }
        }
        let app = self.existing_app(ins, name)?;
        app.env.extend(pairs);
        Ok(())
    }

    /// APPCMDS commands are not substituted: they run at deploy time, in a shell of their own.
    fn app_cmds(&mut self, ins: &Instruction) -> Result<()> {
        const USAGE: &str = "APPCMDS NAME [\"COMMAND\", ...]";
        let rest = ins.rest.as_str();
        let split = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (name, json) = (&rest[..split], rest[split..].trim());
        if name.is_empty() || name.starts_with('[') {
            return Err(self.usage(ins, "expected an application name before the commands", USAGE));
        }
        let cmds = json_strings(json).map_err(|cause| {
            self.err(
                ins.line,
                ErrorKind::BadJson {
                    instruction: "APPCMDS",
                    what: "the commands",
                    example: "APPCMDS myapp [\"kubectl apply -f app.yaml\"]",
                    cause,
                },
            )
        })?;
        let name = name.to_owned();
        let app = self.existing_app(ins, &name)?;
        app.cmds = cmds;
        Ok(())
    }

    fn launch_(&mut self, ins: &Instruction, last: bool) -> Result<()> {
        if !last {
            return Err(self.err(ins.line, ErrorKind::NotLast("LAUNCH")));
        }
        if self.seen_cmd {
            return Err(self.err(ins.line, ErrorKind::CmdWithLaunch));
        }
        self.check_json(ins, "the application names", "LAUNCH [\"app1\", \"app2\"]")?;
        if ins.args.is_empty() {
            return Err(self.usage(ins, "expected at least one application", "LAUNCH [\"APP\", ...]"));
        }
        for name in &ins.args {
            let name = name.trim().to_owned();
            self.existing_app(ins, &name)?;
            self.launch.app_names.push(name);
        }
        Ok(())
    }

    /// CMDS commands are not substituted: they run at deploy time.
    fn cmds(&mut self, ins: &Instruction, last: bool) -> Result<()> {
        if !last {
            return Err(self.err(ins.line, ErrorKind::NotLast("CMDS")));
        }
        self.check_json(ins, "the commands", "CMDS [\"kubectl apply -f manifests/app.yaml\"]")?;
        if ins.args.is_empty() {
            return Err(self.usage(ins, "expected at least one command", "CMDS [\"COMMAND\", ...]"));
        }
        self.launch.cmds.extend(ins.args.iter().cloned());
        Ok(())
    }

    /// Deprecated CMD: its raw text is one more launch command.
    fn cmd(&mut self, ins: &Instruction) -> Result<()> {
        let text = ins.original.find(char::is_whitespace).map_or("", |at| ins.original[at..].trim());
        if text.is_empty() {
            return Err(self.usage(ins, "expected a command", "CMD COMMAND"));
        }
        self.seen_cmd = true;
        self.launch.cmds.push(text.to_owned());
        Ok(())
    }

    fn check_json(&self, ins: &Instruction, what: &'static str, example: &'static str) -> Result<()> {
        match &ins.json_error {
            Some(cause) => Err(self.err(
                ins.line,
                ErrorKind::BadJson { instruction: ins.keyword.as_str(), what, example, cause: cause.clone() },
            )),
            None => Ok(()),
        }
    }
}

/// How buildah's history names a copy's sources: one directory, one file,
/// or several.
fn copy_summary(found: &[(OsString, Resolved)]) -> &'static str {
    match found {
        [(_, one)] if one.kind == Kind::Dir => "dir",
        [_] => "file",
        _ => "multi",
    }
}

fn is_remote(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Sets an env var the way Docker does: in place if present, else appended.
fn set_env(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_owned(),
        None => env.push((key.to_owned(), value.to_owned())),
    }
}

/// A JSON array of strings, with nothing after it.
fn json_strings(text: &str) -> std::result::Result<Vec<String>, String> {
    if !text.starts_with('[') {
        return Err(if text.is_empty() { "nothing given".into() } else { format!("{text:?} is not a JSON array") });
    }
    serde_json::from_str::<Vec<String>>(text).map_err(|e| e.to_string())
}
