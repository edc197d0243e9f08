//! Fetching the container images a cluster image carries (sealer's
//! `registry/`): for one platform, each image's manifest (and the index its
//! reference names, if it names one) and blobs, into the store, every
//! digest verified, ready for `oci::distribution_layout` to write.
//!
//! What is in the store is not fetched again: a blob is content-addressed,
//! and a tag resolved once is remembered in
//! `<store>/.sealbox/offline-images.json` (as a `FROM` base in the store is
//! not pulled again), so an unchanged rebuild makes no request at all and
//! works with the registries unreachable. A pin (a digest reference, or
//! `sealbox.lock`) is used as it is; `refresh` resolves tags again.
//!
//! Mirrors (`--registry-mirror docker.io=MIRROR`, as `registries.conf`'s
//! `[[registry.mirror]]`): an image of a mirrored registry is asked of its
//! mirrors first, in order, with the same repository path, then of the
//! registry itself; what a mirror sends is checked against the same
//! digests, so a mirror can withhold an image but not change one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};

use super::client::{Access, Client, Options};
use super::reference::Reference;
use super::transfer::{download, media_type_of, parallel};
use crate::oci::distribution_layout::RepositoryImage;
use crate::oci::spec::{self, ImageConfig, Index, Manifest, Platform};
use crate::oci::{Descriptor, Digest, Store};

/// One image the cluster image needs.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// The reference as the image list has it (normalised).
    pub image: String,
    /// The application whose files name it, when known.
    pub app: Option<String>,
}

/// An image that could not be fetched.
#[derive(Debug, Clone)]
pub struct Missing {
    pub image: String,
    pub app: Option<String>,
    /// The registry's answer, or what was wrong with what it sent.
    pub reason: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "image {}", self.image)?;
        if let Some(app) = &self.app {
            write!(f, " (app {app})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// One image fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The reference as listed.
    pub image: String,
    /// What the reference resolved to at its registry (an index or a
    /// manifest): the pin `sealbox.lock` records.
    pub resolved: Digest,
    /// How the image's repository holds it.
    pub stored: RepositoryImage,
}

/// What [`fetch`] did.
#[derive(Debug, Default)]
pub struct Fetch {
    pub images: Vec<Fetched>,
    pub missing: Vec<Missing>,
    /// Manifests and blobs fetched over the network.
    pub requests: usize,
    /// Bytes of blobs fetched.
    pub bytes: u64,
    /// Blobs found in the store.
    pub reused: usize,
}

/// A mirror of a registry: `REGISTRY=[http://]HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The registry mirrored (`docker.io`, `quay.io`).
    pub registry: String,
    /// The mirror's `host[:port]`.
    pub host: String,
    /// Plain HTTP (`http://` given), for this mirror only.
    pub insecure: bool,
}

impl Mirror {
    /// Parses `REGISTRY=[http://|https://]HOST[:PORT]`.
    pub fn parse(s: &str) -> Result<Mirror> {
        let (registry, mirror) =
            s.split_once('=').ok_or_else(|| anyhow!("{s:?} is not REGISTRY=[http://]HOST[:PORT]"))?;
        let (insecure, host) = match mirror.strip_prefix("http://") {
            Some(h) => (true, h),
            None => (false, mirror.strip_prefix("https://").unwrap_or(mirror)),
        };
        let host = host.trim_end_matches('/');
        // Both must be registry hosts: parse them as the registry part of a reference.
        for h in [registry, host] {
            let r = Reference::parse(&format!("{h}/x"))?;
            if r.registry != h {
                bail!("{s:?}: {h:?} is not a registry host");
            }
        }
        Ok(Mirror { registry: registry.to_string(), host: host.to_string(), insecure })
    }
}

/// Everything [`fetch`] needs.
pub struct Request<'a> {
    pub store: &'a Store,
    pub images: &'a [Wanted],
    /// The platform built: the manifest picked from an index.
    pub platform: &'a Platform,
    /// Listed reference to the digest it must resolve to (`sealbox.lock`).
    pub pins: &'a BTreeMap<String, String>,
    pub options: &'a Options,
    /// Registries' mirrors, asked first.
    pub mirrors: &'a [Mirror],
    /// Resolve tags at the registry even when the store knows them.
    pub refresh: bool,
    /// Told the bytes fetched so far and the bytes to fetch, as each blob
    /// arrives (for a progress bar).
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
}

/// Fetches every image of `req` into the store. An image that cannot be
/// fetched (unknown, denied, without the platform, sent wrong bytes) is in
/// `missing` with the registry's answer; deciding whether that fails the
/// build is the caller's. Fails only on local trouble.
pub fn fetch(req: &Request<'_>) -> Result<Fetch> {
    let mut record = Record::open(req.store.root());
    let mut out = Fetch::default();
    let clients = Clients { options: req.options, mirrors: req.mirrors, made: Mutex::new(BTreeMap::new()) };
    let mut pending: Vec<(usize, Descriptor)> = Vec::new();
    // Configs fetched while resolving (to check a platform): not reuse.
    let mut fresh: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut resolved: Vec<(Wanted, Reference, Digest, RepositoryImage)> = Vec::new();
    for wanted in req.images {
        match resolve(req, &clients, &mut record, wanted, &mut out.requests, &mut fresh) {
            Ok((reference, digest, stored)) => {
                for b in &stored.blobs {
                    pending.push((resolved.len(), b.clone()));
                }
                resolved.push((wanted.clone(), reference, digest, stored));
            }
            Err(e) => out.missing.push(Missing {
                image: wanted.image.clone(),
                app: wanted.app.clone(),
                reason: format!("{e:#}"),
            }),
        }
    }

    // Each blob once, from the first image that needs it; the rest of the
    // images that share it wait for that download.
    let mut seen = BTreeSet::new();
    pending.retain(|(_, b)| seen.insert(b.digest.clone()));
    let layout = req.store.layout();
    pending.retain(|(_, b)| {
        let have = layout.has_blob(&b.digest) && layout.open_blob(b).is_ok();
        out.reused += usize::from(have && !fresh.contains_key(&b.digest));
        !have
    });
    let failed: Mutex<BTreeMap<usize, String>> = Mutex::new(BTreeMap::new());
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let to_fetch: u64 = pending.iter().map(|(_, b)| b.size).sum();
    parallel(req.options.jobs, pending.len(), |i| {
        let (owner, blob) = &pending[i];
        let reference = &resolved[*owner].1;
        let got = clients.each(reference, |c| download(req.store, c, blob, req.options.attempts));
        match got {
            Ok(()) => {
                let so_far = bytes.fetch_add(blob.size, std::sync::atomic::Ordering::Relaxed) + blob.size;
                if let Some(progress) = req.progress {
                    progress(so_far, to_fetch);
                }
            }
            Err(e) => {
                let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
                f.entry(*owner).or_insert_with(|| format!("{e:#}"));
            }
        }
        Ok(())
    })?;
    out.requests += pending.len();
    out.bytes = bytes.into_inner() + fresh.values().sum::<u64>();
    let failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    // A blob another image failed to bring is missing for every image
    // that needs it.
    let missing_blobs: BTreeSet<&Digest> = pending
        .iter()
        .filter(|(owner, _)| failed.contains_key(owner))
        .map(|(_, b)| &b.digest)
        .filter(|d| !layout.has_blob(d))
        .collect();
    for (i, (wanted, _, digest, stored)) in resolved.iter().enumerate() {
        let lacking = stored.blobs.iter().find(|b| missing_blobs.contains(&b.digest));
        let reason = failed.get(&i).cloned().or_else(|| lacking.map(|b| format!("blob {} was not fetched", b.digest)));
        match reason {
            Some(reason) => out.missing.push(Missing { image: wanted.image.clone(), app: wanted.app.clone(), reason }),
            None => {
                record.blobs.extend(stored.manifests.iter().chain(&stored.blobs).map(|d| d.digest.to_string()));
                out.images.push(Fetched {
                    image: wanted.image.clone(),
                    resolved: digest.clone(),
                    stored: stored.clone(),
                })
            }
        }
    }
    record.save();
    Ok(out)
}

/// The blobs of every image fetched into the store at `root` so far: the
/// store's garbage collection keeps them, so a later build need not fetch
/// them again.
pub fn kept_blobs(root: &Path) -> Vec<Digest> {
    Record::open(root).blobs.iter().filter_map(|d| Digest::parse(d).ok()).collect()
}

/// Resolves one image to its manifest(s) for the platform, fetching
/// manifests (and the config, to check a single manifest's platform) as
/// needed. Returns the reference, what it resolved to, and how it is
/// stored (its blobs possibly not fetched yet).
fn resolve(
    req: &Request<'_>,
    clients: &Clients<'_>,
    record: &mut Record,
    wanted: &Wanted,
    requests: &mut usize,
    fresh: &mut BTreeMap<Digest, u64>,
) -> Result<(Reference, Digest, RepositoryImage)> {
    let reference = Reference::parse(&wanted.image)?;
    let pin = match (&reference.digest, req.pins.get(&wanted.image)) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(p)) => Some(Digest::parse(p).with_context(|| format!("the pin {p:?} in sealbox.lock"))?),
        (None, None) => None,
    };
    let key = reference.to_string();
    let known = if req.refresh || pin.is_some() { None } else { record.tags.get(&key).cloned() };
    let top = match (pin, known) {
        (Some(digest), _) => manifest(req.store, clients, &reference, &digest, None, requests)?,
        (None, Some(desc)) if req.store.layout().read_blob(&desc).is_ok() => desc,
        (None, _) => {
            let (raw, header_type) = clients.each(&reference, |c| c.get_manifest(&reference.manifest_ref()))?;
            *requests += 1;
            let media_type = media_type_of(&raw, &header_type, None)?;
            let desc = req.store.put_blob(&media_type, &raw)?;
            record.tags.insert(key, desc.clone());
            desc
        }
    };
    let chosen = if spec::is_index(&top.media_type) {
        let index: Index = req.store.layout().read_json(&top).context("reading the image index")?;
        let child = index
            .manifests
            .iter()
            .find(|d| spec::is_manifest(&d.media_type) && d.platform.as_ref().is_some_and(|p| matches(p, req.platform)))
            .ok_or_else(|| {
                let have: Vec<String> =
                    index.manifests.iter().filter_map(|d| d.platform.as_ref().map(ToString::to_string)).collect();
                anyhow!("the image has no {} manifest (its index has {})", req.platform, have.join(", "))
            })?
            .clone();
        manifest(req.store, clients, &reference, &child.digest, Some(&child), requests)?
    } else if spec::is_manifest(&top.media_type) {
        top.clone()
    } else {
        bail!("{} is a {}, not an image", top.digest, top.media_type);
    };
    let m: Manifest = req.store.layout().read_json(&chosen).context("reading the image manifest")?;
    if chosen.digest == top.digest {
        // A single manifest says its platform in its config only.
        if !req.store.layout().has_blob(&m.config.digest) {
            clients.each(&reference, |c| download(req.store, c, &m.config, req.options.attempts))?;
            *requests += 1;
            fresh.insert(m.config.digest.clone(), m.config.size);
        }
        let config: ImageConfig = req.store.layout().read_json(&m.config).context("reading the image config")?;
        let have = config.platform();
        if !matches(&have, req.platform) {
            bail!("the image is for {have}, not {}", req.platform);
        }
    }
    let mut blobs = vec![m.config.clone()];
    blobs.extend(m.layers.iter().cloned());
    // What the reference names is stored as it is, an index with the
    // platform's manifest only (as sealer's pull-through save keeps them:
    // pkg/image/save/save.go stores the tag's index, then the manifest
    // handleManifest picks for the platform, then its blobs); a tag names
    // that top, a digest reference has no tag.
    let mut manifests = vec![top.clone()];
    if chosen.digest != top.digest {
        manifests.push(chosen);
    }
    let tag = match reference.digest {
        Some(_) => None,
        None => Some(reference.tag.clone().unwrap_or_else(|| "latest".into())),
    };
    let stored = RepositoryImage { repository: reference.repository.clone(), tag, manifests, blobs };
    Ok((reference, top.digest, stored))
}

/// The manifest or index `digest` of `reference`'s repository, from the
/// store when it has it, else fetched and checked against the digest.
fn manifest(
    store: &Store,
    clients: &Clients<'_>,
    reference: &Reference,
    digest: &Digest,
    desc: Option<&Descriptor>,
    requests: &mut usize,
) -> Result<Descriptor> {
    if let Some(raw) = read_capped(&store.layout().blob_path(digest), MAX_MANIFEST)
        && Digest::of(&raw) == *digest
    {
        let media_type = media_type_of(&raw, "", desc)?;
        return Ok(Descriptor::new(media_type, digest.clone(), raw.len() as u64));
    }
    let (raw, header_type) = clients.each(reference, |c| {
        let (raw, header_type) = c.get_manifest(&digest.to_string())?;
        let got = Digest::of(&raw);
        if got != *digest {
            bail!("the registry sent manifest bytes hashing to {got} for {digest}: refusing them");
        }
        if let Some(d) = desc
            && d.size != raw.len() as u64
        {
            bail!("manifest {digest} is {} bytes, its descriptor says {}", raw.len(), d.size);
        }
        Ok((raw, header_type))
    })?;
    *requests += 1;
    let media_type = media_type_of(&raw, &header_type, desc)?;
    Ok(store.put_blob(&media_type, &raw)?)
}

/// Whether an index entry's (or config's) platform is the one built; an
/// `arm64` without variant is `arm64/v8`, as containerd's matcher has it.
fn matches(have: &Platform, want: &Platform) -> bool {
    let variant = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
        ("arm64", None) => Some("v8".to_string()),
        (_, v) => v.map(str::to_string),
    };
    have.os == want.os
        && have.architecture == want.architecture
        && (want.variant.is_none() || variant(have) == variant(want))
}

/// The largest manifest kept (the distribution spec's limit).
const MAX_MANIFEST: u64 = 4 << 20;
/// The largest record read; a bigger one is ignored (and rewritten).
const MAX_RECORD: u64 = 64 << 20;

/// A file's bytes when it exists and holds at most `max` bytes.
fn read_capped(path: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path).ok()?.take(max + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

/// One client per repository of each registry or mirror, made and
/// authenticated on first use.
struct Clients<'a> {
    options: &'a Options,
    mirrors: &'a [Mirror],
    made: Mutex<BTreeMap<String, std::sync::Arc<Client>>>,
}

impl Clients<'_> {
    /// Runs `call` against `reference`'s mirrors, then its registry, until
    /// one succeeds; the error names every endpoint's answer.
    fn each<T>(&self, reference: &Reference, call: impl Fn(&Client) -> Result<T>) -> Result<T> {
        let mut endpoints: Vec<(Reference, bool)> = self
            .mirrors
            .iter()
            .filter(|m| m.registry == reference.registry)
            .map(|m| (Reference { registry: m.host.clone(), ..reference.clone() }, m.insecure))
            .collect();
        if endpoints.is_empty() {
            return call(&*self.client(reference, self.options.insecure)?);
        }
        endpoints.push((reference.clone(), self.options.insecure));
        let mut errors = Vec::new();
        for (endpoint, insecure) in &endpoints {
            match self.client(endpoint, *insecure).and_then(|c| call(&c)) {
                Ok(v) => return Ok(v),
                Err(e) => errors.push(format!("{}: {e:#}", endpoint.registry)),
            }
        }
        Err(anyhow!("no mirror nor the registry has it: {}", errors.join("; ")))
    }

    fn client(&self, reference: &Reference, insecure: bool) -> Result<std::sync::Arc<Client>> {
        let key = format!("{insecure} {}/{}", reference.registry, reference.repository);
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = made.get(&key) {
            return Ok(c.clone());
        }
        let options = Options { insecure, ..self.options.clone() };
        let client = Client::new(reference, &options, Access::Pull)?;
        client.ping()?;
        let client = std::sync::Arc::new(client);
        made.insert(key, client.clone());
        Ok(client)
    }
}

/// What earlier fetches left in the store: tags resolved, blobs to keep.
/// Only a cache: lost or damaged, it costs requests, never correctness
/// (everything it names is checked against its digest when read).
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Record {
    #[serde(skip)]
    path: PathBuf,
    /// Full reference (`registry/repository:tag`) to what it resolved to.
    tags: BTreeMap<String, Descriptor>,
    /// Every manifest and blob of the images fetched.
    blobs: BTreeSet<String>,
}

impl Record {
    fn open(root: &Path) -> Record {
        let path = root.join(".sealbox").join("offline-images.json");
        let mut record: Record =
            read_capped(&path, MAX_RECORD).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        record.path = path;
        record
    }

    /// Saves the record atomically; failing to is not an error (it is a cache).
    fn save(&self) {
        let Some(dir) = self.path.parent() else { return };
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else { return };
        let Ok(bytes) = serde_json::to_vec(self) else { return };
        if std::io::Write::write_all(&mut tmp, &bytes).is_ok() {
            tmp.persist(&self.path).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_match_as_containerd_does() {
        let p = |a: &str, v: Option<&str>| Platform::new("linux", a, v);
        assert!(matches(&p("arm64", None), &p("arm64", Some("v8"))));
        assert!(matches(&p("arm64", Some("v8")), &p("arm64", None)));
        assert!(!matches(&p("arm", Some("v6")), &p("arm", Some("v7"))));
        assert!(!matches(&p("amd64", None), &p("arm64", None)));
        assert!(!matches(&Platform::new("windows", "amd64", None), &p("amd64", None)));
    }

    #[test]
    fn mirrors_parse_as_registry_equals_host() {
        let m = Mirror::parse("docker.io=http://127.0.0.1:5000").unwrap();
        assert_eq!((m.registry.as_str(), m.host.as_str(), m.insecure), ("docker.io", "127.0.0.1:5000", true));
        let m = Mirror::parse("quay.io=https://mirror.example.com/").unwrap();
        assert_eq!((m.host.as_str(), m.insecure), ("mirror.example.com", false));
        for bad in ["docker.io", "docker.io=", "=x.io", "docker.io=x.io/path", "Docker.IO=x.io:5000/a"] {
            assert!(Mirror::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_image_names_its_app() {
        let m = Missing { image: "reg.io/a:1".into(), app: Some("web".into()), reason: "HTTP 404".into() };
        assert_eq!(m.to_string(), "image reg.io/a:1 (app web): HTTP 404");
    }
}
