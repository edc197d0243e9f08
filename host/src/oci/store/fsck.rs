//! `Store::fsck`: checks every blob's content against its digest and every
//! blob reachable from `index.json` for presence, size and parseability,
//! and with `repair` removes corrupt blobs. What it found is a
//! [`FsckReport`]. Removing unreferenced blobs is gc's job, not fsck's.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::path::PathBuf;

use rayon::prelude::*;

use super::Store;
use crate::oci::digest::{Digest, Hasher};
use crate::oci::error::{Error, IoContext, Result};
use crate::oci::spec::Descriptor;

impl Store {
    /// Checks the store: every blob's content against its name, every blob
    /// reachable from `index.json` present with the right size, every index
    /// and manifest parseable. With `repair`, removes corrupt blobs (waiting
    /// for other processes to close the store first).
    pub fn fsck(&self, repair: bool) -> Result<FsckReport> {
        let _exclusive = if repair { Some(self.exclusive(true)?) } else { None };
        let mut report = FsckReport::default();
        let blob_dir = self.layout().blob_dir();
        // Hash blobs in parallel: fsck of a big store is bound by sha256.
        let blobs = self.list_blobs(&mut report.stray)?;
        let hashed: Vec<Option<(Digest, u64, bool)>> = blobs
            .into_par_iter()
            .map(|(digest, path)| {
                let mut hasher = Hasher::new();
                match File::open(&path).and_then(|mut f| io::copy(&mut f, &mut hasher)) {
                    Ok(len) => {
                        let intact = hasher.finish() == digest;
                        Ok(Some((digest, len, intact)))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None), // gc'd meanwhile
                    Err(e) => Err(Error::io("read", &path, e)),
                }
            })
            .collect::<Result<_>>()?;
        for (digest, len, intact) in hashed.into_iter().flatten() {
            report.blobs += 1;
            report.bytes += len;
            if !intact {
                report.issues.push(FsckIssue::Corrupt { digest });
            }
        }
        let corrupt: BTreeSet<Digest> = report.issues.iter().map(|i| i.digest().clone()).collect();
        let mut visited = BTreeSet::new();
        for top in self.layout().index()?.manifests {
            let referrer = top.ref_name().map(str::to_string).unwrap_or_else(|| "index.json".into());
            self.check_reachable(&top, &referrer, &corrupt, &mut visited, &mut report.issues);
        }
        if repair {
            for digest in &corrupt {
                let path = blob_dir.join(digest.hex());
                std::fs::remove_file(&path).at("remove corrupt blob", &path)?;
                report.removed.push(digest.clone());
            }
        }
        Ok(report)
    }

    fn check_reachable(
        &self,
        desc: &Descriptor,
        referrer: &str,
        corrupt: &BTreeSet<Digest>,
        visited: &mut BTreeSet<Digest>,
        issues: &mut Vec<FsckIssue>,
    ) {
        if !visited.insert(desc.digest.clone()) || corrupt.contains(&desc.digest) {
            return;
        }
        let path = self.layout().blob_path(&desc.digest);
        match std::fs::metadata(&path) {
            Err(_) => {
                issues.push(FsckIssue::Missing { digest: desc.digest.clone(), referrer: referrer.into() });
                return;
            }
            Ok(meta) if meta.len() != desc.size => {
                issues.push(FsckIssue::WrongSize {
                    digest: desc.digest.clone(),
                    referrer: referrer.into(),
                    expected: desc.size,
                    actual: meta.len(),
                });
                return;
            }
            Ok(_) => {}
        }
        match self.layout().children(desc) {
            Ok(children) => {
                let referrer = desc.digest.to_string();
                for child in &children {
                    self.check_reachable(child, &referrer, corrupt, visited, issues);
                }
            }
            Err(e) => issues.push(FsckIssue::Unreadable { digest: desc.digest.clone(), reason: e.to_string() }),
        }
    }
}

/// What [`Store::fsck`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FsckReport {
    /// Blobs checked.
    pub blobs: usize,
    /// Their total size.
    pub bytes: u64,
    /// Problems, blob checks first.
    pub issues: Vec<FsckIssue>,
    /// Files in `blobs/sha256` whose names are not digests.
    pub stray: Vec<PathBuf>,
    /// Corrupt blobs removed (with `repair`).
    pub removed: Vec<Digest>,
}

impl FsckReport {
    /// Whether the store has no corrupt, missing or unreadable blob.
    pub fn is_ok(&self) -> bool {
        self.issues.is_empty()
    }
}

/// One problem [`Store::fsck`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsckIssue {
    /// The blob's content does not hash to its name.
    Corrupt {
        /// The blob's name.
        digest: Digest,
    },
    /// A referenced blob is absent.
    Missing {
        /// The missing blob.
        digest: Digest,
        /// The image name or blob that refers to it.
        referrer: String,
    },
    /// A referenced blob's size differs from its descriptor.
    WrongSize {
        /// The blob.
        digest: Digest,
        /// The image name or blob that refers to it.
        referrer: String,
        /// Size in the descriptor.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// An index or manifest that cannot be parsed.
    Unreadable {
        /// The blob.
        digest: Digest,
        /// Why.
        reason: String,
    },
}

impl FsckIssue {
    /// The blob the issue is about.
    pub fn digest(&self) -> &Digest {
        match self {
            FsckIssue::Corrupt { digest }
            | FsckIssue::Missing { digest, .. }
            | FsckIssue::WrongSize { digest, .. }
            | FsckIssue::Unreadable { digest, .. } => digest,
        }
    }
}

impl std::fmt::Display for FsckIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsckIssue::Corrupt { digest } => write!(f, "corrupt blob {digest}: content does not match its digest"),
            FsckIssue::Missing { digest, referrer } => write!(f, "missing blob {digest} (referenced by {referrer})"),
            FsckIssue::WrongSize { digest, referrer, expected, actual } => {
                write!(f, "blob {digest} has {actual} bytes, {referrer} says {expected}")
            }
            FsckIssue::Unreadable { digest, reason } => write!(f, "unreadable blob {digest}: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::small_image;
    use super::*;
    use crate::oci::spec::Manifest;

    #[test]
    fn fsck_finds_corrupt_and_missing_blobs_and_repair_removes_corrupt_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let image = small_image(&store, "layer bytes");
        store.tag("ok:1", &image).unwrap();
        let clean = store.fsck(false).unwrap();
        assert!(clean.is_ok(), "{:?}", clean.issues);
        assert_eq!(clean.blobs, 3);

        let manifest: Manifest = store.layout().read_json(&image).unwrap();
        let layer = &manifest.layers[0];
        std::fs::write(store.layout().blob_path(&layer.digest), b"layer bytez").unwrap();
        std::fs::remove_file(store.layout().blob_path(&manifest.config.digest)).unwrap();
        std::fs::write(store.layout().blob_dir().join("not-a-digest"), b"").unwrap();
        let report = store.fsck(false).unwrap();
        assert!(!report.is_ok());
        assert!(report.issues.contains(&FsckIssue::Corrupt { digest: layer.digest.clone() }));
        assert!(report.issues.contains(&FsckIssue::Missing {
            digest: manifest.config.digest.clone(),
            referrer: image.digest.to_string()
        }));
        assert_eq!(report.stray, vec![store.layout().blob_dir().join("not-a-digest")]);

        let repaired = store.fsck(true).unwrap();
        assert_eq!(repaired.removed, vec![layer.digest.clone()]);
        assert!(!store.layout().has_blob(&layer.digest));
    }
}
