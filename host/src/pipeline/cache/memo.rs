//! The memo of file digests by stat fingerprint, which makes an
//! unchanged rebuild's cache keys cheap. Not the cache entries themselves.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::tree::FileStat;

/// Remembers the content digest of files by their stat fingerprint, as
/// git's index does, so an unchanged file is not read again just to
/// compute a cache key. Keys stay content digests; only the reading is
/// saved. A file counts as unchanged when its device, inode, size, mtime
/// and ctime (which no user can set) are all the same.
pub struct HashMemo {
    path: Option<PathBuf>,
    /// What the memo file held, sorted by file: looked up by every worker
    /// of an unchanged rebuild at once, so without a lock.
    loaded: Vec<Record>,
    /// What this build learnt.
    learnt: Mutex<HashMap<FileId, (Fingerprint, [u8; 32])>>,
}

/// A file's device and inode.
type FileId = (u64, u64);
/// Size, mtime and ctime (seconds and nanoseconds).
type Fingerprint = (u64, i64, i64, i64, i64);

/// One remembered file.
#[derive(Debug, Clone, Copy)]
struct Record {
    id: FileId,
    fingerprint: Fingerprint,
    digest: [u8; 32],
}

/// The memo file: this line, then one record per file, sorted by file, of
/// seven little-endian 64-bit numbers (device, inode, size, mtime, mtime
/// ns, ctime, ctime ns) and the 32 bytes of its SHA-256. Fixed-size records
/// load in a few milliseconds, where JSON of 40,000 files took 25 ms of an
/// unchanged rebuild's 300.
const MAGIC: &[u8; 16] = b"sealbox memo v3\n";
const RECORD: usize = 7 * 8 + 32;
/// How a digest reads in a cache key.
const PREFIX: &str = "sha256:";

impl HashMemo {
    /// Loads the memo of the store at `store_root` (empty when caching is
    /// off or the file is missing or damaged: it only saves reading).
    pub fn load(store_root: &Path, enabled: bool) -> Self {
        let path = enabled.then(|| store_root.join(".sealbox").join("hash-memo.v3"));
        let loaded = path.as_ref().and_then(|p| std::fs::read(p).ok()).and_then(|b| parse(&b)).unwrap_or_default();
        HashMemo { path, loaded, learnt: Default::default() }
    }

    /// The digest (`sha256:…`) of the file `stat` describes, from the memo
    /// when its fingerprint is unchanged, else from `compute` (and
    /// remembered).
    pub fn digest(&self, stat: &FileStat, compute: impl FnOnce() -> Result<String>) -> Result<String> {
        // Numbers, not strings: an unchanged rebuild looks up every file.
        let id = (stat.dev, stat.ino);
        let fingerprint = (stat.size, stat.mtime, stat.mtime_nsec, stat.ctime, stat.ctime_nsec);
        let known = match self.loaded.binary_search_by_key(&id, |r| r.id) {
            Ok(i) if self.loaded[i].fingerprint == fingerprint => Some(self.loaded[i].digest),
            _ => self.lock().get(&id).filter(|(fp, _)| *fp == fingerprint).map(|(_, digest)| *digest),
        };
        if let Some(digest) = known {
            return Ok(digest_text(&digest));
        }
        let digest = compute()?;
        let raw = digest.strip_prefix(PREFIX).and_then(|h| <[u8; 32]>::try_from(hex::decode(h).ok()?).ok());
        if let (Some(raw), Some(_)) = (raw, &self.path) {
            self.lock().insert(id, (fingerprint, raw));
        }
        Ok(digest)
    }

    /// Writes the memo back if this build learnt something.
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let learnt = self.lock();
        if learnt.is_empty() {
            return Ok(());
        }
        let mut records: Vec<Record> = self.loaded.iter().filter(|r| !learnt.contains_key(&r.id)).copied().collect();
        records.extend(learnt.iter().map(|(&id, &(fingerprint, digest))| Record { id, fingerprint, digest }));
        drop(learnt);
        records.sort_unstable_by_key(|r| r.id);
        let mut bytes = Vec::with_capacity(MAGIC.len() + records.len() * RECORD);
        bytes.extend_from_slice(MAGIC);
        for r in &records {
            let (size, mtime, mtime_ns, ctime, ctime_ns) = r.fingerprint;
            for n in [r.id.0, r.id.1, size] {
                bytes.extend_from_slice(&n.to_le_bytes());
            }
            for n in [mtime, mtime_ns, ctime, ctime_ns] {
                bytes.extend_from_slice(&n.to_le_bytes());
            }
            bytes.extend_from_slice(&r.digest);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
        tmp.write_all(&bytes).context("saving the file digest memo")?;
        tmp.persist(path).context("saving the file digest memo")?;
        // The JSON memo of earlier versions is never read again.
        let _ = std::fs::remove_file(dir.join("hash-memo.v2.json"));
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileId, (Fingerprint, [u8; 32])>> {
        self.learnt.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `sha256:` and the digest in lower-case hex. Written into one buffer:
/// an unchanged rebuild makes one for every file of the context, and
/// `hex::encode` builds its string a char at a time.
fn digest_text(digest: &[u8; 32]) -> String {
    let mut text = [0u8; PREFIX.len() + 64];
    text[..PREFIX.len()].copy_from_slice(PREFIX.as_bytes());
    // Cannot fail: the buffer holds exactly 64 hex digits.
    let _ = hex::encode_to_slice(digest, &mut text[PREFIX.len()..]);
    std::str::from_utf8(&text).map(str::to_owned).unwrap_or_default()
}

/// Reads a memo file, sorted by file; `None` when it is not one (a
/// damaged memo is dropped, never half read).
fn parse(bytes: &[u8]) -> Option<Vec<Record>> {
    let records = bytes.strip_prefix(MAGIC.as_slice())?;
    if records.len() % RECORD != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(records.len() / RECORD);
    for r in records.chunks_exact(RECORD) {
        let n = |i: usize| r[i * 8..i * 8 + 8].try_into().ok().map(u64::from_le_bytes);
        let s = |i: usize| r[i * 8..i * 8 + 8].try_into().ok().map(i64::from_le_bytes);
        let digest: [u8; 32] = r[56..].try_into().ok()?;
        out.push(Record { id: (n(0)?, n(1)?), fingerprint: (n(2)?, s(3)?, s(4)?, s(5)?, s(6)?), digest });
    }
    // Saved sorted; a file that is not is still usable once sorted.
    if !out.is_sorted_by_key(|r| r.id) {
        out.sort_unstable_by_key(|r| r.id);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn sha(bytes: &[u8]) -> String {
        format!("{PREFIX}{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)))
    }

    #[test]
    fn memo_rereads_only_changed_files_and_survives_a_reload() {
        let store = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        std::fs::write(files.path().join("f"), "one").unwrap();
        let dir = cap_std::fs::Dir::open_ambient_dir(files.path(), cap_std::ambient_authority()).unwrap();
        let reads = Cell::new(0);
        let digest_of = |memo: &HashMemo| {
            let stat = FileStat::of(&dir.symlink_metadata("f").unwrap());
            memo.digest(&stat, || {
                reads.set(reads.get() + 1);
                Ok(sha(&dir.read("f")?))
            })
            .unwrap()
        };
        let memo = HashMemo::load(store.path(), true);
        assert_eq!(digest_of(&memo), sha(b"one"));
        assert_eq!(digest_of(&memo), sha(b"one"));
        assert_eq!(reads.get(), 1, "an unchanged file is not read again");
        memo.save().unwrap();

        let reloaded = HashMemo::load(store.path(), true);
        assert_eq!(digest_of(&reloaded), sha(b"one"));
        assert_eq!(reads.get(), 1, "the memo survives a reload");

        // Rewriting the file changes its ctime, whatever its mtime says.
        std::fs::write(files.path().join("f"), "two").unwrap();
        assert_eq!(digest_of(&reloaded), sha(b"two"));
        assert_eq!(reads.get(), 2);

        let off = HashMemo::load(store.path(), false);
        digest_of(&off);
        digest_of(&off);
        assert_eq!(reads.get(), 4, "with caching off nothing is remembered");
    }

    #[test]
    fn a_damaged_memo_is_dropped_whole() {
        let store = tempfile::tempdir().unwrap();
        let memo = HashMemo::load(store.path(), true);
        let stat = FileStat { dev: 1, ino: 2, size: 3, mtime: 4, mtime_nsec: 5, ctime: 6, ctime_nsec: 7 };
        memo.digest(&stat, || Ok(sha(b"abc"))).unwrap();
        memo.save().unwrap();
        let file = store.path().join(".sealbox/hash-memo.v3");
        let saved = std::fs::read(&file).unwrap();
        assert_eq!(saved.len(), MAGIC.len() + RECORD);
        assert_eq!(parse(&saved).map(|m| m.len()), Some(1));
        // Cut short, or from another version: read as empty, never half.
        for damaged in [&saved[..saved.len() - 1], &saved[1..], b"[]".as_slice()] {
            assert!(parse(damaged).is_none());
            std::fs::write(&file, damaged).unwrap();
            let reloaded = HashMemo::load(store.path(), true);
            let computed = Cell::new(false);
            reloaded.digest(&stat, || Ok(sha(b"abc")).inspect(|_| computed.set(true))).unwrap();
            assert!(computed.get(), "nothing was read from a damaged memo");
        }
    }

    #[test]
    fn a_save_keeps_what_was_loaded_and_adds_what_was_learnt_in_order() {
        let store = tempfile::tempdir().unwrap();
        let stat =
            |ino: u64, ctime: i64| FileStat { dev: 1, ino, size: 3, mtime: 0, mtime_nsec: 0, ctime, ctime_nsec: 0 };
        let first = HashMemo::load(store.path(), true);
        for ino in [9, 2, 5] {
            first.digest(&stat(ino, 0), || Ok(sha(&ino.to_le_bytes()))).unwrap();
        }
        first.save().unwrap();
        let second = HashMemo::load(store.path(), true);
        assert_eq!(second.loaded.iter().map(|r| r.id.1).collect::<Vec<_>>(), [2, 5, 9]);
        // One file changed (its ctime moved), one is new.
        second.digest(&stat(5, 1), || Ok(sha(b"changed"))).unwrap();
        second.digest(&stat(7, 0), || Ok(sha(b"new"))).unwrap();
        second.save().unwrap();
        let third = HashMemo::load(store.path(), true);
        assert_eq!(third.loaded.iter().map(|r| r.id.1).collect::<Vec<_>>(), [2, 5, 7, 9]);
        let unread = |s: FileStat| third.digest(&s, || anyhow::bail!("read again")).unwrap();
        assert_eq!(unread(stat(5, 1)), sha(b"changed"));
        assert_eq!(unread(stat(9, 0)), sha(&9u64.to_le_bytes()));
        assert!(third.digest(&stat(5, 0), || anyhow::bail!("read again")).is_err(), "the old fingerprint is gone");
    }
}
