//! `values.schema.json` checking, as helm 3.17 does before rendering: the
//! coalesced values of the chart, and of each enabled sub-chart (its values
//! under its name), against that chart's JSON Schema (draft-07 unless the
//! schema's `$schema` names another draft). Every failing chart is listed
//! with its file and each failing value path, in helm's message layout
//! (`values don't meet the specifications…`, then `chart:` and `- path:
//! reason` lines), the common reasons worded as helm's Go validator words
//! them, the rest by ours (`boon`). Nothing is fetched: a `$ref` outside the schema
//! file is an error, where helm would download it.

use sealbox_render::engine::Value;

use super::ChartError;

/// A chart instance to check: its name (the alias for an aliased
/// sub-chart), the schema file's path for messages, the schema text and
/// its values.
pub struct Check<'a> {
    /// `.Chart.Name` of the instance.
    pub chart: &'a str,
    /// The schema file, as a path under the input root.
    pub file: String,
    /// The schema's text.
    pub schema: &'a [u8],
    /// The instance's coalesced values.
    pub values: &'a Value,
}

/// The largest number of failing paths listed per chart.
const MAX_ERRORS: usize = 50;

/// Checks each instance in order; one error lists every chart that fails.
pub fn validate(checks: &[Check<'_>]) -> Result<(), ChartError> {
    let mut report = String::new();
    let mut first_file = None;
    for check in checks {
        let failures = failures(check).map_err(|message| ChartError {
            file: Some(check.file.clone()),
            line: None,
            message: format!("invalid values schema: {message}"),
        })?;
        if failures.is_empty() {
            continue;
        }
        first_file.get_or_insert_with(|| check.file.clone());
        report.push_str(&format!("{} ({}):\n", check.chart, check.file));
        for f in failures.iter().take(MAX_ERRORS) {
            report.push_str(&format!("- {f}\n"));
        }
        if failures.len() > MAX_ERRORS {
            report.push_str(&format!("- … and {} more\n", failures.len() - MAX_ERRORS));
        }
    }
    if report.is_empty() {
        return Ok(());
    }
    Err(ChartError {
        file: first_file,
        line: None,
        message: format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{}",
            report.trim_end()
        ),
    })
}

/// A refusal to load anything: schemas are checked offline.
struct NoLoader;

impl boon::UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        Err(format!("{url}: schemas are not fetched (offline)").into())
    }
}

/// Where the schema is registered; nothing else resolves.
const LOCATION: &str = "file:///values.schema.json";

/// Each failing value path with its reason (`image.tag: want string, but
/// got number`); empty when the values pass.
fn failures(check: &Check<'_>) -> Result<Vec<String>, String> {
    let mut schema: serde_json::Value = serde_json::from_slice(check.schema).map_err(|e| format!("not JSON: {e}"))?;
    // A `$schema` naming no draft the validator knows (helm's charts often
    // write `http://json-schema.org/schema#`) falls back to draft-07.
    if let Some(map) = schema.as_object_mut()
        && map.get("$schema").and_then(|s| s.as_str()).is_some_and(|s| boon::Draft::from_url(s).is_none())
    {
        map.remove("$schema");
    }
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V7);
    compiler.use_loader(Box::new(NoLoader));
    compiler.add_resource(LOCATION, schema).map_err(|e| e.to_string())?;
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile(LOCATION, &mut schemas).map_err(|e| e.to_string())?;
    // helm validates `{}` when the values are null.
    let instance = match values_json(check.values) {
        serde_json::Value::Null => serde_json::json!({}),
        v => v,
    };
    let mut out = Vec::new();
    if let Err(e) = schemas.validate(&instance, index) {
        leaves(&e, &instance, &mut out);
    }
    out.dedup();
    Ok(out)
}

/// The values as helm hands them to the validator (a YAML round trip:
/// integral numbers are integers).
fn values_json(v: &Value) -> serde_json::Value {
    v.to_json()
}

/// The innermost errors, each as `path: reason`, the path dotted as helm's
/// validator prints it (`(root)` for the top).
fn leaves(e: &boon::ValidationError<'_, '_>, instance: &serde_json::Value, out: &mut Vec<String>) {
    if e.causes.is_empty() {
        let path: Vec<String> = e
            .instance_location
            .tokens
            .iter()
            .map(|t| match t {
                boon::InstanceToken::Prop(p) => p.to_string(),
                boon::InstanceToken::Item(i) => i.to_string(),
            })
            .collect();
        let path = if path.is_empty() { "(root)".to_string() } else { path.join(".") };
        let value = e.instance_location.tokens.iter().try_fold(instance, |v, t| match t {
            boon::InstanceToken::Prop(p) => v.get(p.as_ref()),
            boon::InstanceToken::Item(i) => v.get(i),
        });
        out.push(format!("{path}: {}", reason(&e.kind, &path, value)));
    }
    e.causes.iter().for_each(|c| leaves(c, instance, out));
}

/// A failure worded as helm's validator (gojsonschema) words it, for the
/// kinds charts use; the rest in the validator's own words.
fn reason(kind: &boon::ErrorKind<'_, '_>, path: &str, value: Option<&serde_json::Value>) -> String {
    use boon::ErrorKind as K;
    let json_list = |values: &[serde_json::Value]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
    match kind {
        K::Required { want } => want.iter().map(|p| format!("{p} is required")).collect::<Vec<_>>().join("; "),
        K::Type { got, want } => {
            let want: Vec<String> = want.iter().map(|t| t.to_string()).collect();
            // gojsonschema calls a whole number an integer.
            let given = match value {
                Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => "integer".to_string(),
                _ => got.to_string(),
            };
            format!("Invalid type. Expected: {}, given: {given}", want.join(", "))
        }
        K::Enum { want } => format!("{path} must be one of the following: {}", json_list(want)),
        K::Const { want } => format!("{path} does not match: {want}"),
        K::Minimum { want, .. } => format!("Must be greater than or equal to {want}"),
        K::ExclusiveMinimum { want, .. } => format!("Must be greater than {want}"),
        K::Maximum { want, .. } => format!("Must be less than or equal to {want}"),
        K::ExclusiveMaximum { want, .. } => format!("Must be less than {want}"),
        K::MultipleOf { want, .. } => format!("Must be a multiple of {want}"),
        K::MinLength { want, .. } => format!("String length must be greater than or equal to {want}"),
        K::MaxLength { want, .. } => format!("String length must be less than or equal to {want}"),
        K::Pattern { want, .. } => format!("Does not match pattern '{want}'"),
        K::Format { want, .. } => format!("Does not match format '{want}'"),
        K::MinItems { want, .. } => format!("Array must have at least {want} items"),
        K::MaxItems { want, .. } => format!("Array must have at most {want} items"),
        K::UniqueItems { got: [i, j] } => format!("array items[{i},{j}] must be unique"),
        K::AdditionalProperties { got } => {
            got.iter().map(|p| format!("Additional property {p} is not allowed")).collect::<Vec<_>>().join("; ")
        }
        K::FalseSchema => "False always fails validation".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helm::values::parse_values;

    fn check(schema: &str, values: &str) -> Result<(), ChartError> {
        let values = parse_values(values).expect("yaml");
        validate(&[Check {
            chart: "web",
            file: "web/values.schema.json".into(),
            schema: schema.as_bytes(),
            values: &values,
        }])
    }

    const SCHEMA: &str = r#"{"$schema": "http://json-schema.org/schema#", "type": "object",
        "required": ["image"],
        "properties": {"replicas": {"type": "integer", "minimum": 1},
                       "image": {"type": "object", "required": ["repository"],
                                 "properties": {"tag": {"type": "string"}}}}}"#;

    #[test]
    fn passing_values_pass_and_failures_name_chart_file_and_paths() {
        check(SCHEMA, "replicas: 2\nimage: {repository: nginx, tag: '1'}\n").expect("valid values");
        let err = check(SCHEMA, "replicas: 0\nimage: {tag: 1}\n").expect_err("invalid values");
        assert_eq!(err.file.as_deref(), Some("web/values.schema.json"));
        let m = &err.message;
        assert!(m.starts_with("values don't meet the specifications of the schema(s) in the following chart(s):\nweb (web/values.schema.json):\n"), "{m}");
        for path in [
            "- replicas: Must be greater than or equal to 1",
            "- image: repository is required",
            "- image.tag: Invalid type. Expected: string, given: integer",
        ] {
            assert!(m.contains(path), "{path} in {m}");
        }
        let err = check(SCHEMA, "{}").expect_err("missing image");
        assert!(err.message.contains("- (root): image is required"), "{}", err.message);
    }

    #[test]
    fn remote_references_and_bad_json_are_errors_not_fetches() {
        let remote = r#"{"$ref": "https://example.com/s.json"}"#;
        assert!(check(remote, "a: 1\n").expect_err("offline").message.contains("invalid values schema"));
        assert!(check("{", "a: 1\n").is_err());
    }
}
