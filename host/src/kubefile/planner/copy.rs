//! COPY and ADD, and the sources and destinations APP, CNI and CSI share with them: sources
//! resolved inside the context, destinations resolved over the rootfs as buildah does.

use std::ffi::OsString;
use std::path::PathBuf;

use super::Planner;
use crate::kubefile::context::{self, ContextError, Kind, Resolved};
use crate::kubefile::error::{ErrorKind, Result};
use crate::kubefile::parser::Instruction;
use crate::kubefile::plan::{CopyEntry, EntryKind, LayerStep, PlanStep};

const COPY_USAGE: &str = "COPY SRC... DEST";
const ADD_USAGE: &str = "ADD SRC... DEST";

impl Planner<'_> {
    pub(super) fn copy(&mut self, ins: &Instruction, add: bool) -> Result<()> {
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
        self.steps.push(PlanStep::Layer(LayerStep {
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
    pub(super) fn find(&self, ins: &Instruction, source: &str) -> Result<Vec<(OsString, Resolved)>> {
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
    pub(super) fn place(
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
        let target = self.rootfs.resolve(&parts.iter().collect::<PathBuf>());
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
}

/// How buildah's history names a copy's sources: one directory, one file,
/// or several.
pub(super) fn copy_summary(found: &[(OsString, Resolved)]) -> &'static str {
    match found {
        [(_, one)] if one.kind == Kind::Dir => "dir",
        [_] => "file",
        _ => "multi",
    }
}

pub(super) fn is_remote(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}
