//! A deterministic tar writer, the one every host-made tar goes through
//! (export archives, the offline-images layer): fixed mtime (0 unless
//! asked), uid/gid 0, no user names, fixed modes; entries in the order
//! the caller gives them.

use std::io::{self, Read, Write};
use std::path::Path;

use super::error::{Error, IoContext, Result};

/// Writes tar entries with fixed metadata into `out`.
pub struct TarWriter<'a> {
    inner: tar::Builder<&'a mut dyn Write>,
    mtime: u64,
}

impl<'a> TarWriter<'a> {
    /// A writer whose entries all have mtime 0.
    pub fn new(out: &'a mut dyn Write) -> TarWriter<'a> {
        TarWriter::with_mtime(out, 0)
    }

    /// A writer whose entries all have mtime `mtime` (a build's
    /// `SOURCE_DATE_EPOCH`).
    pub fn with_mtime(out: &'a mut dyn Write, mtime: u64) -> TarWriter<'a> {
        TarWriter { inner: tar::Builder::new(out), mtime }
    }

    fn header(&self, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(self.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    /// A directory entry, mode 0755.
    pub fn dir(&mut self, path: &str) -> Result<()> {
        let mut h = self.header(tar::EntryType::Directory, 0, 0o755);
        self.inner.append_data(&mut h, path, io::empty()).at("write archive entry", Path::new(path))
    }

    /// A file entry holding `bytes`, mode 0644.
    pub fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let mut h = self.header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
        self.inner.append_data(&mut h, path, bytes).at("write archive entry", Path::new(path))
    }

    /// Appends `size` bytes from `reader` as a file entry (mode 0644),
    /// failing if it yields fewer; `source` names it in errors.
    pub fn stream(&mut self, path: &str, size: u64, reader: impl Read, source: &Path) -> Result<()> {
        let mut h = self.header(tar::EntryType::Regular, size, 0o644);
        let mut exact = ExactReader { inner: reader, left: size };
        self.inner.append_data(&mut h, path, &mut exact).at("copy into archive", source)?;
        if exact.left != 0 {
            return Err(Error::Invalid(format!("{} ended {} bytes early", source.display(), exact.left)));
        }
        Ok(())
    }

    /// Writes the end-of-archive blocks.
    pub fn finish(self) -> Result<()> {
        self.inner.into_inner().map(drop).at("finish archive", Path::new("tar"))
    }
}

/// A reader that yields at most `left` bytes, so a blob that changed size
/// since its header was written cannot corrupt the archive.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = (buf.len() as u64).min(self.left) as usize;
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}
