//! `sealbox.lock`: the digest of every module a build ran, by the path the
//! Kubefile names it with, and of every container image it carries, by
//! its reference. `sealbox build --lock` writes it; a build with a lock
//! file beside its Kubefile runs exactly the locked modules and fetches
//! exactly the locked images, whatever their tags name now.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The lock file's name, beside the Kubefile.
pub const LOCK_FILE: &str = "sealbox.lock";

const LOCK_VERSION: u32 = 1;

/// The contents of a lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lock {
    /// Always 1.
    pub lock_version: u32,
    /// Module path (as the Kubefile writes it) to `sha256:<hex>`.
    pub modules: BTreeMap<String, String>,
    /// Container image reference (as the image list has it) to the
    /// `sha256:<hex>` its tag resolved to (`--build-mode all`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
}

impl Lock {
    /// A lock holding `modules`.
    pub fn new(modules: BTreeMap<String, String>) -> Lock {
        Lock { lock_version: LOCK_VERSION, modules, images: BTreeMap::new() }
    }

    /// The same lock pinning `images` too.
    pub fn with_images(self, images: BTreeMap<String, String>) -> Lock {
        Lock { images, ..self }
    }

    /// Where the lock of `kubefile` lives.
    pub fn path_for(kubefile: &Path) -> PathBuf {
        kubefile.parent().unwrap_or(Path::new(".")).join(LOCK_FILE)
    }

    /// Reads the lock at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Lock>> {
        let bytes = match super::small_file::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let lock: Lock = serde_json::from_slice(&bytes).with_context(|| {
            format!("{}: not a valid lock file (rewrite it with `sealbox build --lock`)", path.display())
        })?;
        if lock.lock_version != LOCK_VERSION {
            bail!(
                "{}: lockVersion {} is not supported (this sealbox writes {LOCK_VERSION})",
                path.display(),
                lock.lock_version
            );
        }
        Ok(Some(lock))
    }

    /// Writes the lock to `path` (replacing it as a whole, never half-written).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing {}", path.display()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Checks that the module at `path` with `digest` is the locked one.
    pub fn check(&self, path: &str, digest: &str) -> Result<(), String> {
        match self.modules.get(path) {
            Some(locked) if locked == digest => Ok(()),
            Some(locked) => Err(format!(
                "module {path} does not match {LOCK_FILE}:\n  locked:  {locked}\n  actual:  {digest}\n  \
                 (run `sealbox build --lock` to accept the new module)"
            )),
            None => Err(format!("module {path} is not in {LOCK_FILE}; run `sealbox build --lock` to add it")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_round_trips_and_checks_digests() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(LOCK_FILE);
        assert_eq!(Lock::read(&path).expect("no lock"), None);
        let lock = Lock::new(BTreeMap::from([("m/a.wasm".to_string(), "sha256:aa".to_string())]));
        lock.write(&path).expect("write");
        let read = Lock::read(&path).expect("read").expect("a lock");
        assert_eq!(read, lock);
        assert_eq!(read.check("m/a.wasm", "sha256:aa"), Ok(()));
        let mismatch = read.check("m/a.wasm", "sha256:bb").unwrap_err();
        assert!(mismatch.contains("locked:  sha256:aa") && mismatch.contains("actual:  sha256:bb"), "{mismatch}");
        assert!(read.check("m/b.wasm", "sha256:aa").unwrap_err().contains("not in sealbox.lock"));
    }

    #[test]
    fn a_broken_lock_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "{\"lockVersion\": 1, \"modules\": 3}").expect("write");
        let err = format!("{:#}", Lock::read(&path).unwrap_err());
        assert!(err.contains("sealbox.lock: not a valid lock file"), "{err}");
        std::fs::write(&path, "{\"lockVersion\": 9, \"modules\": {}}").expect("write");
        assert!(format!("{:#}", Lock::read(&path).unwrap_err()).contains("lockVersion 9"));
    }
}
