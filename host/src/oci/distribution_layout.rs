//! Images written as a registry's filesystem storage: the tree that
//! distribution's `filesystem` storage driver reads under its
//! `rootdirectory`, which sealer ships as a cluster image's `registry/`
//! directory and basefs's `init-registry.sh` serves at deploy time.
//!
//! ```text
//! docker/registry/v2/blobs/sha256/<first two hex>/<hex>/data
//! docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link
//! docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
//! docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
//! docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
//! docker/registry/v2/repositories/<name>/_uploads/
//! ```
//!
//! A link file holds `sha256:<hex>` and nothing else. Config and layer
//! blobs are linked under `_layers` (the registry serves a blob of a
//! repository only through that link), manifests and indexes under
//! `_manifests/revisions`.
//!
//! The tree goes into one uncompressed layer: the blobs are compressed
//! layers already, and a second compression would cost a pass over every
//! byte for next to nothing. Entries are sorted, every mtime is the
//! build's, owners 0, modes 0755/0644, so the layer's digest depends on
//! the images alone. Every blob is hashed as it is copied in and must match
//! its digest, or no layer is written.

use std::collections::BTreeMap;
use std::io::Read;

use super::digest::{Digest, Hasher};
use super::error::{Error, Result};
use super::layer::{LayerDescriptor, LayerWriter};
use super::spec::{Compression, Descriptor};
use super::store::Store;
use super::tar_writer::TarWriter;

/// Where the storage tree starts inside its root directory.
const V2: &str = "docker/registry/v2";

/// One image as one repository of the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryImage {
    /// The repository path without the registry's host (`library/nginx`).
    pub repository: String,
    /// The tag that names it, if it is stored by tag (else by digest only).
    pub tag: Option<String>,
    /// The manifests and indexes to keep, the one the tag names first.
    pub manifests: Vec<Descriptor>,
    /// The config and layer blobs of those manifests.
    pub blobs: Vec<Descriptor>,
}

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    /// A link file: `sha256:<hex>`.
    Link(Digest),
    /// A blob's bytes, from the store.
    Blob(Descriptor),
}

/// The tree of `images` under `root` (a relative directory such as
/// `registry`), every path with its entry and its parents, sorted.
/// Fails when two images name one tag with different manifests.
fn tree(root: &str, images: &[RepositoryImage]) -> Result<BTreeMap<String, Entry>> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut tags: BTreeMap<(String, String), Digest> = BTreeMap::new();
    let base = format!("{root}/{V2}");
    let mut add = |path: String, entry: Entry| {
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            entries.entry(path[..at + i].to_string()).or_insert(Entry::Dir);
            at += i + 1;
        }
        entries.insert(path, entry);
    };
    for image in images {
        check_repository(&image.repository)?;
        let repo = format!("{base}/repositories/{}", image.repository);
        add(format!("{repo}/_uploads"), Entry::Dir);
        for m in &image.manifests {
            add(blob_path(&base, &m.digest), Entry::Blob(m.clone()));
            add(format!("{repo}/_manifests/revisions/sha256/{}/link", m.digest.hex()), Entry::Link(m.digest.clone()));
        }
        for b in &image.blobs {
            add(blob_path(&base, &b.digest), Entry::Blob(b.clone()));
            add(format!("{repo}/_layers/sha256/{}/link", b.digest.hex()), Entry::Link(b.digest.clone()));
        }
        if let Some(tag) = &image.tag {
            check_tag(tag)?;
            let top = image
                .manifests
                .first()
                .ok_or_else(|| Error::Invalid(format!("{}:{tag} has no manifest to tag", image.repository)))?;
            if let Some(other) = tags.insert((image.repository.clone(), tag.clone()), top.digest.clone())
                && other != top.digest
            {
                return Err(Error::Invalid(format!(
                    "{}:{tag} would name two images, {other} and {} (two registries' images with one \
                     repository path and tag cannot share sealer's local registry)",
                    image.repository, top.digest
                )));
            }
            let tag_dir = format!("{repo}/_manifests/tags/{tag}");
            add(format!("{tag_dir}/current/link"), Entry::Link(top.digest.clone()));
            add(format!("{tag_dir}/index/sha256/{}/link", top.digest.hex()), Entry::Link(top.digest.clone()));
        }
    }
    Ok(entries)
}

fn blob_path(base: &str, digest: &Digest) -> String {
    let hex = digest.hex();
    format!("{base}/blobs/sha256/{}/{hex}/data", &hex[..2])
}

/// A repository path becomes directories: only distribution's grammar
/// (lowercase components of `[a-z0-9._-]` starting with a letter or
/// digit, separated by `/`) is accepted, so no path can climb out.
fn check_repository(repository: &str) -> Result<()> {
    let ok = !repository.is_empty()
        && repository.len() <= 255
        && repository.split('/').all(|c| {
            c.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    if ok { Ok(()) } else { Err(Error::Invalid(format!("{repository:?} is not a repository name"))) }
}

/// A tag becomes a directory: distribution's grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<()> {
    let ok = tag.len() <= 128
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok { Ok(()) } else { Err(Error::Invalid(format!("{tag:?} is not a tag"))) }
}

/// A digest of everything the layer of `images` under `root` at `mtime`
/// holds (paths, links, blob digests): equal keys give equal layers, so a
/// caller may reuse a layer it made for the same key.
pub fn layer_key(root: &str, images: &[RepositoryImage], mtime: u64) -> Result<Digest> {
    let mut hasher = Hasher::new();
    hasher.update(format!("sealbox distribution layout v1\0{mtime}\0").as_bytes());
    for (path, entry) in tree(root, images)? {
        let what = match entry {
            Entry::Dir => "dir".to_string(),
            Entry::Link(d) => format!("link {d}"),
            Entry::Blob(d) => format!("blob {} {}", d.digest, d.size),
        };
        hasher.update(format!("{path}\0{what}\0").as_bytes());
    }
    Ok(hasher.finish())
}

/// Writes `images` (every blob in `store`) under `root` as one
/// uncompressed layer in `store`. Every blob is checked against its digest
/// on the way.
pub fn write_layer(store: &Store, root: &str, images: &[RepositoryImage], mtime: u64) -> Result<LayerDescriptor> {
    let entries = tree(root, images)?;
    let mut layer = LayerWriter::new(store, Compression::None)?;
    {
        let mut tar = TarWriter::with_mtime(&mut layer, mtime);
        for (path, entry) in &entries {
            match entry {
                Entry::Dir => tar.dir(&format!("{path}/"))?,
                Entry::Link(d) => tar.file(path, d.to_string().as_bytes())?,
                Entry::Blob(desc) => {
                    let file = store.layout().open_blob(desc)?;
                    let mut hashing = HashingReader { inner: file, hasher: Hasher::new() };
                    tar.stream(path, desc.size, &mut hashing, &store.layout().blob_path(&desc.digest))?;
                    let actual = hashing.hasher.finish();
                    if actual != desc.digest {
                        return Err(Error::Corrupt {
                            digest: desc.digest.to_string(),
                            detail: format!("the store's copy hashes to {actual}"),
                        });
                    }
                }
            }
        }
        tar.finish()?;
    }
    layer.finish()
}

/// Hashes what it reads.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(store: &Store, bytes: &[u8]) -> Descriptor {
        store.put_blob("application/octet-stream", bytes).expect("blob")
    }

    fn image(store: &Store, repository: &str, tag: Option<&str>, seed: &str) -> RepositoryImage {
        RepositoryImage {
            repository: repository.into(),
            tag: tag.map(str::to_string),
            manifests: vec![blob(store, format!("manifest {seed}").as_bytes())],
            blobs: vec![blob(store, format!("config {seed}").as_bytes()), blob(store, b"shared layer")],
        }
    }

    fn entries(store: &Store, desc: &LayerDescriptor) -> BTreeMap<String, Vec<u8>> {
        let file = store.layout().open_blob(&desc.descriptor()).expect("layer");
        let mut archive = tar::Archive::new(file);
        let mut out = BTreeMap::new();
        for e in archive.entries().expect("entries") {
            let mut e = e.expect("entry");
            assert_eq!((e.header().mtime().expect("mtime"), e.header().uid().expect("uid")), (7, 0));
            let path = e.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("read");
            out.insert(path, data);
        }
        out
    }

    #[test]
    fn the_layer_is_distributions_filesystem_layout() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let web = image(&store, "team/web", Some("v1"), "web");
        let db = image(&store, "library/db", None, "db");
        let layer = write_layer(&store, "registry", &[web.clone(), db.clone()], 7).expect("layer");
        assert_eq!(layer.digest, layer.diff_id, "uncompressed");
        let got = entries(&store, &layer);
        let v2 = "registry/docker/registry/v2";
        let m = &web.manifests[0].digest;
        let data = format!("{v2}/blobs/sha256/{}/{}/data", &m.hex()[..2], m.hex());
        assert_eq!(got[&data], b"manifest web");
        let link = |p: String| String::from_utf8(got[&p].clone()).expect("utf-8");
        assert_eq!(link(format!("{v2}/repositories/team/web/_manifests/tags/v1/current/link")), m.to_string());
        assert_eq!(
            link(format!("{v2}/repositories/team/web/_manifests/tags/v1/index/sha256/{}/link", m.hex())),
            m.to_string()
        );
        assert_eq!(
            link(format!("{v2}/repositories/team/web/_manifests/revisions/sha256/{}/link", m.hex())),
            m.to_string()
        );
        let config = &db.blobs[0].digest;
        assert_eq!(
            link(format!("{v2}/repositories/library/db/_layers/sha256/{}/link", config.hex())),
            config.to_string()
        );
        assert!(got.contains_key(&format!("{v2}/repositories/library/db/_uploads/")));
        assert!(!got.keys().any(|k| k.contains("library/db/_manifests/tags")), "a digest reference has no tag");
        let shared = got.keys().filter(|k| k.ends_with("/data") && got[*k] == b"shared layer").count();
        assert_eq!(shared, 1, "a blob two images share is stored once");
        let paths: Vec<&String> = got.keys().collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);

        // The same images in another order: the same layer.
        let again = write_layer(&store, "registry", &[db, web], 7).expect("layer");
        assert_eq!(again.digest, layer.digest);
    }

    #[test]
    fn a_tag_naming_two_images_or_a_bad_name_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let a = image(&store, "team/web", Some("v1"), "a");
        let b = image(&store, "team/web", Some("v1"), "b");
        let err = write_layer(&store, "registry", &[a.clone(), b], 0).unwrap_err().to_string();
        assert!(err.contains("team/web:v1 would name two images"), "{err}");
        for repository in ["../x", "a//b", "A/b", ".x"] {
            let bad = RepositoryImage { repository: repository.into(), ..a.clone() };
            assert!(write_layer(&store, "registry", &[bad], 0).is_err(), "{repository}");
        }
        let bad = RepositoryImage { tag: Some("../x".into()), ..a };
        assert!(write_layer(&store, "registry", &[bad], 0).is_err());
    }

    #[test]
    fn a_damaged_blob_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let a = image(&store, "team/web", Some("v1"), "a");
        let path = store.layout().blob_path(&a.blobs[0].digest);
        let len = std::fs::metadata(&path).expect("stat").len() as usize;
        std::fs::write(&path, vec![b'x'; len]).expect("damage");
        let err = write_layer(&store, "registry", &[a], 0).unwrap_err().to_string();
        assert!(err.contains("hashes to"), "{err}");
    }
}
