//! The whole step over a fixture build context: manifests with a CRD and a
//! custom resource carrying images, a template leftover, an `imageList` with
//! comments, quotes and duplicates, a kube app, and a chart with sub-charts
//! (aliased, conditional, tagged, archived), with an ignored image.

mod common;

use sealbox_guest::{Platform, Severity};
use sealbox_imagelist::{Config, collect};

fn config() -> Config {
    Config { ignored_images: vec!["alpine:3.19".into()], ..Config::default() }
}

#[test]
fn context_gives_the_expected_annotation() {
    let ctx = common::context();
    let outcome = collect(ctx.path(), &config(), &Platform::default());
    let errors: Vec<_> = outcome.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let got = serde_json::to_string_pretty(&outcome.images).expect("json");
    let want = std::fs::read_to_string(common::fixtures().join("context.expected.json")).expect("expected file");
    assert_eq!(got.trim(), want.trim());
}

#[test]
fn floating_and_skipped_values_are_reported() {
    let ctx = common::context();
    let outcome = collect(ctx.path(), &Config { verbose: true, ..config() }, &Platform::default());
    let floating: Vec<_> =
        outcome.floating.iter().map(|f| (f.image.as_str(), f.reason, f.origin.file.as_str())).collect();
    // Recorded untagged, as sealer records it, and flagged as floating.
    assert_eq!(floating, [("docker.io/library/busybox", "untagged", "manifests/imageList")]);
    let skipped: Vec<_> = outcome
        .skipped
        .iter()
        .filter(|s| s.origin.file == "manifests/leftover.yaml")
        .map(|s| (s.value.as_str(), s.origin.line))
        .collect();
    assert_eq!(
        skipped,
        [
            ("{{ .Values.image.repository }}:{{ .Values.image.tag }}", Some(9)),
            ("parameter.image", Some(11)),
            ("string", Some(13)),
        ]
    );
    assert!(!outcome.images.iter().any(|i| i.image.contains("statsd-exporter")), "disabled sub-chart rendered");
    assert!(!outcome.images.iter().any(|i| i.image.contains("never")), "CRD schema default taken as image");
}

#[test]
fn require_digests_lists_every_undigested_image() {
    let ctx = common::context();
    let outcome = collect(ctx.path(), &Config { require_digests: true, ..config() }, &Platform::default());
    let errors = outcome.diagnostics.iter().filter(|d| d.rule.as_deref() == Some("imagelist/require-digests")).count();
    assert_eq!(errors, outcome.images.len() - 1, "all but the agent image lack a digest");
}
