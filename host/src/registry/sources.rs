//! Where blobs of the store are known to be in registries (from earlier
//! pulls and pushes), so a push to another repository of the same registry
//! can ask for a cross-repository mount instead of uploading.
//!
//! Only a hint: a lost or stale entry costs an upload, never correctness
//! (the registry checks the digest of what it mounts). Kept in
//! `<store>/.sealbox/registry-sources.json`, rewritten atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::reference::Reference;
use crate::oci::Digest;

/// Repositories per blob; at most this many are remembered for one blob.
const MAX_PER_BLOB: usize = 8;

/// The known locations of blobs.
pub struct Sources {
    path: PathBuf,
    known: BTreeMap<String, BTreeSet<String>>,
}

impl Sources {
    /// Reads the hints of the store at `root` (none when missing or damaged).
    pub fn open(root: &Path) -> Sources {
        let path = root.join(".sealbox").join("registry-sources.json");
        let known = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Sources { path, known }
    }

    /// A repository of `dest`'s registry, other than `dest`'s own, known to
    /// hold `digest`.
    pub fn mount_source(&self, digest: &Digest, dest: &Reference) -> Option<String> {
        let prefix = format!("{}/", dest.registry);
        self.known
            .get(&digest.to_string())?
            .iter()
            .filter_map(|loc| loc.strip_prefix(&prefix))
            .find(|repo| *repo != dest.repository)
            .map(str::to_string)
    }

    /// Remembers that `at`'s repository holds `digests`. Failing to save
    /// is not an error: the hint is only an optimisation.
    pub fn record<'a>(mut self, digests: impl Iterator<Item = &'a Digest>, at: &Reference) {
        let loc = format!("{}/{}", at.registry, at.repository);
        for d in digests {
            let set = self.known.entry(d.to_string()).or_default();
            if set.len() < MAX_PER_BLOB {
                set.insert(loc.clone());
            }
        }
        let Some(dir) = self.path.parent() else { return };
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else { return };
        // One write, not one per JSON token.
        let Ok(bytes) = serde_json::to_vec(&self.known) else { return };
        if std::io::Write::write_all(&mut tmp, &bytes).is_ok() {
            tmp.persist(&self.path).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_come_from_another_repository_of_the_same_registry() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(".sealbox")).unwrap();
        let blob = Digest::of(b"layer");
        let pulled = Reference::parse("reg.io:5000/team/base:v1").unwrap();
        Sources::open(root.path()).record(std::iter::once(&blob), &pulled);

        let sources = Sources::open(root.path());
        let same_repo = Reference::parse("reg.io:5000/team/base:v2").unwrap();
        let other_repo = Reference::parse("reg.io:5000/team/app:v1").unwrap();
        let other_registry = Reference::parse("other.io/team/app:v1").unwrap();
        assert_eq!(sources.mount_source(&blob, &other_repo).as_deref(), Some("team/base"));
        assert_eq!(sources.mount_source(&blob, &same_repo), None, "no mount from a repository into itself");
        assert_eq!(sources.mount_source(&blob, &other_registry), None);
        assert_eq!(sources.mount_source(&Digest::of(b"other"), &other_repo), None);
    }

    #[test]
    fn a_damaged_file_is_no_hint_at_all() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(".sealbox")).unwrap();
        std::fs::write(root.path().join(".sealbox/registry-sources.json"), "not json").unwrap();
        let dest = Reference::parse("reg.io/x/y:1").unwrap();
        assert_eq!(Sources::open(root.path()).mount_source(&Digest::of(b"a"), &dest), None);
    }
}
