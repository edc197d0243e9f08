//! Registry credentials in the format docker and podman use
//! (`{"auths": {"HOST": {"auth": base64("USER:PASSWORD")}}}`): where
//! `sealbox login` writes them and where every command looks for them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use super::reference::DOCKER_HUB;

/// A user name and password for one registry, and the file they came from.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// The auth file they were read from (for messages).
    pub source: PathBuf,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        write!(f, "Credentials({} from {})", self.username, self.source.display())
    }
}

/// The file `sealbox login` writes: `$REGISTRY_AUTH_FILE` (passed in as
/// `explicit`), else `$XDG_CONFIG_HOME/sealbox/auth.json`.
pub fn login_file(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let config = dirs::config_dir().context("no home directory: set REGISTRY_AUTH_FILE or use --authfile")?;
    Ok(config.join("sealbox").join("auth.json"))
}

/// The files searched for credentials, first match wins: the explicit or
/// sealbox file, then podman's `$XDG_RUNTIME_DIR/containers/auth.json`,
/// then docker's `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn search_path(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = login_file(explicit) {
        out.push(p);
    }
    if explicit.is_some() {
        // An explicit file is the only one, as with podman's --authfile.
        return out;
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR") {
        out.push(PathBuf::from(run).join("containers").join("auth.json"));
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => out.push(PathBuf::from(dir).join("config.json")),
        None => {
            if let Some(home) = dirs::home_dir() {
                out.push(home.join(".docker").join("config.json"));
            }
        }
    }
    out
}

/// The credentials stored for `registry` in the first file of `files` that
/// has them. A file that cannot be parsed is an error (naming it), not a
/// silent miss.
pub fn find(files: &[PathBuf], registry: &str) -> Result<Option<Credentials>> {
    for file in files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
        };
        let doc: Value = serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", file.display()))?;
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else { continue };
        for (key, entry) in auths {
            if normalise_key(key) != normalise_key(registry) {
                continue;
            }
            let Some(encoded) = entry.get("auth").and_then(Value::as_str) else { continue };
            let decoded =
                BASE64.decode(encoded.trim()).ok().and_then(|b| String::from_utf8(b).ok()).with_context(|| {
                    format!("{}: the auth of {key:?} is not base64 of USER:PASSWORD", file.display())
                })?;
            let Some((user, pass)) = decoded.split_once(':') else {
                bail!("{}: the auth of {key:?} is not base64 of USER:PASSWORD", file.display());
            };
            return Ok(Some(Credentials { username: user.into(), password: pass.into(), source: file.clone() }));
        }
    }
    Ok(None)
}

/// Stores `username`/`password` for `registry` in `file`, keeping every
/// other entry and key, written atomically with mode 0600.
pub fn store(file: &Path, registry: &str, username: &str, password: &str) -> Result<()> {
    let mut doc = match std::fs::read(file) {
        Ok(b) => serde_json::from_slice::<Value>(&b).with_context(|| format!("{} is not JSON", file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let Some(root) = doc.as_object_mut() else { bail!("{} is not a JSON object", file.display()) };
    let auths = root.entry("auths").or_insert_with(|| Value::Object(Map::new()));
    let Some(auths) = auths.as_object_mut() else { bail!("{}: \"auths\" is not an object", file.display()) };
    // Replace any spelling of this registry's key (`https://host`, `host/v1/`).
    auths.retain(|k, _| normalise_key(k) != normalise_key(registry));
    let mut entry = Map::new();
    entry.insert("auth".into(), Value::String(BASE64.encode(format!("{username}:{password}"))));
    auths.insert(registry.to_string(), Value::Object(entry));
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // The temp file is created 0600 and renamed over the target, so the
    // credentials are never readable by others, not even for a moment.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    let mut text = serde_json::to_vec_pretty(&doc)?;
    text.push(b'\n');
    tmp.write_all(&text).with_context(|| format!("writing {}", file.display()))?;
    tmp.as_file().sync_all().with_context(|| format!("writing {}", file.display()))?;
    tmp.persist(file).with_context(|| format!("replacing {}", file.display()))?;
    Ok(())
}

/// Removes the entry for `registry` from `file`; whether there was one.
pub fn remove(file: &Path, registry: &str) -> Result<bool> {
    let Ok(bytes) = std::fs::read(file) else { return Ok(false) };
    let mut doc: Value = serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", file.display()))?;
    let Some(auths) = doc.get_mut("auths").and_then(Value::as_object_mut) else { return Ok(false) };
    let before = auths.len();
    auths.retain(|k, _| normalise_key(k) != normalise_key(registry));
    if auths.len() == before {
        return Ok(false);
    }
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    tmp.write_all(&serde_json::to_vec_pretty(&doc)?)?;
    tmp.persist(file).with_context(|| format!("replacing {}", file.display()))?;
    Ok(true)
}

/// The registry a config key stands for: scheme and path dropped, Docker
/// Hub's legacy names folded to `docker.io`.
fn normalise_key(key: &str) -> String {
    let host = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.into(),
        h => h.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn store_then_find_keeps_other_entries_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(&file, r#"{"auths":{"other.io":{"auth":"dTpw"}},"credsStore":"x"}"#).unwrap();
        store(&file, "127.0.0.1:5000", "alice", "s3:cret").unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let files = vec![file.clone()];
        let c = find(&files, "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "s3:cret"));
        let other = find(&files, "other.io").unwrap().unwrap();
        assert_eq!((other.username.as_str(), other.password.as_str()), ("u", "p"));
        let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(doc["credsStore"], "x");
        assert!(find(&files, "nowhere.io").unwrap().is_none());
        assert!(remove(&file, "127.0.0.1:5000").unwrap());
        assert!(find(&files, "127.0.0.1:5000").unwrap().is_none());
    }

    #[test]
    fn docker_hub_keys_match_in_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}}}"#).unwrap();
        assert!(find(&[file], DOCKER_HUB).unwrap().is_some());
    }

    #[test]
    fn damaged_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(&file, r#"{"auths":{"h.io":{"auth":"!!"}}}"#).unwrap();
        let err = find(std::slice::from_ref(&file), "h.io").unwrap_err();
        assert!(format!("{err:#}").contains("auth.json"), "{err:#}");
    }
}
