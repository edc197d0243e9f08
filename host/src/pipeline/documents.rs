//! The documents view of a step's tree: every YAML/JSON document under it,
//! decoded once by the `documents` builtin in the sandbox (Kubernetes'
//! YAML rules, `sealbox_formats::yaml`), for every pipeline step granted
//! `documents: true`, which sees it read-only at `/documents`
//! (format: `builtins/documents`, `guest-sdk/schema/documents.schema.json`).
//!
//! A view is made once per tree digest and kept in the step cache: the
//! entry names the view file as a blob of the store (which keeps it from
//! garbage collection) with the builtin's response. A view can be large,
//! so unlike a small step output it is not inlined in the entry. Policies
//! read it, so only a view made on this machine is used, and its bytes are
//! checked against the entry's digest when they are copied out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sealbox_guest::{FileEntry, Status};

use super::cache::{KeyBuilder, StepCache};
use super::steps::{ModuleRunner, RunRequest};
use crate::oci::{Digest, Store};

/// The builtin that makes the view.
pub const BUILTIN: &str = "documents";
/// The view's file in the directory mounted at `/documents`.
pub const VIEW_FILE: &str = "documents.jsonl";
/// The media type of a view kept in the store.
pub const MEDIA_TYPE: &str = "application/vnd.sealbox.documents.v1+jsonl";

/// A view as the step cache keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedDocuments {
    /// Always [`MEDIA_TYPE`]: how a registry cache tells this entry apart.
    pub media_type: String,
    /// The view file's blob.
    pub digest: String,
    pub size: u64,
    /// The builtin's answer (counts of files, documents and errors).
    pub response: sealbox_guest::Response,
}

/// Where a view is made and kept.
pub struct ViewMaker<'a> {
    pub steps: &'a ModuleRunner,
    pub cache: Option<&'a StepCache>,
    pub store: &'a Store,
    pub work: &'a Path,
}

impl ViewMaker<'_> {
    /// A fresh directory holding the view of the tree at `input` (listed
    /// as `files`; content digest `tree` when the cache is on), from the
    /// step cache or made by the builtin.
    pub fn view(&self, input: &Path, files: &[FileEntry], tree: Option<&str>) -> Result<PathBuf> {
        let module = self.steps.builtin(BUILTIN)?;
        let key = tree.map(|t| KeyBuilder::new("documents").part(&module.digest).part(t).finish());
        if let (Some(key), Some(cache)) = (&key, self.cache)
            && let Some(hit) = cache.get::<CachedDocuments>(key)
            && let Some(dir) = self.cached_copy(&hit)?
        {
            return Ok(dir);
        }
        let mut request = RunRequest::new(serde_json::Value::Null);
        request.files = files.to_vec();
        let (outcome, out) = self.steps.run("documents", &module, input, self.work, request, None)?;
        if outcome.response.status != Status::Success {
            bail!("the documents view failed: {:?}", outcome.response.diagnostics);
        }
        let view = out.join(VIEW_FILE);
        if !outcome.output.iter().any(|e| e.path == VIEW_FILE) {
            bail!("the documents builtin wrote no {VIEW_FILE}");
        }
        if let (Some(key), Some(cache)) = (&key, self.cache) {
            let (digest, size) = self.keep(&view)?;
            let entry = CachedDocuments {
                media_type: MEDIA_TYPE.into(),
                digest: digest.to_string(),
                size,
                response: outcome.response,
            };
            cache.put(key, &entry)?;
        }
        Ok(out)
    }

    /// Stores the view file as a blob.
    fn keep(&self, view: &Path) -> Result<(Digest, u64)> {
        let mut file = std::fs::File::open(view).with_context(|| format!("reading {}", view.display()))?;
        let mut writer = self.store.blob_writer()?;
        std::io::copy(&mut file, &mut writer).with_context(|| format!("storing {}", view.display()))?;
        Ok(writer.commit()?)
    }

    /// The cached view copied into a fresh directory, or `None` when its
    /// blob is gone or does not hash to the entry's digest (then it is
    /// made again).
    fn cached_copy(&self, hit: &CachedDocuments) -> Result<Option<PathBuf>> {
        let Ok(digest) = Digest::parse(&hit.digest) else { return Ok(None) };
        if hit.media_type != MEDIA_TYPE {
            return Ok(None);
        }
        let Ok(blob) = std::fs::File::open(self.store.layout().blob_path(&digest)) else { return Ok(None) };
        let dir = tempfile::Builder::new().prefix("documents-").tempdir_in(self.work)?.keep();
        let path = dir.join(VIEW_FILE);
        let mut out = std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
        let mut hasher = crate::oci::digest::Hasher::new();
        let mut reader = blob.take(hit.size.saturating_add(1));
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).context("reading a cached documents view")?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).with_context(|| format!("writing {}", path.display()))?;
        }
        if hasher.len() != hit.size || hasher.finish() != digest {
            std::fs::remove_dir_all(&dir).ok();
            return Ok(None);
        }
        Ok(Some(dir))
    }
}

#[cfg(test)]
#[path = "documents_tests.rs"]
mod tests;
