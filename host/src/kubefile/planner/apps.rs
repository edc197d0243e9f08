//! The application instructions: APP, CNI and CSI (an application and its layer), APPENV and
//! APPCMDS (its settings), and LAUNCH, CMDS and CMD (what the image launches).

use std::collections::BTreeMap;

use super::copy::{copy_summary, is_remote};
use super::{AppEntry, Planner};
use crate::kubefile::app::{self, Source};
use crate::kubefile::context::ContextError;
use crate::kubefile::error::{ErrorKind, Result};
use crate::kubefile::extension::{APP_ROOT, Application};
use crate::kubefile::parser::{Instruction, Keyword};
use crate::kubefile::plan::{LayerStep, PlanStep};

impl Planner<'_> {
    pub(super) fn app(&mut self, ins: &Instruction, label_prefix: Option<&'static str>) -> Result<()> {
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
        self.steps.push(PlanStep::Layer(LayerStep {
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
    pub(super) fn app_env(&mut self, ins: &Instruction) -> Result<()> {
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
    pub(super) fn app_cmds(&mut self, ins: &Instruction) -> Result<()> {
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

    pub(super) fn launch_(&mut self, ins: &Instruction, last: bool) -> Result<()> {
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
    pub(super) fn cmds(&mut self, ins: &Instruction, last: bool) -> Result<()> {
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
    pub(super) fn cmd(&mut self, ins: &Instruction) -> Result<()> {
        // sealer keeps the rest of the line after `CMD ` as written, blanks
        // included (its processCmd splits node.Original at "CMD "), and
        // launches exactly that text. Unlike sealer, a second "CMD " in the
        // text does not cut it short.
        // Split at the blank, whatever its width: a line ending in a
        // multi-byte blank such as U+0085 has no text after it (found by
        // AFL++ as a slice through that character).
        let text =
            ins.original.split_once(char::is_whitespace).map_or("", |(_, rest)| rest.trim_end_matches(['\r', '\n']));
        if text.trim().is_empty() {
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

/// A JSON array of strings, with nothing after it.
fn json_strings(text: &str) -> std::result::Result<Vec<String>, String> {
    if !text.starts_with('[') {
        return Err(if text.is_empty() { "nothing given".into() } else { format!("{text:?} is not a JSON array") });
    }
    serde_json::from_str::<Vec<String>>(text).map_err(|e| e.to_string())
}
