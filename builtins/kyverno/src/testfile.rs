//! The `kyverno test` runner: `kyverno-test.yaml` files
//! (`cli.kyverno.io/v1alpha1` Test, field names case-insensitive as Go's
//! encoding/json reads them), their policies, resources, values and
//! userinfo, and one result row per expected result and resource.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::context::Mocks;
use crate::engine::{Engine, EvalOptions, PreparedPolicy};
use crate::loader::{self, LoadedPolicies};
use crate::matching::UserInfo;
use crate::resource::Resource;
use crate::response::{RuleResponse, RuleStatus};
use crate::values::Values;

/// The test file name Kyverno looks for.
pub const TEST_FILE_NAME: &str = "kyverno-test.yaml";

/// `v[key]` with Go's case-insensitive field matching (exact match first).
pub fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let m = v.as_object()?;
    m.get(key).or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn str_ci<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get_ci(v, key).and_then(Value::as_str)
}

fn list_ci(v: &Value, key: &str) -> Vec<String> {
    match get_ci(v, key) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![],
    }
}

/// How a result row came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowOutcome {
    Pass,
    Fail,
    /// The policy gave no response for the resource (not matched,
    /// excluded, unknown rule or resource). Kyverno passes these silently.
    Excluded,
    /// The row needs a feature this engine does not evaluate.
    Unsupported,
}

/// Which part of Kyverno a row exercises, for the conformance scoreboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureClass {
    Pattern,
    Deny,
    Foreach,
    Cel,
    Mutate,
    ExternalContext,
    Other,
}

impl FeatureClass {
    /// The scoreboard label.
    pub fn label(self) -> &'static str {
        match self {
            FeatureClass::Pattern => "pattern",
            FeatureClass::Deny => "deny",
            FeatureClass::Foreach => "foreach",
            FeatureClass::Cel => "CEL",
            FeatureClass::Mutate => "mutate",
            FeatureClass::ExternalContext => "external context",
            FeatureClass::Other => "other (podSecurity, generate, verifyImages)",
        }
    }
}

/// One expected result of a test, judged against one resource.
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub test_file: String,
    pub test: String,
    pub policy: String,
    pub rule: String,
    pub resource: String,
    pub kind: String,
    pub expected: String,
    /// The statuses the engine gave ("" when there was no response).
    pub actual: String,
    pub outcome: RowOutcome,
    pub reason: String,
    pub class: FeatureClass,
}

/// The rows of one test file, or why it could not be run.
#[derive(Debug, Clone, Serialize)]
pub struct TestFileReport {
    pub test_file: String,
    pub test: String,
    pub rows: Vec<ResultRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every `kyverno-test.yaml` under `roots`, sorted.
pub fn find_test_files(roots: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
        if meta.is_file() {
            out.push(root.clone());
            continue;
        }
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
                let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
                let p = entry.path();
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(p);
                } else if p.file_name().and_then(|n| n.to_str()) == Some(TEST_FILE_NAME) {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

struct LoadedTest {
    name: String,
    policies: Vec<PreparedPolicy>,
    unsupported_policies: Vec<(String, String, String)>,
    resources: Vec<Resource>,
    /// `jsonPayloads`, by the name the test gives them.
    payloads: Vec<(String, Resource)>,
    values: Option<Values>,
    user: Option<UserInfo>,
    exceptions: Vec<Value>,
    mocks: Mocks,
    /// Why every row of the test is unsupported, if one is.
    unsupported_reason: Option<String>,
}

fn load_test(doc: &Value, dir: &Path, display: &dyn Fn(&Path) -> String) -> Result<LoadedTest, String> {
    let name = get_ci(doc, "metadata")
        .and_then(|m| str_ci(m, "name"))
        .or_else(|| str_ci(doc, "name"))
        .unwrap_or("")
        .to_string();
    let mut loaded = LoadedPolicies::default();
    for p in list_ci(doc, "policies") {
        if p.starts_with("http://") || p.starts_with("https://") {
            return Err(format!("policy {p}: remote policies are not supported"));
        }
        for file in loader::yaml_files(&dir.join(&p))? {
            let text = loader::read_text(&file)?;
            let shown = display(&file);
            let docs = loader::documents(&shown, &text)?;
            loader::collect_test_policies(&mut loaded, &shown, &docs)?;
        }
    }
    let mut resources = Vec::new();
    for r in list_ci(doc, "resources") {
        for file in loader::yaml_files(&dir.join(&r))? {
            let text = loader::read_text(&file)?;
            let shown = display(&file);
            let docs = loader::located_documents(&shown, &text)?;
            loader::collect_resources(&mut resources, &shown, docs)?;
        }
    }
    let mut values = None;
    if let Some(v) = str_ci(doc, "variables") {
        let file = dir.join(v);
        let text = loader::read_text(&file)?;
        let docs = loader::documents(&display(&file), &text)?;
        if let Some(d) = docs.first() {
            values = Some(Values::from_document(d).map_err(|e| format!("{}: {e}", display(&file)))?);
        }
    } else if let Some(inline) = get_ci(doc, "values").filter(|v| v.is_object()) {
        values = Some(Values::from_document(inline)?);
    }
    let user = match str_ci(doc, "userinfo") {
        Some(u) => {
            let file = dir.join(u);
            let text = loader::read_text(&file)?;
            let docs = loader::documents(&display(&file), &text)?;
            Some(parse_user_info(docs.first().unwrap_or(&Value::Null)))
        }
        None => None,
    };
    let mut exceptions = Vec::new();
    for e in list_ci(doc, "exceptions") {
        for file in loader::yaml_files(&dir.join(&e))? {
            let text = loader::read_text(&file)?;
            let docs = loader::documents(&display(&file), &text)?;
            exceptions
                .extend(docs.into_iter().filter(|d| d.get("kind").and_then(Value::as_str) == Some("PolicyException")));
        }
    }
    let mut mocks = Mocks::default();
    if let Some(Value::Array(calls)) = get_ci(doc, "apiCallResponses") {
        mocks.api_calls = calls.clone();
    }
    if let Some(Value::Array(entries)) = get_ci(doc, "globalContextEntries") {
        for e in entries {
            let name = str_ci(e, "name").unwrap_or("").to_string();
            mocks.global.insert(name, global_entry_value(e, dir, display)?);
        }
    }
    let mut params = Vec::new();
    for f in list_ci(doc, "paramResources") {
        for file in loader::yaml_files(&dir.join(&f))? {
            let text = loader::read_text(&file)?;
            params.extend(loader::documents(&display(&file), &text)?);
        }
    }
    if get_ci(doc, "paramResources").is_some() {
        mocks.params = Some(params);
    }
    if let Some(c) = str_ci(doc, "context") {
        let file = dir.join(c);
        let text = loader::read_text(&file)?;
        mocks.cel_context = loader::documents(&display(&file), &text)?.into_iter().next();
    }
    for f in list_ci(doc, "clusterResources") {
        for file in loader::yaml_files(&dir.join(&f))? {
            let text = loader::read_text(&file)?;
            for d in loader::documents(&display(&file), &text)? {
                // cli.kyverno.io's ClusterResource lists its objects under
                // spec.resources; any other document is an object itself.
                match d.pointer("/spec/resources") {
                    Some(Value::Array(items)) if d.get("kind").and_then(Value::as_str) == Some("ClusterResource") => {
                        mocks.cluster.extend(items.iter().cloned())
                    }
                    _ => mocks.cluster.push(d),
                }
            }
        }
    }
    if !mocks.cluster.is_empty() {
        // CEL's resource.* read the same objects, after the context file's.
        let context = mocks.cel_context.get_or_insert_with(|| Value::Object(Default::default()));
        list_at(context, &["spec", "resources"]).extend(mocks.cluster.iter().cloned());
    }
    // `jsonPayload` is the deprecated single form.
    let mut payload_names = list_ci(doc, "jsonPayloads");
    payload_names.extend(str_ci(doc, "jsonPayload").map(str::to_string));
    let mut payloads = Vec::new();
    for name in payload_names {
        let file = dir.join(&name);
        payloads.push((name, loader::payload(&file, &display(&file))?));
    }
    // HTTP and Envoy payloads are requests to Kyverno's authorization
    // servers (ValidatingPolicy `evaluation.mode: HTTP|Envoy`), not
    // documents to check.
    let unsupported_reason = ["httpPayloads", "envoyPayloads"]
        .iter()
        .find(|k| get_ci(doc, k).is_some_and(|v| !v.is_null()))
        .map(|k| format!("the test uses `{k}` (authorization requests), which this engine does not evaluate"));
    Ok(LoadedTest {
        name,
        unsupported_policies: loaded.unsupported.clone(),
        policies: loader::prepare(loaded),
        resources,
        payloads,
        unsupported_reason,
        values,
        user,
        exceptions,
        mocks,
    })
}

/// The value of a mocked global context entry: its `data` (plus its
/// projections by name), or its `resources` / `resourceFiles` as a list.
fn global_entry_value(e: &Value, dir: &Path, display: &dyn Fn(&Path) -> String) -> Result<Value, String> {
    if let Some(data) = get_ci(e, "data") {
        let mut value = data.clone();
        if let (Value::Object(m), Some(Value::Array(projections))) = (&mut value, get_ci(e, "projections")) {
            let jmes = crate::jmes::Jmes::new(crate::jmes::Clock::default());
            for p in projections {
                let (Some(name), Some(path)) = (str_ci(p, "name"), str_ci(p, "path")) else { continue };
                let projected = jmes.search(path, data).map_err(|err| format!("projection {name}: {err}"))?;
                m.insert(name.to_string(), projected);
            }
        }
        return Ok(value);
    }
    let mut items: Vec<Value> = match get_ci(e, "resources") {
        Some(Value::Array(r)) => r.clone(),
        _ => Vec::new(),
    };
    for f in list_ci(e, "resourceFiles") {
        let file = dir.join(f);
        let text = loader::read_text(&file)?;
        items.extend(loader::documents(&display(&file), &text)?);
    }
    Ok(Value::Array(items))
}

fn parse_user_info(doc: &Value) -> UserInfo {
    let info = get_ci(doc, "userInfo").unwrap_or(&Value::Null);
    UserInfo {
        username: str_ci(info, "username").unwrap_or("").to_string(),
        groups: list_ci(info, "groups"),
        roles: list_ci(doc, "roles"),
        cluster_roles: list_ci(doc, "clusterRoles"),
    }
}

/// Runs one test file: a report per Test document in it (Kyverno's CLI
/// runs every document of a `kyverno-test.yaml`). `display` turns paths
/// into the names used in rows.
pub fn run_test_file(engine: &Engine, path: &Path, display: &dyn Fn(&Path) -> String) -> Vec<TestFileReport> {
    let test_file = display(path);
    let fail = |e: String| {
        vec![TestFileReport { test_file: test_file.clone(), test: String::new(), rows: vec![], error: Some(e) }]
    };
    let text = match loader::read_text(path) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let docs = match loader::documents(&test_file, &text) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let docs: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return fail(format!("{test_file}: empty test file"));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    docs.into_iter().map(|doc| run_test_document(engine, &test_file, doc, dir, display)).collect()
}

/// Runs one Test document of `test_file`, whose relative paths start at `dir`.
fn run_test_document(
    engine: &Engine,
    test_file: &str,
    doc: &Value,
    dir: &Path,
    display: &dyn Fn(&Path) -> String,
) -> TestFileReport {
    let test_file = test_file.to_string();
    let test = match load_test(doc, dir, display) {
        Ok(t) => t,
        Err(e) => return TestFileReport { test_file, test: String::new(), rows: vec![], error: Some(e) },
    };
    let results = match get_ci(doc, "results") {
        Some(Value::Array(r)) => r.as_slice(),
        _ => &[],
    };
    // A row's `operation` applies to the resources it names.
    let mut operations: BTreeMap<String, String> = BTreeMap::new();
    // ValidatingPolicy rows carry their own request shape (Kyverno 1.19):
    // the operation holds for that policy and resource only.
    let mut row_operations: BTreeMap<(String, String), String> = BTreeMap::new();
    for row in results {
        if let Some(op) = str_ci(row, "operation") {
            for name in list_ci(row, "resources").into_iter().chain(str_ci(row, "resource").map(str::to_string)) {
                let bare = name.rsplit('/').next().unwrap_or(&name).to_string();
                let policy = str_ci(row, "policy").unwrap_or("");
                let policy = policy.rsplit('/').next().unwrap_or(policy).to_string();
                row_operations.insert((policy, bare.clone()), op.to_string());
                operations.insert(bare, op.to_string());
            }
        }
    }
    // responses[resource index][policy name] = rule responses
    let responses: Vec<BTreeMap<&str, Vec<RuleResponse>>> = test
        .resources
        .iter()
        .map(|r| {
            let opts = EvalOptions {
                values: test.values.as_ref(),
                user: test.user.as_ref(),
                operation: operations.get(r.name()).map(String::as_str),
                exceptions: &test.exceptions,
                mocks: Some(&test.mocks),
            };
            let for_policy = |p: &PreparedPolicy| {
                if !p.policy.is_ruleless() {
                    return engine.evaluate(p, r, &opts);
                }
                let key = (p.policy.name.clone(), r.name().to_string());
                let op = row_operations.get(&key).map(String::as_str);
                engine.evaluate(p, r, &EvalOptions { operation: op, ..opts.clone() })
            };
            test.policies.iter().map(|p| (p.policy.name.as_str(), for_policy(p))).collect()
        })
        .collect();
    // payload_responses[payload index][policy name] = rule responses
    let payload_opts = EvalOptions {
        values: test.values.as_ref(),
        user: test.user.as_ref(),
        operation: None,
        exceptions: &test.exceptions,
        mocks: Some(&test.mocks),
    };
    let payload_responses: Vec<BTreeMap<&str, Vec<RuleResponse>>> = test
        .payloads
        .iter()
        .map(|(_, payload)| {
            let for_policy = |p: &PreparedPolicy| engine.evaluate_payload(p, payload, &payload_opts);
            test.policies.iter().map(|p| (p.policy.name.as_str(), for_policy(p))).collect()
        })
        .collect();
    let mut rows = Vec::new();
    for row in results {
        let policy = str_ci(row, "policy").unwrap_or("").to_string();
        let rule = str_ci(row, "rule").unwrap_or("").to_string();
        let kind = str_ci(row, "kind").unwrap_or("").to_string();
        let expected = str_ci(row, "result").or_else(|| str_ci(row, "status")).unwrap_or("").to_string();
        let mut names = list_ci(row, "resources");
        if let Some(r) = str_ci(row, "resource") {
            names.push(r.to_string());
        }
        // A row that names no resource checks every resource and payload
        // the policy answered for, as Kyverno's CLI does.
        let targets: Vec<Option<String>> =
            if names.is_empty() { vec![None] } else { names.into_iter().map(Some).collect() };
        let row_namespace = str_ci(row, "namespace");
        let class = classify(&test, &policy, &rule, row);
        let key = policy.rsplit('/').next().unwrap_or(&policy);
        // Kyverno ignores `rule` for ruleless kinds (ValidatingPolicy).
        let ruleless = test.policies.iter().any(|p| p.policy.name == key && p.policy.is_ruleless());
        for target in targets {
            let wanted = target.as_deref().map(|name| match name.split_once('/') {
                Some((ns, n)) => (Some(ns), n),
                None => (row_namespace, name),
            });
            let mut got: Vec<&RuleResponse> = Vec::new();
            for (i, res) in test.resources.iter().enumerate() {
                let res_ns = if res.namespace().is_empty() { "default" } else { res.namespace() };
                if let Some((want_ns, want_name)) = wanted
                    && (res.name() != want_name || want_ns.is_some_and(|ns| res_ns != ns))
                {
                    continue;
                }
                got.extend(row_responses(&responses[i], key, &rule, ruleless));
            }
            for (j, (payload_name, _)) in test.payloads.iter().enumerate() {
                if target.as_ref().is_none_or(|name| name == payload_name) {
                    got.extend(row_responses(&payload_responses[j], key, &rule, ruleless));
                }
            }
            let (outcome, actual, reason) = judge(&test, &policy, &expected, &got, row);
            rows.push(ResultRow {
                test_file: test_file.clone(),
                test: test.name.clone(),
                policy: policy.clone(),
                rule: rule.clone(),
                resource: target.unwrap_or_else(|| "*".to_string()),
                kind: kind.clone(),
                expected: expected.clone(),
                actual,
                outcome,
                reason,
                class,
            });
        }
    }
    TestFileReport { test_file, test: test.name, rows, error: None }
}

/// The responses of policy `key` that a row about `rule` judges.
fn row_responses<'a>(
    by_policy: &'a BTreeMap<&str, Vec<RuleResponse>>,
    key: &str,
    rule: &'a str,
    ruleless: bool,
) -> impl Iterator<Item = &'a RuleResponse> {
    by_policy.get(key).into_iter().flatten().filter(move |r| ruleless || rule.is_empty() || rule_matches(&r.rule, rule))
}

fn rule_matches(response_rule: &str, row_rule: &str) -> bool {
    response_rule == row_rule
        || response_rule.strip_prefix("autogen-cronjob-") == Some(row_rule)
        || response_rule.strip_prefix("autogen-") == Some(row_rule)
}

fn judge(
    test: &LoadedTest,
    policy: &str,
    expected: &str,
    got: &[&RuleResponse],
    row: &Value,
) -> (RowOutcome, String, String) {
    let actual = got.iter().map(|r| r.status.as_str()).collect::<Vec<_>>().join(",");
    if let Some(reason) = &test.unsupported_reason {
        return (RowOutcome::Unsupported, actual, reason.clone());
    }
    if let Some((_, kind, _)) = test.unsupported_policies.iter().find(|(n, _, _)| n == policy) {
        return (RowOutcome::Unsupported, actual, format!("{kind} policies are not supported yet"));
    }
    let mutates = ["patchedResource", "patchedResources", "generatedResource", "cloneSourceResource"]
        .iter()
        .find(|k| get_ci(row, k).is_some_and(|v| !v.is_null()));
    if let Some(k) = mutates {
        return (RowOutcome::Unsupported, actual, format!("`{k}` needs mutate/generate, which is not supported yet"));
    }
    if !test.policies.iter().any(|p| p.policy.name == policy.rsplit('/').next().unwrap_or(policy)) {
        return (RowOutcome::Fail, actual, format!("policy {policy:?} not found in the test's policies"));
    }
    let (outcome, reason) = judge_responses(expected, got);
    (outcome, actual, reason)
}

/// The outcome of a row from the engine's responses for it, and why.
/// A row with an unsupported rule result counts as unsupported only when no
/// supported rule in it missed the expected status: otherwise the miss
/// would hide behind the unsupported one.
fn judge_responses(expected: &str, got: &[&RuleResponse]) -> (RowOutcome, String) {
    let miss = |r: &&&RuleResponse| !r.status.as_str().eq_ignore_ascii_case(expected);
    let supported_miss = got.iter().filter(|r| r.status != RuleStatus::Unsupported).find(miss);
    if let Some(r) = supported_miss {
        return (RowOutcome::Fail, format!("rule {}: {}", r.rule, r.message));
    }
    if let Some(u) = got.iter().find(|r| r.status == RuleStatus::Unsupported) {
        return (RowOutcome::Unsupported, u.message.clone());
    }
    if got.is_empty() {
        return (RowOutcome::Excluded, "the policy produced no response for this resource".into());
    }
    (RowOutcome::Pass, String::new())
}

fn classify(test: &LoadedTest, policy: &str, rule: &str, row: &Value) -> FeatureClass {
    if test
        .unsupported_policies
        .iter()
        .any(|(n, k, _)| n == policy && !k.contains("Mutating") && !k.contains("Generating"))
        || ["isValidatingAdmissionPolicy", "isValidatingPolicy", "isImageValidatingPolicy", "isDeletingPolicy"]
            .iter()
            .any(|k| get_ci(row, k).and_then(Value::as_bool) == Some(true))
    {
        return FeatureClass::Cel;
    }
    if test.unsupported_policies.iter().any(|(n, _, _)| n == policy)
        || ["patchedResource", "patchedResources", "isMutatingPolicy", "isMutatingAdmissionPolicy"]
            .iter()
            .any(|k| get_ci(row, k).is_some_and(|v| !v.is_null() && v != &Value::Bool(false)))
    {
        return FeatureClass::Mutate;
    }
    let bare = policy.rsplit('/').next().unwrap_or(policy);
    let Some(p) = test.policies.iter().find(|p| p.policy.name == bare) else { return FeatureClass::Other };
    if p.policy.is_ruleless() {
        return FeatureClass::Cel;
    }
    let source = p.policy.rules().iter().find(|r| crate::policy::rule_name(r) == rule);
    let Some(r) = source else {
        return FeatureClass::Other;
    };
    if r.get("mutate").is_some() {
        return FeatureClass::Mutate;
    }
    if r.get("generate").is_some() || r.get("verifyImages").is_some() {
        return FeatureClass::Other;
    }
    let external = |entries: Option<&Value>| {
        entries.and_then(Value::as_array).is_some_and(|a| {
            a.iter().any(|e| {
                ["apiCall", "configMap", "imageRegistry", "globalReference"].iter().any(|k| e.get(*k).is_some())
            })
        })
    };
    let v = r.get("validate").unwrap_or(&Value::Null);
    let foreach_external =
        v.get("foreach").and_then(Value::as_array).is_some_and(|f| f.iter().any(|e| external(e.get("context"))));
    if external(r.get("context")) || foreach_external {
        return FeatureClass::ExternalContext;
    }
    if v.get("cel").is_some() || r.get("celPreconditions").is_some() {
        return FeatureClass::Cel;
    }
    if v.get("foreach").is_some() {
        return FeatureClass::Foreach;
    }
    if v.get("deny").is_some() {
        return FeatureClass::Deny;
    }
    if v.get("pattern").is_some() || v.get("anyPattern").is_some() {
        return FeatureClass::Pattern;
    }
    FeatureClass::Other
}

/// Rows per feature class: `[pass, fail, excluded, unsupported]`.
pub fn scoreboard(reports: &[TestFileReport]) -> BTreeMap<FeatureClass, [usize; 4]> {
    let mut by_class: BTreeMap<FeatureClass, [usize; 4]> = BTreeMap::new();
    for row in reports.iter().flat_map(|r| &r.rows) {
        let slot = match row.outcome {
            RowOutcome::Pass => 0,
            RowOutcome::Fail => 1,
            RowOutcome::Excluded => 2,
            RowOutcome::Unsupported => 3,
        };
        by_class.entry(row.class).or_default()[slot] += 1;
    }
    by_class
}

/// The scoreboard as a text table with a total line.
pub fn render_scoreboard(reports: &[TestFileReport]) -> String {
    use std::fmt::Write;
    let mut out = format!("{:<36} {:>6} {:>6} {:>9} {:>12}\n", "class", "pass", "fail", "excluded", "unsupported");
    for (class, [p, f, e, u]) in scoreboard(reports) {
        let _ = writeln!(out, "{:<36} {p:>6} {f:>6} {e:>9} {u:>12}", class.label());
    }
    let s = summarize(reports);
    let _ = writeln!(
        out,
        "{:<36} {:>6} {:>6} {:>9} {:>12}   (test files that failed to load: {})",
        "total", s.pass, s.fail, s.excluded, s.unsupported, s.errors
    );
    out
}

/// Totals over result rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub excluded: usize,
    pub unsupported: usize,
    pub errors: usize,
}

/// Counts the rows of `reports` (file-level errors counted separately).
pub fn summarize(reports: &[TestFileReport]) -> Summary {
    let mut s = Summary::default();
    for r in reports {
        if r.error.is_some() {
            s.errors += 1;
        }
        for row in &r.rows {
            match row.outcome {
                RowOutcome::Pass => s.pass += 1,
                RowOutcome::Fail => s.fail += 1,
                RowOutcome::Excluded => s.excluded += 1,
                RowOutcome::Unsupported => s.unsupported += 1,
            }
        }
    }
    s
}

/// The list at `path` in `value`, made (replacing whatever is in the way)
/// when missing: test files are input, so their shape is not assumed.
fn list_at<'v>(value: &'v mut Value, path: &[&str]) -> &'v mut Vec<Value> {
    let mut at = value;
    for key in path {
        if !at.is_object() {
            *at = Value::Object(Default::default());
        }
        let Value::Object(map) = at else { unreachable!("made an object above") };
        at = map.entry(key.to_string()).or_insert(Value::Null);
    }
    if !at.is_array() {
        *at = Value::Array(Vec::new());
    }
    match at {
        Value::Array(items) => items,
        _ => unreachable!("made an array above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(rule: &str, status: RuleStatus) -> RuleResponse {
        RuleResponse::new(rule, status, format!("{rule} said so"))
    }

    #[test]
    fn a_supported_miss_beside_an_unsupported_rule_is_a_failure() {
        let (a, b) = (resp("a", RuleStatus::Unsupported), resp("b", RuleStatus::Fail));
        assert_eq!(judge_responses("pass", &[&a, &b]), (RowOutcome::Fail, "rule b: b said so".into()));
    }

    #[test]
    fn an_unsupported_rule_with_only_matching_neighbours_is_unsupported() {
        let (a, b) = (resp("a", RuleStatus::Unsupported), resp("b", RuleStatus::Pass));
        assert_eq!(judge_responses("pass", &[&a, &b]), (RowOutcome::Unsupported, "a said so".into()));
    }

    #[test]
    fn responses_decide_pass_fail_and_excluded() {
        let p = resp("a", RuleStatus::Pass);
        assert_eq!(judge_responses("Pass", &[&p]), (RowOutcome::Pass, String::new()));
        assert_eq!(judge_responses("fail", &[&p]).0, RowOutcome::Fail);
        assert_eq!(judge_responses("pass", &[]).0, RowOutcome::Excluded);
    }
}
