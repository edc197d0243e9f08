//! Copying images between the local store and a registry, byte for byte:
//! a pushed manifest is the stored blob unchanged, so its digest is the
//! local one (checked against what the registry reports); a pulled blob
//! becomes a store blob only if it hashes to its digest.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow, bail};

use super::client::{Access, Client, Options, Payload};
use super::reference::Reference;
use super::sources::Sources;
use crate::oci::spec::{self, Index, Manifest};
use crate::oci::{Descriptor, Digest, Store};

/// What a push or pull moved.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferReport {
    /// The digest of the top manifest or index.
    pub digest: String,
    /// The reference it was pushed to or pulled from.
    pub reference: String,
    /// Blobs sent or received.
    pub blobs_transferred: usize,
    /// Blobs already there (not sent or received again).
    pub blobs_skipped: usize,
    /// Blobs the registry mounted from another repository instead.
    pub blobs_mounted: usize,
    /// Bytes of the blobs sent or received.
    pub bytes: u64,
}

/// Pushes the image `desc` of `store` to `dest`, every manifest and blob
/// byte for byte. Fails unless the registry reports the local digest for
/// the top manifest afterwards.
pub fn push(store: &Store, desc: &Descriptor, dest: &Reference, options: &Options) -> Result<TransferReport> {
    let layout = store.layout();
    let closure = layout.closure(desc).with_context(|| format!("reading image {}", desc.digest))?;
    let (manifests, blobs): (Vec<_>, Vec<_>) =
        closure.into_iter().partition(|d| spec::is_index(&d.media_type) || spec::is_manifest(&d.media_type));
    let sources = Sources::open(store.root());
    let mut client = Client::new(dest, options, Access::Push)?;
    let mounts: Vec<Option<String>> = blobs.iter().map(|b| sources.mount_source(&b.digest, dest)).collect();
    for repo in mounts.iter().flatten().collect::<BTreeSet<_>>() {
        client.add_pull_scope(repo);
    }
    client.ping()?;

    let report = Mutex::new(TransferReport { reference: dest.to_string(), ..Default::default() });
    let bytes = AtomicU64::new(0);
    parallel(options.jobs, blobs.len(), |i| {
        let blob = &blobs[i];
        if client.blob_exists(&blob.digest)? {
            lock(&report).blobs_skipped += 1;
            return Ok(());
        }
        let path = layout.blob_path(&blob.digest);
        // A blob damaged in the store must not reach the registry under
        // its old name; the registry checks the digest too, but this names
        // the local cause.
        layout.open_blob(blob)?;
        let mounted = client.upload_blob(blob, &Payload::File(&path), mounts[i].as_deref())?;
        let mut r = lock(&report);
        if mounted {
            r.blobs_mounted += 1;
        } else {
            r.blobs_transferred += 1;
            bytes.fetch_add(blob.size, Ordering::Relaxed);
        }
        Ok(())
    })?;

    // Children before parents, so a registry never sees a manifest whose
    // references are missing. `closure` lists parents first.
    for m in manifests.iter().rev() {
        let raw = layout.read_blob(m)?;
        let is_top = m.digest == desc.digest;
        let reference = if is_top { dest.manifest_ref() } else { m.digest.to_string() };
        let reported = client.put_manifest(&reference, &m.media_type, &raw)?;
        if is_top {
            let reported = match reported {
                Some(d) => Some(d),
                None => client.head_manifest(&reference, &m.media_type)?,
            };
            match reported {
                Some(d) if d == desc.digest.to_string() => {}
                Some(d) => bail!("{dest} reports manifest digest {d} after the push, not the local {}", desc.digest),
                None => bail!("{dest} does not report the digest of the manifest just pushed"),
            }
        }
    }
    sources.record(blobs.iter().map(|b| &b.digest), dest);
    let mut report = report.into_inner().unwrap_or_else(|p| p.into_inner());
    report.digest = desc.digest.to_string();
    report.bytes = bytes.into_inner();
    Ok(report)
}

/// Pulls `src` into `store` (every platform of an index), verifying every
/// manifest and blob against its digest, and names it `src` as written.
/// Returns the top descriptor and what moved.
pub fn pull(store: &Store, src: &Reference, options: &Options) -> Result<(Descriptor, TransferReport)> {
    let (top, report) = fetch(store, src, options)?;
    store.tag(&src.to_string(), &top).with_context(|| format!("naming the pulled image {src}"))?;
    Ok((top, report))
}

/// Like [`pull`], but names nothing: the blobs land in the store, verified,
/// for a caller that reads them (a cache or module artifact).
pub fn fetch(store: &Store, src: &Reference, options: &Options) -> Result<(Descriptor, TransferReport)> {
    let client = Client::new(src, options, Access::Pull)?;
    client.ping()?;
    let mut blobs = Vec::new();
    let top = fetch_manifest(store, &client, &src.manifest_ref(), src.digest.as_ref(), None, &mut blobs, 0)?;

    let report = Mutex::new(TransferReport { reference: src.to_string(), ..Default::default() });
    let mut seen = BTreeSet::new();
    blobs.retain(|b| seen.insert(b.digest.clone()));
    parallel(options.jobs, blobs.len(), |i| {
        let blob = &blobs[i];
        if store.layout().has_blob(&blob.digest) && store.layout().open_blob(blob).is_ok() {
            lock(&report).blobs_skipped += 1;
            return Ok(());
        }
        download(store, &client, blob, options.attempts)?;
        let mut r = lock(&report);
        r.blobs_transferred += 1;
        r.bytes += blob.size;
        Ok(())
    })?;
    Sources::open(store.root()).record(blobs.iter().map(|b| &b.digest), src);
    let mut report = report.into_inner().unwrap_or_else(|p| p.into_inner());
    report.digest = top.digest.to_string();
    Ok((top, report))
}

/// Fetches the manifest or index `reference`, checks it against `expected`
/// (its digest when pinned), stores it, and collects the blobs it needs;
/// recurses into an index's manifests.
fn fetch_manifest(
    store: &Store,
    client: &Client,
    reference: &str,
    expected: Option<&Digest>,
    expected_desc: Option<&Descriptor>,
    blobs: &mut Vec<Descriptor>,
    depth: usize,
) -> Result<Descriptor> {
    if depth > 4 {
        bail!("image indexes nest deeper than 4 levels at {reference}");
    }
    let (raw, header_type) = client.get_manifest(reference)?;
    let digest = Digest::of(&raw);
    if let Some(want) = expected
        && *want != digest
    {
        bail!("the registry sent manifest bytes hashing to {digest} for {want}: refusing them");
    }
    if let Some(d) = expected_desc
        && d.size != raw.len() as u64
    {
        bail!("manifest {digest} is {} bytes, its descriptor says {}", raw.len(), d.size);
    }
    // The error names what was fetched: the parse error alone says neither.
    let media_type = media_type_of(&raw, &header_type, expected_desc)
        .with_context(|| format!("manifest {reference} of {} ({digest})", client.repository()))?;
    let desc = store.put_blob(&media_type, &raw)?;
    if spec::is_index(&media_type) {
        let index: Index = serde_json::from_slice(&raw).with_context(|| format!("index {digest} is not valid"))?;
        for child in &index.manifests {
            if spec::is_index(&child.media_type) || spec::is_manifest(&child.media_type) {
                let d = child.digest.to_string();
                fetch_manifest(store, client, &d, Some(&child.digest), Some(child), blobs, depth + 1)?;
            } else {
                blobs.push(child.clone());
            }
        }
    } else {
        let m: Manifest = serde_json::from_slice(&raw).with_context(|| format!("manifest {digest} is not valid"))?;
        blobs.push(m.config);
        blobs.extend(m.layers);
    }
    Ok(desc)
}

/// The media type of a fetched manifest: the descriptor's, else the
/// document's own `mediaType`, else the response's Content-Type.
pub(super) fn media_type_of(raw: &[u8], header_type: &str, desc: Option<&Descriptor>) -> Result<String> {
    if let Some(d) = desc {
        return Ok(d.media_type.clone());
    }
    let v: serde_json::Value = serde_json::from_slice(raw).context("the manifest is not JSON")?;
    if let Some(t) = v.get("mediaType").and_then(|t| t.as_str()) {
        return Ok(t.to_string());
    }
    if spec::is_index(header_type) || spec::is_manifest(header_type) {
        return Ok(header_type.to_string());
    }
    // An OCI document without mediaType: an index has `manifests`.
    Ok(if v.get("manifests").is_some() { spec::MEDIA_TYPE_INDEX } else { spec::MEDIA_TYPE_MANIFEST }.to_string())
}

/// Downloads one blob into the store, hashing as it writes. A broken
/// connection resumes where it stopped when the registry honours a range
/// request, else starts again (up to `attempts` times); wrong bytes fail,
/// and a registry that sends more than the descriptor's size is cut off.
pub(super) fn download(store: &Store, client: &Client, blob: &Descriptor, attempts: u32) -> Result<()> {
    let mut writer = store.blob_writer()?;
    let mut failures = 0;
    loop {
        let offset = writer.len();
        let (body, resumed) = client.get_blob_from(&blob.digest, offset)?;
        if offset > 0 && !resumed {
            writer = store.blob_writer()?;
        }
        // The size is the registry's word and may be u64::MAX.
        let want = blob.size.saturating_sub(writer.len()).saturating_add(1);
        match copy_large(&mut body.take(want), &mut writer) {
            Ok(_) => break,
            Err(e) => {
                failures += 1;
                if failures >= attempts.max(1) {
                    bail!("downloading blob {} ({} of {} bytes): {e}", blob.digest, writer.len(), blob.size);
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        }
    }
    if writer.len() != blob.size {
        bail!(
            "the registry sent {}{} bytes for blob {}, its descriptor says {}: refusing them",
            if writer.len() > blob.size { "more than " } else { "" },
            writer.len().min(blob.size),
            blob.digest,
            blob.size
        );
    }
    writer
        .commit_expecting(&blob.digest)
        .map_err(|e| anyhow!("the registry sent wrong bytes for blob {}: {e}", blob.digest))?;
    Ok(())
}

/// `io::copy` with a 1 MiB buffer: blobs are large, and std's 8 KiB
/// chunks cost a hasher and buffer call each.
fn copy_large(from: &mut impl std::io::Read, to: &mut impl std::io::Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Runs `work(0..count)` on up to `jobs` threads; the first error wins.
pub(super) fn parallel(jobs: usize, count: usize, work: impl Fn(usize) -> Result<()> + Sync) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            s.spawn(|| {
                loop {
                    if lock(&failed).is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    if let Err(e) = work(i) {
                        lock(&failed).get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
