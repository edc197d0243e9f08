//! sealer's `--image-list-with-auth` file: container images to carry, and
//! the credentials of the registry they come from, as a YAML list:
//!
//! ```yaml
//! - registry: registry.example.com
//!   username: ci
//!   password: secret
//!   images:
//!     - registry.example.com/team/app:v1
//! ```
//!
//! The images join the image list (as `--image-list` lines do); the
//! credentials are used for that registry instead of the auth files'.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::auth::Credentials;

/// The largest file read.
const MAX_FILE: u64 = 4 << 20;

/// What an image-list-with-auth file gives.
#[derive(Debug, Default)]
pub struct ImageListWithAuth {
    /// Every image of every entry, in file order.
    pub images: Vec<String>,
    /// Registry host to the credentials given for it.
    pub credentials: BTreeMap<String, Credentials>,
}

/// One entry of the file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    registry: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    images: Vec<String>,
}

/// Reads the file at `path`; errors name it and the entry at fault.
pub fn read(path: &Path) -> Result<ImageListWithAuth> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_string(&mut text))
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > MAX_FILE {
        bail!("{}: larger than {MAX_FILE} bytes", path.display());
    }
    parse(&text).with_context(|| path.display().to_string())
}

fn parse(text: &str) -> Result<ImageListWithAuth> {
    let docs = sealbox_formats::yaml::load_json(text).map_err(|e| anyhow::anyhow!("not YAML: {e}"))?;
    let mut out = ImageListWithAuth::default();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        let entries: Vec<Entry> = serde_json::from_value(doc)
            .context("not a list of {registry, username, password, images} entries (sealer's image list with auth)")?;
        for (i, e) in entries.into_iter().enumerate() {
            let at = || format!("entry {} (registry {:?})", i + 1, e.registry);
            if super::Reference::parse(&format!("{}/x", e.registry)).map_or(true, |r| r.registry != e.registry) {
                bail!("{}: not a registry host", at());
            }
            match (e.username, e.password) {
                (Some(username), Some(password)) => {
                    let source = format!("--image-list-with-auth, {}", at()).into();
                    out.credentials.insert(e.registry.clone(), Credentials { username, password, source });
                }
                (None, None) => {}
                _ => bail!("{}: a username needs a password and a password a username", at()),
            }
            out.images.extend(e.images);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_give_images_and_credentials() {
        let got = parse(
            "- registry: reg.io:5000\n  username: ci\n  password: p\n  images: [reg.io:5000/a:1, reg.io:5000/b:2]\n\
             - registry: docker.io\n  images:\n    - nginx:1.25\n",
        )
        .unwrap();
        assert_eq!(got.images, ["reg.io:5000/a:1", "reg.io:5000/b:2", "nginx:1.25"]);
        let c = &got.credentials["reg.io:5000"];
        assert_eq!((c.username.as_str(), c.password.as_str()), ("ci", "p"));
        assert!(!got.credentials.contains_key("docker.io"));
    }

    #[test]
    fn bad_files_are_named_by_entry() {
        for (text, want) in [
            ("- registry: reg.io\n  username: ci\n", "entry 1 (registry \"reg.io\"): a username needs a password"),
            ("- registry: Not A Host\n", "not a registry host"),
            ("- registry: reg.io\n  imagez: []\n", "not a list of"),
            ("registry: reg.io\n", "not a list of"),
        ] {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
