//! Tests of the store as a whole: opening, naming images in `index.json`,
//! concurrent index updates, and a build killed at any moment. Tests of one
//! part (blobs, lock, fsck, gc, names) live in that part's file.

use std::io::Write;
use std::path::Path;

use super::test_support::{small_image, tmp_entries};
use super::*;
use crate::oci::spec::{ImageConfig, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST, Manifest, Platform};

#[test]
fn open_creates_a_valid_empty_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("root")).unwrap();
    let root = store.root();
    assert_eq!(std::fs::read_to_string(root.join("oci-layout")).unwrap(), OCI_LAYOUT_FILE);
    assert_eq!(
        std::fs::read_to_string(root.join("index.json")).unwrap(),
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
    );
    assert!(root.join("blobs/sha256").is_dir());
    assert!(Layout::open(root).is_ok());
    assert!(store.images().unwrap().is_empty());
}
#[test]
fn tag_resolve_list_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let one = small_image(&store, "one");
    let two = small_image(&store, "two");
    store.tag("example.com/b:v1", &one).unwrap();
    store.tag("a:latest", &two).unwrap();
    store.tag("example.com/b:v1", &two).unwrap(); // replaces
    let names: Vec<_> = store.images().unwrap().into_iter().map(|(n, d)| (n, d.digest)).collect();
    assert_eq!(
        names,
        vec![("a:latest".to_string(), two.digest.clone()), ("example.com/b:v1".to_string(), two.digest.clone())]
    );
    assert_eq!(store.resolve("a:latest").unwrap().digest, two.digest);
    assert_eq!(store.resolve(&two.digest.to_string()).unwrap().digest, two.digest);
    assert!(matches!(store.resolve("missing:1"), Err(Error::NotFound(_))));
    assert_eq!(store.remove("a:latest").unwrap().digest, two.digest);
    assert!(matches!(store.remove("a:latest"), Err(Error::NotFound(_))));
    assert_eq!(store.images().unwrap().len(), 1);
    // A second handle (another "process") sees the same index.
    let other = Store::open(dir.path()).unwrap();
    assert_eq!(other.resolve("example.com/b:v1").unwrap().digest, two.digest);
}

#[test]
fn tag_refuses_an_image_with_a_missing_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let layer = Descriptor::new(MEDIA_TYPE_LAYER_TAR, Digest::of(b"never written"), 13);
    let config = store.put_json(MEDIA_TYPE_CONFIG, &ImageConfig::new(&Platform::new("linux", "amd64", None)));
    let manifest = store.put_json(MEDIA_TYPE_MANIFEST, &Manifest::new(config.unwrap(), vec![layer])).unwrap();
    let err = store.tag("x:1", &manifest).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(store.images().unwrap().is_empty());
}
#[test]
fn concurrent_tagging_loses_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Store::open(dir.path()).unwrap();
    let image = small_image(&setup, "shared");
    std::thread::scope(|s| {
        for t in 0..4 {
            let (root, image) = (dir.path(), &image);
            s.spawn(move || {
                // Separate handles lock like separate processes.
                let store = Store::open(root).unwrap();
                for i in 0..10 {
                    store.put_blob("x", format!("{t}-{i}").as_bytes()).unwrap();
                    store.tag(&format!("img{t}:{i}"), image).unwrap();
                }
            });
        }
    });
    let images = setup.images().unwrap();
    assert_eq!(images.len(), 40);
    assert!(images.iter().all(|(_, d)| d.digest == image.digest));
}
/// Run as a child process by `a_killed_build_leaves_a_consistent_store`:
/// builds and tags images in a loop until killed.
fn keep_building(root: &Path) -> ! {
    use crate::oci::layer::LayerWriter;
    use crate::oci::spec::Compression;
    let store = Store::open(root).unwrap();
    let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for i in 0.. {
        let mut w = LayerWriter::new(&store, Compression::Gzip).unwrap();
        for _ in 0..8 {
            w.write_all(&chunk).unwrap();
        }
        w.write_all(format!("{i}").as_bytes()).unwrap();
        let layer = w.finish().unwrap();
        let mut config = ImageConfig::new(&Platform::new("linux", "amd64", None));
        config.rootfs.diff_ids.push(layer.diff_id.clone());
        let config = store.put_json(MEDIA_TYPE_CONFIG, &config).unwrap();
        let manifest = store.put_json(MEDIA_TYPE_MANIFEST, &Manifest::new(config, vec![layer.descriptor()])).unwrap();
        store.tag(&format!("img:{}", i % 3), &manifest).unwrap();
    }
    unreachable!()
}

#[test]
fn a_killed_build_leaves_a_consistent_store() {
    const CHILD: &str = "SEALBOX_OCI_TEST_BUILD_ROOT";
    if let Some(root) = std::env::var_os(CHILD) {
        keep_building(Path::new(&root));
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for delay_ms in [150, 400, 900, 1300] {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "oci::store::tests::a_killed_build_leaves_a_consistent_store", "--nocapture"])
            .env(CHILD, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL: no destructor runs
        child.wait().unwrap();
        let store = Store::open(dir.path()).unwrap(); // alone: cleans temp files
        assert!(tmp_entries(dir.path()).is_empty());
        let report = store.fsck(false).unwrap();
        assert!(report.is_ok(), "after a kill at {delay_ms} ms: {:?}", report.issues);
        for (name, desc) in store.images().unwrap() {
            let (_, manifest) = store.layout().manifest_for(&desc, None).unwrap();
            assert_eq!(manifest.layers.len(), 1, "{name}");
        }
    }
    // The children got far enough to name images, so the checks above
    // looked at real content.
    assert!(!Store::open(dir.path()).unwrap().images().unwrap().is_empty());
}
