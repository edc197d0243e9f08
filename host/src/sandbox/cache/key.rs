//! The module cache's key: 32 random bytes in a file of their own, outside
//! the cache directory, readable by this user only.
//!
//! The file is created with mode 0600 under a temporary name (`O_EXCL`)
//! and linked into place without replacing anything, so no reader ever sees
//! it half-written and two builds starting at once agree on one key. It is
//! opened without following a link. A key file that is a link, not a
//! regular file, not this user's, readable or writable by anyone else, or
//! of the wrong size is not used: someone else may know it. It is replaced
//! with a new key (which makes every entry made under the old one miss) and
//! the replacement is said.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Bytes of key material.
const KEY_LEN: usize = 32;

/// The secret the cache's MACs are made with.
pub struct CacheKey([u8; KEY_LEN]);

impl CacheKey {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

/// Reads the key in `path`, creating it when missing and replacing it when
/// it is not private. Returns the key and, when it had to be replaced, a
/// sentence saying why. `cache_root` is where the key must not be.
pub(super) fn load_or_create(path: &Path, cache_root: &Path) -> Result<(CacheKey, Option<String>)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {} for the module cache key", dir.display()))?;
    super::check_private(&dir, "the directory of the module cache key")?;
    refuse_inside(&dir, cache_root, path)?;
    let mut replaced = None;
    // A concurrent build may create or replace the file between our steps;
    // a few rounds settle it.
    for _ in 0..4 {
        match read(path)? {
            Found::Key(key) => return Ok((key, replaced)),
            Found::Missing => {}
            Found::Unsafe(why, id) => {
                // Only the very file judged is removed, not one a
                // concurrent build has just put in its place.
                if fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == id) {
                    fs::remove_file(path).with_context(|| format!("removing the unsafe key {}", path.display()))?;
                }
                replaced = Some(format!(
                    "the module cache key {} {why}; it was replaced with a new key (cached modules are compiled again)",
                    path.display()
                ));
            }
        }
        if let Some(key) = create(&dir, path)? {
            return Ok((key, replaced));
        }
    }
    bail!("the module cache key {} keeps changing under this build; is another build replacing it?", path.display())
}

/// What was found at the key's path.
enum Found {
    Key(CacheKey),
    Missing,
    /// Why it may not be used, and its device and inode.
    Unsafe(String, (u64, u64)),
}

fn read(path: &Path) -> Result<Found> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
            return Ok(Found::Unsafe("is a symbolic link".into(), (meta.dev(), meta.ino())));
        }
        Err(e) => return Err(e).with_context(|| format!("opening the module cache key {}", path.display())),
    };
    let meta = file.metadata().with_context(|| format!("reading {}", path.display()))?;
    let id = (meta.dev(), meta.ino());
    let uid = rustix::process::getuid().as_raw();
    let mode = meta.permissions().mode() & 0o7777;
    let why = if !meta.is_file() {
        Some("is not a regular file".to_string())
    } else if meta.uid() != uid {
        Some(format!("belongs to uid {}, not to this user ({uid})", meta.uid()))
    } else if mode & 0o077 != 0 {
        Some(format!("has mode {mode:o}, open to others (it must be 600)"))
    } else if meta.len() != KEY_LEN as u64 {
        Some(format!("holds {} bytes, not {KEY_LEN}", meta.len()))
    } else {
        None
    };
    if let Some(why) = why {
        return Ok(Found::Unsafe(why, id));
    }
    let mut key = [0u8; KEY_LEN];
    (&file).take(KEY_LEN as u64).read_exact(&mut key).with_context(|| format!("reading {}", path.display()))?;
    Ok(Found::Key(CacheKey(key)))
}

/// Makes a new key and links it into place unless a key appeared there
/// meanwhile (then `None`: read that one).
fn create(dir: &Path, path: &Path) -> Result<Option<CacheKey>> {
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no random bytes for the module cache key: {e}"))?;
    // tempfile opens with O_CREAT | O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".cache.key-")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("creating the module cache key in {}", dir.display()))?;
    tmp.write_all(&key).with_context(|| format!("writing the module cache key in {}", dir.display()))?;
    tmp.as_file().sync_all().with_context(|| format!("syncing the module cache key in {}", dir.display()))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(Some(CacheKey(key))),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e.error).with_context(|| format!("saving the module cache key {}", path.display())),
    }
}

/// Fails when the key would live in the cache it protects: whoever can
/// write the cache could then write the key.
fn refuse_inside(key_dir: &Path, cache_root: &Path, key_file: &Path) -> Result<()> {
    let (Ok(key_dir), Ok(root)) = (key_dir.canonicalize(), cache_root.canonicalize()) else { return Ok(()) };
    if key_dir.starts_with(&root) {
        bail!(
            "the module cache key {} is inside the module cache {}; keep it elsewhere (SEALBOX_CACHE_KEY)",
            key_file.display(),
            cache_root.display()
        );
    }
    Ok(())
}
