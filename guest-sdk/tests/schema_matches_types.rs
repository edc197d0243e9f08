//! The JSON Schemas in `guest-sdk/schema/` are what authors in other
//! languages write against; the Rust types are what the host actually
//! reads. These tests hold the two together, so neither can drift:
//!
//! - every field a fully populated value serializes is a property in the
//!   schema, and every schema property is a field of the type;
//! - every enum's variants are exactly the schema's `enum` list;
//! - the schema's `required` list is exactly what deserializing demands:
//!   a value with only those keys loads, and one missing any of them does not.

use std::collections::{BTreeMap, BTreeSet};

use sealbox_guest::{
    API_VERSION, Capabilities, Diagnostic, FileEntry, FileKind, ImageInfo, ModuleKind, ModuleMetadata, Platform,
    Request, Response, Severity, Status,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn schema(name: &str) -> Value {
    let text = match name {
        "request" => include_str!("../schema/request.schema.json"),
        "response" => include_str!("../schema/response.schema.json"),
        "metadata" => include_str!("../schema/metadata.schema.json"),
        other => panic!("no schema named {other}"),
    };
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}.schema.json is not JSON: {e}"))
}

/// Follows `$ref: #/$defs/NAME` against the schema's root.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {reference}"));
            &root["$defs"][name]
        }
        None => node,
    }
}

/// Walks `value` (a fully populated instance) beside `node`, collecting
/// every disagreement as `path: what`.
fn compare(root: &Value, node: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let node = resolve(root, node);
    if let Some(allowed) = node.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} is not in the schema's enum {allowed:?}"));
    }
    if let Some(constant) = node.get("const")
        && constant != value
    {
        problems.push(format!("{path}: {value} is not the schema's const {constant}"));
    }
    match value {
        Value::Object(fields) => {
            let Some(properties) = node.get("properties").and_then(Value::as_object) else {
                // A map (additionalProperties) or a free-form value: its keys are data.
                return;
            };
            let in_type: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
            let in_schema: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
            for missing in in_type.difference(&in_schema) {
                problems.push(format!("{path}.{missing}: a field of the type, not a property in the schema"));
            }
            for extra in in_schema.difference(&in_type) {
                problems.push(format!(
                    "{path}.{extra}: a property in the schema that the type does not have \
                     (or the sample leaves it out)"
                ));
            }
            for (key, field) in fields {
                if let Some(property) = properties.get(key) {
                    compare(root, property, field, &format!("{path}.{key}"), problems);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = node.get("items") {
                for (i, item) in items.iter().enumerate() {
                    compare(root, item_schema, item, &format!("{path}[{i}]"), problems);
                }
            }
        }
        _ => {}
    }
}

fn assert_matches(schema_name: &str, sample: &impl serde::Serialize) {
    let root = schema(schema_name);
    let value = serde_json::to_value(sample).expect("the sample serializes");
    let mut problems = vec![];
    compare(&root, &root, &value, "$", &mut problems);
    assert!(problems.is_empty(), "{schema_name}.schema.json and the Rust types disagree:\n  {}", problems.join("\n  "));
}

/// The `required` list of the object schema at `pointer` (`""` for the root).
fn required(root: &Value, pointer: &str) -> BTreeSet<String> {
    let node = root.pointer(pointer).unwrap_or_else(|| panic!("no schema at {pointer}"));
    node.get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// `T` loads from `full` cut down to the schema's required keys, and fails
/// to load when any one of them is missing.
fn assert_required<T: DeserializeOwned>(schema_name: &str, pointer: &str, full: &Value) {
    let root = schema(schema_name);
    let required = required(&root, pointer);
    let object = full.as_object().expect("an object sample");
    let minimal: serde_json::Map<String, Value> =
        object.iter().filter(|(k, _)| required.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(minimal.len(), required.len(), "{schema_name}{pointer}: the sample lacks a required key");
    if let Err(e) = serde_json::from_value::<T>(Value::Object(minimal.clone())) {
        panic!("{schema_name}{pointer}: the type demands more than the schema's required {required:?}: {e}");
    }
    for key in &required {
        let mut without = minimal.clone();
        without.remove(key);
        assert!(
            serde_json::from_value::<T>(Value::Object(without)).is_err(),
            "{schema_name}{pointer}: `{key}` is required in the schema but the type loads without it"
        );
    }
}

/// The schema's `enum` at `pointer` equals the serialized variants.
fn assert_enum<T: serde::Serialize>(schema_name: &str, pointer: &str, variants: &[T]) {
    let root = schema(schema_name);
    let listed: BTreeSet<String> = root
        .pointer(pointer)
        .and_then(|n| n.get("enum"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{schema_name}{pointer} has no enum"))
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let serialized: BTreeSet<String> = variants
        .iter()
        .map(|v| serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).expect("a string variant"))
        .collect();
    assert_eq!(listed, serialized, "{schema_name}{pointer}: the schema's enum and the Rust variants differ");
}

fn full_request() -> Request {
    let file = |path: &str| FileEntry {
        path: path.into(),
        kind: FileKind::File,
        mode: 0o644,
        size: 3,
        link: Some("target".into()),
        hardlink: Some("first".into()),
    };
    Request {
        api_version: API_VERSION.into(),
        step: "render".into(),
        config: json!({"any": "value"}),
        env: BTreeMap::from([("A".into(), "1".into())]),
        image: ImageInfo {
            platform: Platform { os: "linux".into(), architecture: "arm64".into(), variant: Some("v8".into()) },
            source_date_epoch: 1,
            env: BTreeMap::from([("PATH".into(), "/bin".into())]),
            labels: BTreeMap::from([("l".into(), "v".into())]),
        },
        files: vec![file("etc/a")],
    }
}

fn full_response() -> Response {
    Response {
        api_version: API_VERSION.into(),
        status: Status::Failure,
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            message: "m".into(),
            file: Some("f".into()),
            line: Some(1),
            column: Some(2),
            rule: Some("r".into()),
        }],
        data: json!({"images": []}),
    }
}

fn full_metadata() -> ModuleMetadata {
    ModuleMetadata {
        name: "n".into(),
        version: "1.0.0".into(),
        kind: ModuleKind::Policy,
        capabilities: Capabilities { env: vec!["A".into()], write_output: true, memory_mib: Some(64) },
        min_host_version: Some("0.1.0".into()),
    }
}

#[test]
fn request_schema_matches_request() {
    assert_matches("request", &full_request());
    let full = serde_json::to_value(full_request()).unwrap();
    assert_required::<Request>("request", "", &full);
    assert_required::<FileEntry>("request", "/properties/files/items", &full["files"][0]);
    assert_required::<Platform>("request", "/$defs/platform", &full["image"]["platform"]);
    assert_enum(
        "request",
        "/properties/files/items/properties/kind",
        &[FileKind::File, FileKind::Dir, FileKind::Symlink],
    );
}

#[test]
fn response_schema_matches_response() {
    assert_matches("response", &full_response());
    let full = serde_json::to_value(full_response()).unwrap();
    assert_required::<Response>("response", "", &full);
    assert_required::<Diagnostic>("response", "/properties/diagnostics/items", &full["diagnostics"][0]);
    assert_enum("response", "/properties/status", &[Status::Success, Status::Failure]);
    assert_enum(
        "response",
        "/properties/diagnostics/items/properties/severity",
        &[Severity::Info, Severity::Warning, Severity::Error],
    );
}

#[test]
fn metadata_schema_matches_metadata() {
    assert_matches("metadata", &full_metadata());
    let full = serde_json::to_value(full_metadata()).unwrap();
    assert_required::<ModuleMetadata>("metadata", "", &full);
    assert_required::<Capabilities>("metadata", "/properties/capabilities", &full["capabilities"]);
    assert_enum("metadata", "/properties/kind", &[ModuleKind::Transform, ModuleKind::Policy]);
}

/// The checks above must be able to fail: a field the schema lacks, and a
/// required key the type does not need, are both caught.
#[test]
fn the_comparison_catches_drift() {
    let root = json!({
        "type": "object",
        "required": ["a"],
        "properties": { "a": { "type": "string" }, "gone": { "type": "string" } }
    });
    let mut problems = vec![];
    compare(&root, &root, &json!({"a": "x", "new": 1}), "$", &mut problems);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("$.new: a field of the type"), "{problems:?}");
    assert!(problems[1].contains("$.gone: a property in the schema"), "{problems:?}");

    let mut problems = vec![];
    compare(&root, &json!({"enum": ["a", "b"]}), &json!("c"), "$.e", &mut problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
}
