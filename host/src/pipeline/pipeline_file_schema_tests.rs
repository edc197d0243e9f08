//! `guest-sdk/schema/pipeline.schema.json` is what editors and authors
//! check a `sealbox.yaml` against; the parser above is what a build obeys.
//! These tests hold the two together: the same keys at each level, the same
//! values for each enum, and the same required keys.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn schema() -> Value {
    serde_json::from_str(include_str!("../../../guest-sdk/schema/pipeline.schema.json"))
        .expect("pipeline.schema.json is JSON")
}

fn keys(node: &Value) -> BTreeSet<String> {
    node["properties"].as_object().expect("an object schema").keys().cloned().collect()
}

fn listed(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn strings(node: &Value) -> BTreeSet<String> {
    node.as_array().expect("a list").iter().filter_map(Value::as_str).map(str::to_string).collect()
}

fn step_schema(schema: &Value) -> &Value {
    &schema["$defs"]["step"]
}

#[test]
fn keys_at_every_level_are_the_schemas() {
    let schema = schema();
    let step = step_schema(&schema);
    assert_eq!(keys(&schema), listed(ROOT_KEYS), "pipeline file keys");
    assert_eq!(keys(step), listed(STEP_KEYS), "step keys");
    assert_eq!(keys(&step["properties"]["grants"]), listed(GRANT_KEYS), "grant keys");
}

#[test]
fn enum_values_are_the_schemas() {
    let schema = schema();
    let step = &step_schema(&schema)["properties"];
    let stages = [Stage::AfterCopy, Stage::AfterRender, Stage::BeforePack];
    assert_eq!(strings(&step["stage"]["enum"]), stages.iter().map(|s| s.as_str().to_string()).collect());
    for stage in stages {
        let text = pipeline(&format!("stage: {}", stage.as_str()), "");
        let parsed = parse("sealbox.yaml", Path::new("ctx"), &text).expect("a schema stage parses");
        assert_eq!(parsed.steps[0].stage, stage);
    }
    for kind in strings(&step["kind"]["enum"]) {
        let action = if kind == "policy" { "failureAction: Audit" } else { "" };
        let text = pipeline(&format!("stage: after-copy\n    kind: {kind}"), action);
        parse("sealbox.yaml", Path::new("ctx"), &text).unwrap_or_else(|e| panic!("kind {kind}: {e}"));
    }
    assert_eq!(strings(&step["kind"]["enum"]), listed(&["policy", "transform"]));
    for action in strings(&step["failureAction"]["enum"]) {
        let text = pipeline("stage: after-copy\n    kind: policy", &format!("failureAction: {action}"));
        parse("sealbox.yaml", Path::new("ctx"), &text).unwrap_or_else(|e| panic!("failureAction {action}: {e}"));
    }
    assert_eq!(strings(&step["failureAction"]["enum"]), listed(&["Enforce", "Audit"]));
}

/// A pipeline file with every property of every level, key by key, so a
/// test can leave one out.
fn full_file(skip_root: &str, skip_step: &str) -> String {
    let step = [
        ("name", "name: a".to_string()),
        ("stage", "stage: after-copy".into()),
        ("module", "module: m.wasm".into()),
        ("digest", format!("digest: {DIGEST}")),
        ("kind", "kind: policy".into()),
        ("config", "config: {x: 1}".into()),
        ("grants", "grants: {tree: etc, env: {A: b}, timeout: 5s, memoryMib: 64, documents: true}".into()),
        ("failureAction", "failureAction: Audit".into()),
    ];
    let step: Vec<String> = step.into_iter().filter(|(k, _)| *k != skip_step).map(|(_, line)| line).collect();
    let steps = format!("steps:\n  - {}", step.join("\n    "));
    let root =
        [("apiVersion", "apiVersion: sealbox.io/v1".to_string()), ("kind", "kind: Pipeline".into()), ("steps", steps)];
    root.into_iter().filter(|(k, _)| *k != skip_root).map(|(_, text)| text + "\n").collect()
}

#[test]
fn every_schema_property_parses_and_required_keys_are_required() {
    let schema = schema();
    let full = full_file("", "");
    parse("sealbox.yaml", Path::new("ctx"), &full).expect("a file with every schema property parses");
    for key in strings(&schema["required"]) {
        let without = full_file(&key, "");
        assert!(parse("sealbox.yaml", Path::new("ctx"), &without).is_err(), "the file loads without `{key}`");
    }
    for key in strings(&step_schema(&schema)["required"]) {
        let without = full_file("", &key);
        assert!(parse("sealbox.yaml", Path::new("ctx"), &without).is_err(), "a step loads without `{key}`");
    }
    // What the schema does not require loads when left out (the digest
    // only for modules pinned otherwise, which `m.wasm` is not).
    for key in keys(step_schema(&schema)) {
        if strings(&step_schema(&schema)["required"]).contains(&key) || key == "digest" {
            continue;
        }
        let without = full_file("", &key);
        parse("sealbox.yaml", Path::new("ctx"), &without).unwrap_or_else(|e| panic!("without optional `{key}`: {e}"));
    }
}

/// A one-step pipeline with `stage_and_kind` (and the kind unless given)
/// and an optional extra step line.
fn pipeline(stage_and_kind: &str, extra: &str) -> String {
    let kind = if stage_and_kind.contains("kind:") { String::new() } else { "\n    kind: transform".into() };
    let extra = if extra.is_empty() { String::new() } else { format!("\n    {extra}") };
    format!(
        "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: a\n    {stage_and_kind}{kind}\n    \
         module: m.wasm\n    digest: {DIGEST}{extra}\n"
    )
}
