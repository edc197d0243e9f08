//! The `pack` builtin: turns the staged tree at `/in` into one layer's tar
//! stream, written to stdout, byte for byte the same for the same tree.
//!
//! The host lists the tree in the request's `files` (sorted by path, with
//! the mode bits and link targets WASI cannot show a module); the packer
//! writes one entry per listed file in that order with:
//!
//! - uid/gid 0 and no user or group names, no xattrs, no atime/ctime;
//! - every mtime set to the image's `sourceDateEpoch`, so a copy of the
//!   tree with other timestamps packs to the same bytes (reading real
//!   mtimes would also cost one host call per file);
//! - modes as listed, symlinks and hard links (to the first name) kept as
//!   links, PAX headers for names over 100 bytes, and the two zero blocks
//!   that end an archive.
//!
//! Reading is designed for WASI, where each host call is costly: a small
//! file is read with one `read` call into a buffer one byte longer than its
//! listed size (which also shows a file that grew), big files in 8 MiB
//! chunks, and output leaves through a 1 MiB buffer. A file whose size
//! differs from the listing fails the step with a clear error rather than
//! producing a layer that disagrees with what the host saw.

pub mod tarfmt;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use sealbox_guest::{FileEntry, FileKind, Request, Response};
use serde::Deserialize;

use tarfmt::{END_OF_ARCHIVE, EntryHeader, EntryType};

/// The largest piece of a file held in memory at once.
pub const READ_CHUNK: usize = 8 << 20;

/// The step's configuration (`config` in the request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackConfig {
    /// A directory (relative, `/`-separated) to place the tree under, as
    /// `COPY src /dest` does; its parent directories get entries too.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Where under `/in` a file's content is read from, by its path in the
    /// layer, for files whose content lives elsewhere (`COPY rootfs/ .`
    /// maps `rootfs/x` to `x`). This is the packer's own business, so it is
    /// config and not part of the step contract's file entries.
    #[serde(default)]
    pub sources: HashMap<String, String>,
}

/// What a pack wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackStats {
    /// Tar entries (PAX headers not counted).
    pub entries: u64,
    /// Bytes of tar stream.
    pub bytes: u64,
}

/// Why a pack failed; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError(pub String);

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PackError {}

fn err(msg: impl Into<String>) -> PackError {
    PackError(msg.into())
}

/// Packs the request's `files` under `root` (`/in` in the sandbox) into
/// `out` and returns the response the module reports.
pub fn handle(req: &Request, root: &Path, out: &mut dyn Write) -> Result<Response, PackError> {
    let config: PackConfig = if req.config.is_null() {
        PackConfig::default()
    } else {
        serde_json::from_value(req.config.clone()).map_err(|e| err(format!("invalid pack config: {e}")))?
    };
    let stats = pack(root, &req.files, req.image.source_date_epoch, &config, out)?;
    let mut response = Response::success();
    response.data = serde_json::json!({"entries": stats.entries, "bytes": stats.bytes});
    Ok(response)
}

/// Writes the tar stream of `files` (read from under `root`) to `out`.
pub fn pack(
    root: &Path,
    files: &[FileEntry],
    epoch: u64,
    config: &PackConfig,
    out: &mut dyn Write,
) -> Result<PackStats, PackError> {
    pack_with_chunk(root, files, epoch, config, out, READ_CHUNK)
}

fn pack_with_chunk(
    root: &Path,
    files: &[FileEntry],
    epoch: u64,
    config: &PackConfig,
    out: &mut dyn Write,
    chunk: usize,
) -> Result<PackStats, PackError> {
    let prefix = match config.prefix.as_deref().map(|p| p.trim_matches('/')) {
        None | Some("") => String::new(),
        Some(p) => {
            check_relative(p).map_err(|why| err(format!("invalid prefix {p:?}: {why}")))?;
            format!("{p}/")
        }
    };
    let mut w = Writer { out, stats: PackStats::default(), header: Vec::with_capacity(3 * tarfmt::BLOCK) };
    // Parents of the prefix first, as `COPY` into a new directory makes them.
    let mut parent_end = 0;
    while let Some(i) = prefix[parent_end..].find('/') {
        parent_end += i + 1;
        w.entry(&EntryHeader {
            name: &prefix[..parent_end],
            kind: EntryType::Dir,
            mode: 0o755,
            size: 0,
            mtime: epoch,
            link: None,
        })?;
    }
    let mut buf = Vec::new();
    let mut seen_files = std::collections::BTreeSet::new();
    for entry in files {
        check_relative(&entry.path)
            .map_err(|why| err(format!("invalid path {:?} in the file list: {why}", entry.path)))?;
        let name = match entry.kind {
            FileKind::Dir => format!("{prefix}{}/", entry.path),
            _ => format!("{prefix}{}", entry.path),
        };
        let mut header =
            EntryHeader { name: &name, kind: EntryType::Dir, mode: entry.mode, size: 0, mtime: epoch, link: None };
        let hardlink_target;
        match (entry.kind, &entry.hardlink, &entry.link) {
            (FileKind::Dir, _, _) => w.entry(&header)?,
            (FileKind::Symlink, _, Some(target)) => {
                if target.is_empty() || target.contains('\0') {
                    return Err(err(format!("{}: invalid symlink target {target:?}", entry.path)));
                }
                header.kind = EntryType::Symlink;
                header.link = Some(target);
                w.entry(&header)?;
            }
            (FileKind::Symlink, _, None) => return Err(err(format!("{}: symlink without a target", entry.path))),
            (FileKind::File, Some(first), _) => {
                if !seen_files.contains(first.as_str()) {
                    return Err(err(format!("{}: hard link to {first:?}, which is not an earlier file", entry.path)));
                }
                hardlink_target = format!("{prefix}{first}");
                header.kind = EntryType::HardLink;
                header.link = Some(&hardlink_target);
                w.entry(&header)?;
            }
            (FileKind::File, None, _) => {
                header.kind = EntryType::File;
                header.size = entry.size;
                // The content may live elsewhere under /in than where it
                // goes in the layer (`COPY rootfs/ .` maps `rootfs/x` to `x`).
                let source = config.sources.get(&entry.path).unwrap_or(&entry.path);
                check_relative(source)
                    .map_err(|why| err(format!("invalid source path {source:?} in the file list: {why}")))?;
                w.file(&header, &root.join(source), source, &mut buf, chunk)?;
                seen_files.insert(entry.path.as_str());
            }
        }
    }
    w.write(&END_OF_ARCHIVE, "end of archive")?;
    w.out.flush().map_err(|e| err(format!("cannot write the layer stream: {e}")))?;
    Ok(w.stats)
}

/// Checks a path is relative, `/`-separated, without empty, `.` or `..`
/// components or NUL bytes.
fn check_relative(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.contains('\0') {
        return Err("NUL byte");
    }
    if path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("empty, `.` or `..` component");
    }
    Ok(())
}

struct Writer<'a> {
    out: &'a mut dyn Write,
    stats: PackStats,
    header: Vec<u8>,
}

impl Writer<'_> {
    fn write(&mut self, bytes: &[u8], what: &str) -> Result<(), PackError> {
        self.out.write_all(bytes).map_err(|e| err(format!("cannot write {what} to the layer stream: {e}")))?;
        self.stats.bytes += bytes.len() as u64;
        Ok(())
    }

    fn entry(&mut self, h: &EntryHeader<'_>) -> Result<(), PackError> {
        self.header.clear();
        tarfmt::write_header(&mut self.header, h);
        let header = std::mem::take(&mut self.header);
        let result = self.write(&header, h.name);
        self.header = header;
        self.stats.entries += 1;
        result
    }

    /// Writes a file entry: header, exactly `h.size` bytes read from
    /// `path`, padding.
    fn file(
        &mut self,
        h: &EntryHeader<'_>,
        path: &Path,
        shown: &str,
        buf: &mut Vec<u8>,
        chunk: usize,
    ) -> Result<(), PackError> {
        if h.size == 0 {
            // Nothing to read: skip the open and close (two host calls per
            // file in WASI, and trees can hold many empty files).
            return self.entry(h);
        }
        let mut file = File::open(path).map_err(|e| err(format!("cannot open {shown}: {e}")))?;
        self.entry(h)?;
        let mut left = h.size;
        while left > 0 {
            let want = left.min(chunk as u64) as usize;
            let last = want as u64 == left;
            // For the last piece, room for one byte more: if the read fills
            // it, the file grew since it was listed.
            let room = if last { want + 1 } else { want };
            if buf.len() < room {
                buf.resize(room, 0);
            }
            let got =
                read_up_to(&mut file, &mut buf[..room], want).map_err(|e| err(format!("cannot read {shown}: {e}")))?;
            if got < want {
                return Err(err(format!(
                    "{shown} shrank while being packed: listed with {} bytes, read {}",
                    h.size,
                    h.size - left + got as u64
                )));
            }
            if got > want {
                return Err(err(format!("{shown} grew while being packed: listed with {} bytes", h.size)));
            }
            self.write(&buf[..want], shown)?;
            left -= want as u64;
        }
        let zeros = [0u8; tarfmt::BLOCK];
        self.write(&zeros[..tarfmt::padding(h.size)], shown)
    }
}

/// Reads into `buf` until at least `want` bytes are in or the file ends;
/// one call when the file has them, since a read of a regular file returns
/// less than asked only at its end.
fn read_up_to(file: &mut File, buf: &mut [u8], want: usize) -> std::io::Result<usize> {
    let mut got = 0;
    while got < want {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests;
