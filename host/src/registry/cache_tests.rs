//! A registry step cache is written by whoever can push to it: `import`
//! admits only a sealbox cache config whose keys are digests and whose
//! entries are objects, and nothing else.

use super::{MEDIA_TYPE_CACHE_CONFIG, import};
use crate::oci::spec::{self, Descriptor, Manifest};
use crate::oci::{Digest, Store};
use crate::registry::test_registry::{Answer, TestRegistry, options};

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Serves a cache at `cache/steps:v1` whose config is `config` of
/// `config_type`, with one layer.
fn serve(reg: &TestRegistry, config_type: &str, config: &[u8]) -> Descriptor {
    let layer = b"a packed layer";
    let layer_desc = Descriptor::new(spec::MEDIA_TYPE_LAYER_GZIP, Digest::of(layer), layer.len() as u64);
    let config_desc = Descriptor::new(config_type, Digest::of(config), config.len() as u64);
    let manifest = spec::to_canonical_json(&Manifest::new(config_desc.clone(), vec![layer_desc.clone()]));
    reg.serve("/v2/cache/steps/manifests/v1", Answer::bytes(spec::MEDIA_TYPE_MANIFEST, &manifest));
    reg.serve(
        &format!("/v2/cache/steps/blobs/{}", config_desc.digest),
        Answer::bytes("application/octet-stream", config),
    );
    reg.serve(
        &format!("/v2/cache/steps/blobs/{}", layer_desc.digest),
        Answer::bytes("application/octet-stream", layer),
    );
    layer_desc
}

fn import_from(reg: &TestRegistry) -> (tempfile::TempDir, Store, anyhow::Result<super::RemoteCache>) {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path()).expect("store");
    let r = import(&store, &reg.reference("cache/steps:v1"), &options());
    (tmp, store, r)
}

fn refusal(reg: &TestRegistry) -> String {
    match import_from(reg).2 {
        Ok(c) => panic!("imported {} entries", c.entries.len()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_cache_of_digest_keys_and_object_entries_is_read_with_its_layers_verified() {
    let reg = TestRegistry::start();
    let config = format!(r#"{{"entries":{{"{KEY}":{{"digest":"sha256:{KEY}","kind":"layer"}}}}}}"#);
    let layer = serve(&reg, MEDIA_TYPE_CACHE_CONFIG, config.as_bytes());
    let (_t, store, cache) = import_from(&reg);
    let cache = cache.expect("import");
    assert_eq!(cache.entries.keys().collect::<Vec<_>>(), [KEY]);
    assert_eq!(cache.entries[KEY]["kind"], "layer");
    assert_eq!(cache.layers, vec![layer.clone()]);
    assert_eq!(store.layout().read_blob(&layer).expect("layer"), b"a packed layer");
}

#[test]
fn an_image_that_is_not_a_step_cache_is_refused() {
    let reg = TestRegistry::start();
    serve(&reg, spec::MEDIA_TYPE_CONFIG, br#"{"entries":{}}"#);
    let e = refusal(&reg);
    assert!(e.ends_with(&format!("is not a sealbox step cache (its config is {})", spec::MEDIA_TYPE_CONFIG)), "{e}");
}

#[test]
fn a_key_that_could_name_a_file_elsewhere_is_refused() {
    // Keys become file names in the store.
    for key in ["../../../../etc/cron.d/x", &KEY.to_uppercase(), &KEY[1..], &format!("{}/", &KEY[1..])] {
        let reg = TestRegistry::start();
        let config = serde_json::json!({ "entries": { key: {} } }).to_string();
        serve(&reg, MEDIA_TYPE_CACHE_CONFIG, config.as_bytes());
        let e = refusal(&reg);
        assert!(e.ends_with(&format!("{key:?} is not a step-cache key")), "{key}: {e}");
    }
}

#[test]
fn an_entry_that_is_not_an_object_or_a_config_with_other_fields_is_refused() {
    let reg = TestRegistry::start();
    serve(&reg, MEDIA_TYPE_CACHE_CONFIG, format!(r#"{{"entries":{{"{KEY}":"run me"}}}}"#).as_bytes());
    assert!(refusal(&reg).ends_with(&format!("the entry of {KEY} is not an object")));
    let reg = TestRegistry::start();
    serve(&reg, MEDIA_TYPE_CACHE_CONFIG, br#"{"entries":{},"hooks":["curl evil"]}"#);
    let e = refusal(&reg);
    assert!(e.contains("reading") && e.contains("unknown field `hooks`"), "{e}");
}

#[test]
fn a_config_whose_bytes_do_not_match_its_digest_is_not_read() {
    let reg = TestRegistry::start();
    let honest = br#"{"entries":{}}"#;
    let config_desc = Descriptor::new(MEDIA_TYPE_CACHE_CONFIG, Digest::of(honest), honest.len() as u64);
    let manifest = spec::to_canonical_json(&Manifest::new(config_desc.clone(), vec![]));
    reg.serve("/v2/cache/steps/manifests/v1", Answer::bytes(spec::MEDIA_TYPE_MANIFEST, &manifest));
    reg.serve(
        &format!("/v2/cache/steps/blobs/{}", config_desc.digest),
        Answer::bytes("application/json", br#"{"entries":[]}"#),
    );
    let e = refusal(&reg);
    assert!(e.contains(&format!("wrong bytes for blob {}", config_desc.digest)), "{e}");
}
