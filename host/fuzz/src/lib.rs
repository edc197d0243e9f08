//! Fuzz harnesses: one function per parser that untrusted input reaches.
//! Each takes arbitrary bytes and must return without panicking, hanging
//! or running out of memory; errors are the expected answer to bad input.
//! The AFL++ binary (`bin/fuzz_afl.rs`) and the seed-corpus smoke test
//! (`tests/seeds.rs`) both call them through [`TARGETS`].

use std::path::Path;
use std::sync::OnceLock;

/// A harness: arbitrary bytes in, nothing out; a panic is a finding.
pub type Harness = fn(&[u8]);

/// Every target by name; the name is also its seed directory under `seeds/`.
pub const TARGETS: &[(&str, Harness)] = &[
    ("kubefile", kubefile),
    ("dockerignore", dockerignore),
    ("pipeline_file", pipeline_file),
    ("step_response", step_response),
    ("oci_layout", oci_layout),
    ("tar_archive", tar_archive),
    ("registry_response", registry_response),
    ("template", template),
    ("kyverno_policy", kyverno_policy),
    ("kyverno_apply", kyverno_apply),
    ("kyverno_expr", kyverno_expr),
    ("yaml", yaml),
    ("image_reference", image_reference),
    ("image_search", image_search),
];

/// The harness named `name`.
pub fn target(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, h)| *h)
}

fn text(data: &[u8]) -> &str {
    // Parsers that take text get the valid UTF-8 prefix: invalid bytes are
    // refused before them, and fuzzing that refusal teaches nothing.
    match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or(""),
    }
}

/// An empty build context, made once: the planner only reads it.
fn empty_context() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir for the empty context")).path()
}

/// The Kubefile parser, then the planner over an empty context with a base
/// resolver that refuses (so FROM of a remote image takes the error path).
pub fn kubefile(data: &[u8]) {
    use sealbox::kubefile::{PlanOptions, parse, parse_platform, plan};
    let Ok(kubefile) = parse("Kubefile", data) else { return };
    let Ok(ctx) = cap_std::fs::Dir::open_ambient_dir(empty_context(), cap_std::ambient_authority()) else { return };
    let Ok(platform) = parse_platform("linux/amd64") else { return };
    let mut resolve = |_: &_, _: Option<&str>| Err("no base images while fuzzing".to_owned());
    let _ = plan("Kubefile", &kubefile, &ctx, &PlanOptions::new(platform), &mut resolve);
}

/// `.dockerignore` patterns, then matching: the first line is the path to
/// match, the rest the pattern file.
pub fn dockerignore(data: &[u8]) {
    let text = text(data);
    let (path, patterns) = text.split_once('\n').unwrap_or(("", text));
    if let Ok(ignore) = sealbox::kubefile::Ignore::parse(patterns) {
        let _ = ignore.is_excluded(Path::new(path));
        let _ = ignore.is_excluded(Path::new("a/b/c.yaml"));
    }
}

/// The pipeline file (`sealbox.yaml`) read from disk as the CLI does.
pub fn pipeline_file(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join(sealbox::pipeline::PIPELINE_FILE);
    if std::fs::write(&path, data).is_ok() {
        let _ = sealbox::pipeline::Pipeline::read(&path);
    }
}

/// A step's stdout: the response a module writes, parsed and checked.
pub fn step_response(data: &[u8]) {
    let _ = sealbox::sandbox::parse_response(data);
}

/// OCI layout readers: the bytes as `index.json` (and the first manifest
/// it names, when the bytes also parse as one) through resolve, children
/// and manifest lookup; and as a manifest and config directly.
pub fn oci_layout(data: &[u8]) {
    use sealbox::oci::{ImageConfig, Index, Layout, Manifest};
    let _ = serde_json::from_slice::<Manifest>(data);
    let _ = serde_json::from_slice::<ImageConfig>(data);
    let _ = serde_json::from_slice::<Index>(data);
    let Ok(dir) = tempfile::tempdir() else { return };
    let root = dir.path();
    let ok = std::fs::write(root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).is_ok()
        && std::fs::write(root.join("index.json"), data).is_ok()
        && std::fs::create_dir_all(root.join("blobs/sha256")).is_ok();
    if !ok {
        return;
    }
    let Ok(layout) = Layout::open(root) else { return };
    let _ = layout.index();
    if let Ok(images) = layout.images() {
        for (name, desc) in images.iter().take(4) {
            let _ = layout.resolve(name);
            let _ = layout.children(desc);
            let _ = layout.closure(desc);
            let _ = layout.manifest_for(desc, None);
        }
    }
}

/// The archive reader behind ADD and base layers: every compression
/// (detected from the bytes), tar headers and paths, with small limits so
/// a bomb is refused quickly.
pub fn tar_archive(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let limits = sealbox_unpack::Limits {
        max_entries: 1_000,
        max_bytes: 8 << 20,
        max_ratio: 200,
        ratio_threshold: 1 << 20,
        archive_bytes: data.len() as u64,
    };
    let _ = sealbox_unpack::unpack(data, &dir.path().join("out"), limits);
}

/// Registry responses: the auth challenge (`WWW-Authenticate`), image
/// references, and manifests or indexes as a registry returns them.
pub fn registry_response(data: &[u8]) {
    let text = text(data);
    let _ = sealbox::registry::client::parse_challenge(text);
    for line in text.lines().take(8) {
        let _ = sealbox::registry::Reference::parse(line);
    }
    let _ = serde_json::from_slice::<sealbox::oci::Manifest>(data);
    let _ = serde_json::from_slice::<sealbox::oci::Index>(data);
}

/// The template engine: parse, then execute over a small data document.
/// The first line is JSON data when it parses as such. A step budget of
/// 1 million (the engine's default is 50 million) keeps a template that
/// spends its whole budget well inside AFL++'s time limit, so what remains
/// slow is work the budget fails to count: the finding this target is for.
pub fn template(data: &[u8]) {
    use sealbox_render::engine::{Limits, Options, Templates, Value};
    let text = text(data);
    let (first, rest) = text.split_once('\n').unwrap_or(("", text));
    let json = serde_json::from_str::<serde_json::Value>(first)
        .unwrap_or_else(|_| serde_json::json!({"name": "app", "items": [1, 2, 3], "nested": {"k": "v"}}));
    let mut templates = Templates::new();
    if templates.parse("t", rest).is_ok() {
        let limits = Limits { max_steps: 1_000_000, ..Limits::default() };
        let _ = templates.execute("t", &Value::from(&json), &Options { limits, ..Options::default() });
    }
}

/// Kyverno policy loading: YAML documents, policy decoding and preparation.
pub fn kyverno_policy(data: &[u8]) {
    use sealbox_kyverno::loader;
    let Ok(docs) = loader::documents("policy.yaml", text(data)) else { return };
    let mut loaded = loader::LoadedPolicies::default();
    if loader::collect_policies(&mut loaded, "policy.yaml", &docs).is_ok() {
        let _ = loader::prepare(loaded);
    }
}

/// Kyverno's evaluation: the documents that are policies applied to the
/// documents that are resources (patterns, anchors, conditions, JMESPath
/// variables, CEL), a few of each so one input stays quick.
pub fn kyverno_apply(data: &[u8]) {
    use sealbox_kyverno::{apply, engine, jmes, loader, yaml};
    let Ok(docs) = yaml::load_located("input.yaml", text(data)) else { return };
    let (policies, others): (Vec<_>, Vec<_>) =
        docs.into_iter().take(16).partition(|d| sealbox_kyverno::policy::is_policy_document(&d.value));
    let mut loaded = loader::LoadedPolicies::default();
    let policies: Vec<serde_json::Value> = policies.into_iter().map(|d| d.value).collect();
    if loader::collect_policies(&mut loaded, "input.yaml", &policies).is_err() {
        return;
    }
    let mut resources = Vec::new();
    let objects = others.into_iter().filter(|d| d.value.is_object()).collect();
    if loader::collect_resources(&mut resources, "input.yaml", objects).is_err() {
        return;
    }
    let prepared = loader::prepare(loaded);
    let engine = engine::Engine::new(jmes::Clock::default());
    let opts = engine::EvalOptions { values: None, user: None, operation: None, exceptions: &[], mocks: None };
    let applier =
        apply::Applier { engine: &engine, policies: &prepared, opts: &opts, audit_warn: false, keep_passes: true };
    let _ = apply::apply_counted(&applier, &resources);
}

/// Kyverno's pieces without a policy around them, so the fuzzer reaches
/// each directly: line 1 a JMESPath expression, line 2 a condition
/// operator, the rest YAML whose first document is a pattern and second a
/// resource; the pattern (anchors, operators), the condition and the
/// expression are each evaluated against the resource.
pub fn kyverno_expr(data: &[u8]) {
    use sealbox_kyverno::{conditions, jmes, validate, yaml};
    let text = text(data);
    let mut parts = text.splitn(3, '\n');
    let (expr, operator, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let docs = yaml::load_located("input.yaml", rest).unwrap_or_default();
    let mut values = docs.into_iter().map(|d| d.value);
    let pattern = values.next().unwrap_or(serde_json::Value::Null);
    let resource = values.next().unwrap_or(serde_json::Value::Null);
    let _ = validate::match_pattern(&resource, &pattern);
    let _ = conditions::evaluate_operator(operator, &resource, &pattern);
    let _ = jmes::Jmes::new(jmes::Clock::default()).search(expr, &resource);
}

/// The YAML reader with Kubernetes' rules, whole and streamed from a reader
/// (which must agree: a difference is a finding).
pub fn yaml(data: &[u8]) {
    use sealbox_formats::yaml;
    let limits = yaml::Limits { max_nodes: 100_000, ..yaml::Limits::default() };
    let whole = yaml::load_with(text(data), limits);
    let mut streamed = Vec::new();
    let mut reader = text(data).as_bytes();
    let read = yaml::for_each_document_in(&mut reader, limits, &mut |d| {
        streamed.push(d);
        std::ops::ControlFlow::Continue(())
    });
    if let (Ok(whole), Ok(())) = (&whole, &read) {
        assert_eq!(whole, &streamed, "the streamed reader read other documents than the whole text gives");
    }
    for doc in whole.into_iter().flatten() {
        let _ = doc.root.to_json();
    }
}

/// Image references, as the image search and the registry client parse
/// them: one per line.
pub fn image_reference(data: &[u8]) {
    for line in text(data).lines().take(16) {
        if let Ok(r) = sealbox_formats::reference::Reference::parse_normalized(line) {
            let _ = (r.normalized(), r.sealer_name(), r.is_floating_latest());
        }
        let _ = sealbox::registry::Reference::parse(line);
        let _ = sealbox_imagelist::extract::classify(line);
    }
}

/// The image search over one manifest file and one image-list file.
pub fn image_search(data: &[u8]) {
    let text = text(data);
    let _ = sealbox_imagelist::extract::extract_yaml(text);
    let _ = sealbox_imagelist::imagelist_file::parse_list(text);
}
