//! The precompiled-module cache.
//!
//! Loading precompiled code is `unsafe` in wasmtime: bytes that were not
//! produced by this engine can run arbitrary native code. So this cache only
//! ever loads files that this process's engine wrote, into a directory only
//! the current user can write; anything else found there is ignored and
//! rebuilt, never trusted.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasmtime::Engine;

/// A directory of `.cwasm` files keyed by module digest and engine.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
    engine_key: String,
}

impl ModuleCache {
    /// Opens (creating with mode 0700) the cache under `root`. Fails if the
    /// directory is writable by anyone but the current user.
    pub fn open(root: &Path, engine: &Engine) -> Result<Self> {
        let dir = root.join("modules");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating module cache {}", dir.display()))?;
        for d in [root, dir.as_path()] {
            check_private(d)?;
        }
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        Ok(ModuleCache { dir, engine_key: format!("{:016x}", h.finish()) })
    }

    /// The default cache root: `$SEALBOX_CACHE`, else `$XDG_CACHE_HOME/sealbox`
    /// (`~/.cache/sealbox`).
    pub fn default_root() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("SEALBOX_CACHE").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        dirs::cache_dir().map(|d| d.join("sealbox"))
    }

    /// Where the precompiled form of the module with `digest` lives.
    pub fn path_for(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join(format!("{hex}-{}.cwasm", self.engine_key))
    }

    /// Writes `bytes` for `digest` atomically (temp file, then rename), so a
    /// reader never sees a partial file.
    pub fn store(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path_for(digest);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .with_context(|| format!("creating a temp file in {}", self.dir.display()))?;
        tmp.write_all(bytes).context("writing precompiled module")?;
        tmp.as_file().sync_all().context("syncing precompiled module")?;
        tmp.persist(&path).with_context(|| format!("renaming into {}", path.display()))?;
        Ok(path)
    }
}

fn check_private(dir: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("module cache {} is not a directory", dir.display());
    }
    // SAFETY of the cache rests on nobody else being able to plant files.
    let uid = rustix::process::getuid().as_raw();
    if meta.uid() != uid {
        bail!(
            "module cache {} belongs to uid {}, not to this user ({uid}); refusing to load code from it",
            dir.display(),
            meta.uid()
        );
    }
    if meta.permissions().mode() & 0o022 != 0 {
        bail!(
            "module cache {} is writable by group or others (mode {:o}); refusing to load code from it (chmod 700 it)",
            dir.display(),
            meta.permissions().mode() & 0o777
        );
    }
    Ok(())
}
