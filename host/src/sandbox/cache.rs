//! The precompiled-module cache.
//!
//! Loading precompiled code is `unsafe` in wasmtime: bytes that were not
//! produced by this engine can run arbitrary native code. So an entry is
//! loaded only if its HMAC-SHA256 verifies under a 32-byte key that lives
//! outside the cache directory (see [`key`]); the MAC covers the module's
//! digest and the engine key as well as the bytes, so an entry can be
//! neither changed nor moved to another module's name. An entry is read
//! once into memory, verified, and those very bytes are deserialized:
//! nothing is read from the file again after the check. Anything that does
//! not verify is ignored (and said, through [`ModuleCache::take_notes`]),
//! and the module is compiled again and its entry rewritten.
//!
//! The directory must still be private to this user: a MAC stops planted
//! code, not someone deleting entries, and the check costs nothing.

mod key;

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;

pub use key::CacheKey;

/// What every entry file starts with; an entry without it has no MAC.
const MAGIC: &[u8; 16] = b"sealbox-cwasm-1\0";
/// The HMAC-SHA256 tag that follows the magic.
const TAG_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + TAG_LEN;
/// No precompiled module comes near this; a larger file is not read.
const MAX_ENTRY: u64 = 1 << 30;

/// A directory of `.cwasm` files keyed by module digest and engine, each
/// authenticated with the cache key.
#[derive(Debug)]
pub struct ModuleCache {
    dir: PathBuf,
    engine_key: String,
    key: CacheKey,
    /// What the cache refused or replaced, for `--verbose`.
    notes: Mutex<Vec<String>>,
}

/// An entry read whole and verified: its artifact is exactly the bytes the
/// MAC covered.
pub struct Verified {
    bytes: Vec<u8>,
}

impl Verified {
    /// The precompiled artifact, to hand to wasmtime's `deserialize`.
    pub fn artifact(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..]
    }
}

/// The outcome of looking a module up.
pub enum Lookup {
    /// An entry whose MAC verified.
    Hit(Verified),
    /// No entry.
    Miss,
    /// An entry that must not be loaded, and why.
    Refused(String),
}

impl ModuleCache {
    /// Opens (creating with mode 0700) the cache under `root`, with the key
    /// in `key_file` (created when missing). Fails if the cache directory or
    /// the key's directory is writable by anyone but the current user, or
    /// if the key file lies inside the cache.
    pub fn open(root: &Path, key_file: &Path, engine: &Engine) -> Result<Self> {
        let dir = root.join("modules");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating module cache {}", dir.display()))?;
        for d in [root, dir.as_path()] {
            check_private(d, "module cache")?;
        }
        let (key, replaced) = key::load_or_create(key_file, root)?;
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        Ok(ModuleCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
            key,
            notes: Mutex::new(replaced.into_iter().collect()),
        })
    }

    /// The default cache root: `$SEALBOX_CACHE`, else `$XDG_CACHE_HOME/sealbox`
    /// (`~/.cache/sealbox`).
    pub fn default_root() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("SEALBOX_CACHE").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        dirs::cache_dir().map(|d| d.join("sealbox"))
    }

    /// The default key file: `$SEALBOX_CACHE_KEY`, else
    /// `$XDG_CONFIG_HOME/sealbox/cache.key` (`~/.config/sealbox/cache.key`).
    /// Not under the cache directory on purpose: caches are what CI systems
    /// save, restore and share between jobs, the configuration is not.
    pub fn default_key_file() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("SEALBOX_CACHE_KEY").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        dirs::config_dir().map(|d| d.join("sealbox").join("cache.key"))
    }

    /// Where the precompiled form of the module with `digest` lives.
    pub fn path_for(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join(format!("{hex}-{}.cwasm", self.engine_key))
    }

    /// Reads the entry of `digest` once, without following a link, and
    /// verifies its MAC. Only a [`Lookup::Hit`] may be deserialized.
    pub fn load(&self, digest: &str) -> Lookup {
        let path = self.path_for(digest);
        let file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Refused(format!("{} cannot be opened: {e}", path.display())),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return Lookup::Refused(format!("{}: {e}", path.display())),
        };
        if !meta.is_file() {
            return Lookup::Refused(format!("{} is not a regular file", path.display()));
        }
        if meta.len() > MAX_ENTRY {
            return Lookup::Refused(format!("{} is larger than any precompiled module", path.display()));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        if let Err(e) = file.take(MAX_ENTRY + 1).read_to_end(&mut bytes) {
            return Lookup::Refused(format!("reading {}: {e}", path.display()));
        }
        if bytes.len() < HEADER_LEN || bytes[..MAGIC.len()] != MAGIC[..] {
            return Lookup::Refused(format!("{} has no MAC (not written by this sealbox)", path.display()));
        }
        let mac = match self.mac(digest, &bytes[HEADER_LEN..]) {
            Ok(m) => m,
            Err(e) => return Lookup::Refused(format!("{}: {e:#}", path.display())),
        };
        // Constant-time comparison: the tag is a secret's function.
        if mac.verify_slice(&bytes[MAGIC.len()..HEADER_LEN]).is_err() {
            return Lookup::Refused(format!(
                "{}: its MAC does not verify (changed, copied from another module's entry, or made with another key)",
                path.display()
            ));
        }
        Lookup::Hit(Verified { bytes })
    }

    /// Writes `artifact` for `digest` with its MAC, atomically (temp file,
    /// then rename), so a reader never sees a partial file.
    pub fn store(&self, digest: &str, artifact: &[u8]) -> Result<PathBuf> {
        let path = self.path_for(digest);
        let tag = self.mac(digest, artifact)?.finalize().into_bytes();
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .with_context(|| format!("creating a temp file in {}", self.dir.display()))?;
        tmp.write_all(MAGIC)
            .and_then(|()| tmp.write_all(&tag))
            .and_then(|()| tmp.write_all(artifact))
            .context("writing precompiled module")?;
        tmp.as_file().sync_all().context("syncing precompiled module")?;
        tmp.persist(&path).with_context(|| format!("renaming into {}", path.display()))?;
        Ok(path)
    }

    /// Records something the cache refused, for `--verbose`.
    pub fn note(&self, text: String) {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push(text);
    }

    /// What the cache refused or replaced since the last call: a key file
    /// that was not private, entries that did not verify.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The MAC of an entry: its name (module digest and engine key,
    /// length-prefixed) and its artifact, under the cache key.
    fn mac(&self, digest: &str, artifact: &[u8]) -> Result<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.bytes())
            .map_err(|e| anyhow!("the module cache key: {e}"))?;
        mac.update(b"sealbox module cache v1\0");
        for part in [digest.as_bytes(), self.engine_key.as_bytes()] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.update(artifact);
        Ok(mac)
    }
}

/// Fails unless `dir` is a real directory of this user that no one else
/// can write to.
fn check_private(dir: &Path, what: &str) -> Result<()> {
    let meta = fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{what} {} is not a directory", dir.display());
    }
    // Whoever can write here can delete or swap what is in it.
    let uid = rustix::process::getuid().as_raw();
    if meta.uid() != uid {
        bail!(
            "{what} {} belongs to uid {}, not to this user ({uid}); refusing to load code from it",
            dir.display(),
            meta.uid()
        );
    }
    if meta.permissions().mode() & 0o022 != 0 {
        bail!(
            "{what} {} is writable by group or others (mode {:o}); refusing to load code from it (chmod 700 it)",
            dir.display(),
            meta.permissions().mode() & 0o777
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod entry_tests;
