//! `ValidatingPolicy` and `NamespacedValidatingPolicy`
//! (`policies.kyverno.io` v1alpha1, v1beta1, v1): compiled once per policy,
//! evaluated per resource as Kyverno's engine does — `matchConstraints`,
//! `matchConditions` (first false: `skip`), variables in declaration
//! order, validations in order (first error: `error`, first false: `fail`
//! with Kyverno's message), autogen for Pod controllers.

use serde_json::{Value, json};

use crate::cel::{Activation, CelEnv, Program};
use crate::cel_match::{self, Attributes};
use crate::cel_request::CelRequest;
use crate::context::Mocks;
use crate::response::{RuleResponse, RuleStatus};

/// The kinds this module evaluates.
pub fn is_vpol_document(doc: &Value) -> bool {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    api.starts_with("policies.kyverno.io/") && matches!(kind, "ValidatingPolicy" | "NamespacedValidatingPolicy")
}

/// A CEL PolicyException (`policies.kyverno.io`) naming a policy, its
/// match conditions compiled: a resource it exempts is skipped.
pub struct CelException {
    pub name: String,
    conditions: Vec<(String, Program)>,
}

impl CelException {
    /// The exceptions among `exceptions` whose `policyRefs` name `policy`
    /// of `kind`, compiled; an error names the exception and expression.
    pub fn for_policy(
        env: &CelEnv,
        policy: &str,
        kind: &str,
        exceptions: &[Value],
    ) -> Result<Vec<CelException>, String> {
        let names = |e: &&Value| {
            e.get("apiVersion").and_then(Value::as_str).is_some_and(|a| a.starts_with("policies.kyverno.io/"))
                && e.get("kind").and_then(Value::as_str) == Some("PolicyException")
                && e.pointer("/spec/policyRefs").and_then(Value::as_array).is_some_and(|refs| {
                    refs.iter().any(|r| {
                        r.get("name").and_then(Value::as_str) == Some(policy)
                            && r.get("kind").and_then(Value::as_str).is_none_or(|k| k == kind)
                    })
                })
        };
        exceptions
            .iter()
            .filter(names)
            .map(|e| {
                let name = e.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
                let conditions = named_exprs(e.pointer("/spec/matchConditions"), "expression")
                    .into_iter()
                    .map(|(n, expr)| {
                        env.compile(&expr)
                            .map(|p| (n, p))
                            .map_err(|err| format!("PolicyException {name}: matchConditions: {err}"))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(CelException { name, conditions })
            })
            .collect()
    }

    /// Whether every match condition holds for the resource bound in `act`.
    fn exempts(&self, act: &Activation) -> Result<bool, String> {
        for (cond, program) in &self.conditions {
            if !act
                .eval_bool(program)
                .map_err(|e| format!("PolicyException {}: matchConditions {cond}: {e}", self.name))?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `DeletingPolicy` and its namespaced form, which `kyverno test`
/// evaluates like a ValidatingPolicy whose validations are its conditions
/// (see [`deleting_as_validating`]).
pub fn is_deleting_document(doc: &Value) -> bool {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    api.starts_with("policies.kyverno.io/") && matches!(kind, "DeletingPolicy" | "NamespacedDeletingPolicy")
}

/// A DeletingPolicy's spec as a ValidatingPolicy's: the same constraints,
/// match conditions and variables, its `conditions` as validations. The
/// resource passes when every condition holds (Kyverno would delete it)
/// and fails at the first that does not, as Kyverno's CLI reports it.
pub fn deleting_as_validating(spec: &Value) -> Value {
    let mut spec = spec.clone();
    if let Some(map) = spec.as_object_mut() {
        let conditions = map.remove("conditions").unwrap_or(json!([]));
        let validations: Vec<Value> = conditions
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                json!({"expression": c.get("expression").cloned().unwrap_or(Value::Null),
                       "message": format!("condition {name} is false: not deleted")})
            })
            .collect();
        map.insert("validations".into(), Value::Array(validations));
        // A cleanup job has no admission actions; nothing here can deny.
        map.remove("validationActions");
    }
    spec
}

pub(crate) struct Validation {
    expr: Program,
    message: Option<String>,
    message_expr: Option<Program>,
}

/// The compiled expressions of one variant (the policy as written, or an
/// autogen rewrite for Pod controllers).
pub(crate) struct Variant {
    /// The constraints this variant matches with.
    constraints: Option<Value>,
    conditions: Vec<(String, Program)>,
    variables: Vec<(String, Program)>,
    validations: Vec<Validation>,
}

/// A ValidatingPolicy ready to evaluate.
pub struct CompiledVpol {
    json_mode: bool,
    /// Deny is among `validationActions` (the default).
    pub deny: bool,
    /// Ignore (not Fail) as `failurePolicy`.
    ignore_failures: bool,
    constraints: Option<Value>,
    variants: Vec<Variant>,
    /// Why the policy cannot be evaluated: a compile error (`error`) or a
    /// feature this engine lacks (`unsupported`).
    broken: Option<(RuleStatus, String)>,
    /// Why the policy needs a test `context:` file, when it does.
    needs_context: Option<String>,
    /// The mocked libraries the policy uses, with the test key serving each.
    needs_mocks: Vec<(&'static str, &'static str)>,
}

/// Functions of Kyverno's libraries that need a cluster, a registry or
/// test mocks this engine does not serve yet; a policy calling one is
/// reported `unsupported`, naming it.
const UNSERVED: &[&str] = &[
    "ToGVR",
    "toGVR",
    "Client",
    "parseImageReference",
    "isImage",
    "image",
    "md5",
    "sha1",
    "sha256",
    "listObjToMap",
    "random",
    "unmarshal",
    "marshal",
    "parse",
    "compress",
    "decompress",
    "now",
    "toCron",
    "Apply",
    "apply",
    "verifyImageSignatures",
    "verifyAttestationSignatures",
    "extractPayload",
    "check",
    "allowed",
    // Kubernetes CEL libraries not registered yet.
    "quantity",
    "isQuantity",
    "url",
    "isURL",
    "ip",
    "isIP",
    "cidr",
    "isCIDR",
    "semver",
    "isSemver",
    "find",
    "findAll",
    "isSorted",
];

/// Library roots (variables) this engine does not bind.
const UNBOUND_ROOTS: &[&str] = &[
    "authorizer",
    "x509",
    "gzip",
    "generator",
    "json",
    "yaml",
    "hash",
    "time",
    "user",
    "imagedata",
    "exceptions",
    "params",
    // cel-go extensions not registered yet (sets, regex) and k8s format.
    "sets",
    "regex",
    "format",
];

/// Why an expression is outside what this engine evaluates, naming the call.
pub fn unserved_call(p: &Program, allow_params: bool) -> Option<String> {
    let refs = p.functions();
    if let Some(hit) = refs.iter().find(|f| UNSERVED.contains(&f.rsplit('.').next().unwrap_or(f))) {
        return Some(format!(
            "CEL function `{hit}` is not supported yet (a Kyverno library needing a cluster, registry or mocks, or a Kubernetes library not implemented)"
        ));
    }
    let vars = p.variables();
    let root = vars.iter().find(|v| UNBOUND_ROOTS.contains(&v.as_str()) && !(allow_params && *v == "params"))?;
    Some(format!("CEL library `{root}` is not supported yet (not bound offline, or not implemented)"))
}

/// Libraries served from a test's mocks: `globalContext` from its
/// `globalContextEntries`, `http` from its `apiCallResponses`.
const MOCKED_ROOTS: &[(&str, &str)] = &[("globalContext", "globalContextEntries"), ("http", "apiCallResponses")];

/// The mocked libraries `p` uses.
fn mocked_roots(p: &Program) -> impl Iterator<Item = (&'static str, &'static str)> {
    let vars = p.variables();
    MOCKED_ROOTS.iter().copied().filter(move |(root, _)| vars.iter().any(|v| v == root))
}

/// Calls served from a test's `context:` file; without one they are unsupported.
fn context_call(p: &Program) -> Option<String> {
    let vars = p.variables();
    let uses = |root: &str| vars.iter().any(|v| v == root);
    let served: &[&str] = match (uses("resource"), uses("image")) {
        (true, true) => &["Get", "List", "get", "list", "GetMetadata"],
        (true, false) => &["Get", "List", "get", "list"],
        (false, true) => &["GetMetadata"],
        (false, false) => return None,
    };
    let f = p.functions().into_iter().find(|f| served.contains(&f.as_str()))?;
    let root = if f == "GetMetadata" { "image" } else { "resource" };
    Some(format!(
        "CEL `{root}.{f}` needs a cluster or registry; offline it is served only from a test's `context:` file"
    ))
}

fn named_exprs(list: Option<&Value>, field: &str) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| {
                    let name = v.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                    (name, v.get(field).and_then(Value::as_str).unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

impl CompiledVpol {
    /// Compiles `spec` once. Compile errors and unsupported calls are kept
    /// and reported on every resource the policy matches.
    pub fn compile(env: &CelEnv, spec: &Value) -> CompiledVpol {
        let json_mode = spec.pointer("/evaluation/mode").and_then(Value::as_str) == Some("JSON");
        let actions: Vec<&str> = spec
            .get("validationActions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let deny = actions.is_empty() || actions.contains(&"Deny");
        let ignore_failures = spec.get("failurePolicy").and_then(Value::as_str) == Some("Ignore");
        let constraints = spec.get("matchConstraints").filter(|c| !c.is_null()).cloned();
        let mut out = CompiledVpol {
            json_mode,
            deny,
            ignore_failures,
            constraints: constraints.clone(),
            variants: Vec::new(),
            broken: None,
            needs_context: None,
            needs_mocks: Vec::new(),
        };
        let mut rewrites: Vec<(Option<Value>, Option<bool>)> = vec![(constraints.clone(), None)];
        if !json_mode && cel_match::is_plain_pod_rule(constraints.as_ref()) {
            let controllers: Option<Vec<&str>> = spec
                .pointer("/autogen/podControllers/controllers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect());
            let wanted = |r: &str| controllers.as_ref().is_none_or(|c| c.iter().any(|x| x.eq_ignore_ascii_case(r)));
            let c = constraints.as_ref().unwrap_or(&Value::Null);
            let ops = c.pointer("/resourceRules/0/operations").cloned().unwrap_or(json!(["*"]));
            for cron in [false, true] {
                let mut rules = Vec::new();
                for group in ["apps", "batch"] {
                    let resources: Vec<&str> = cel_match::POD_CONTROLLERS
                        .iter()
                        .filter(|(r, g, _)| *g == group && (*r == "cronjobs") == cron && wanted(r))
                        .map(|(r, _, _)| *r)
                        .collect();
                    if !resources.is_empty() {
                        rules.push(json!({"apiGroups": [group], "apiVersions": ["v1"], "resources": resources, "operations": ops}));
                    }
                }
                if !rules.is_empty() {
                    let mut m = json!({"resourceRules": rules});
                    if let Some(ns) = c.get("namespaceSelector") {
                        m["namespaceSelector"] = ns.clone();
                    }
                    rewrites.push((Some(m), Some(cron)));
                }
            }
        }
        for (constraints, cron) in rewrites {
            match compile_variant(env, spec, constraints, cron, false) {
                Ok(v) => {
                    if out.needs_context.is_none() {
                        out.needs_context = v.programs().find_map(context_call);
                    }
                    for root in v.programs().flat_map(mocked_roots) {
                        if !out.needs_mocks.contains(&root) {
                            out.needs_mocks.push(root);
                        }
                    }
                    out.variants.push(v)
                }
                Err(broken) => {
                    out.broken = Some(broken);
                    break;
                }
            }
        }
        out
    }

    /// Evaluates the policy on one resource; no response when it does not match.
    pub fn evaluate(&self, env: &CelEnv, req: &CelRequest<'_>, mocks: Option<&Mocks>) -> Vec<RuleResponse> {
        self.evaluate_with(env, req, mocks, &[])
    }

    /// [`CompiledVpol::evaluate`], skipping a resource that one of
    /// `exceptions` (those naming this policy) exempts.
    pub fn evaluate_with(
        &self,
        env: &CelEnv,
        req: &CelRequest<'_>,
        mocks: Option<&Mocks>,
        exceptions: &[CelException],
    ) -> Vec<RuleResponse> {
        self.evaluate_as(env, req, mocks, exceptions, self.json_mode)
    }

    /// Whether the policy evaluates plain JSON (`evaluation.mode: JSON`).
    pub fn is_json_mode(&self) -> bool {
        self.json_mode
    }

    /// Evaluates the policy on a JSON payload (a test's `jsonPayloads`),
    /// as JSON mode does whatever the policy says: no matching, only
    /// `object` bound. The caller decides which policies see payloads.
    pub fn evaluate_payload(
        &self,
        env: &CelEnv,
        req: &CelRequest<'_>,
        mocks: Option<&Mocks>,
        exceptions: &[CelException],
    ) -> Vec<RuleResponse> {
        self.evaluate_as(env, req, mocks, exceptions, true)
    }

    fn evaluate_as(
        &self,
        env: &CelEnv,
        req: &CelRequest<'_>,
        mocks: Option<&Mocks>,
        exceptions: &[CelException],
        json_mode: bool,
    ) -> Vec<RuleResponse> {
        let context = mocks.and_then(|m| m.cel_context.as_ref());
        let attrs =
            Attributes { resource: req.resource, operation: req.operation, namespace_labels: req.namespace_labels };
        if let Some((status, why)) = &self.broken {
            // A broken policy still reports only on what it would match.
            return match json_mode || cel_match::matches(self.constraints.as_ref(), &attrs) == Ok(true) {
                true => vec![RuleResponse::new("", *status, why.clone())],
                false => vec![],
            };
        }
        let variant = if json_mode {
            self.variants.first()
        } else {
            let mut found = None;
            for v in &self.variants {
                match cel_match::matches(v.constraints.as_ref(), &attrs) {
                    Ok(true) => {
                        found = Some(v);
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => return vec![RuleResponse::new("", RuleStatus::Error, format!("matchConstraints: {e}"))],
                }
            }
            found
        };
        let Some(variant) = variant else { return vec![] };
        let mut act = Activation::new(env);
        req.bind(&mut act, json_mode);
        match (context, &self.needs_context) {
            (Some(c), _) => {
                act.bind_json("resource", &crate::cel_functions::resource_binding(c));
                act.bind_json("image", &crate::cel_functions::image_binding(c));
            }
            (None, Some(why)) => return vec![RuleResponse::new("", RuleStatus::Unsupported, why.clone())],
            (None, None) => {}
        }
        for (root, key) in &self.needs_mocks {
            match (*root, mocks) {
                ("globalContext", Some(m)) if !m.global.is_empty() => {
                    act.bind_json(root, &crate::cel_functions::global_binding(&m.global))
                }
                ("http", Some(m)) if !m.api_calls.is_empty() => {
                    act.bind_json(root, &crate::cel_functions::http_binding(&m.api_calls))
                }
                _ => {
                    let why = format!(
                        "CEL library `{root}` needs a cluster or a network; offline it is served only from a test's `{key}`"
                    );
                    return vec![RuleResponse::new("", RuleStatus::Unsupported, why)];
                }
            }
        }
        for exception in exceptions {
            match exception.exempts(&act) {
                Ok(false) => {}
                Ok(true) => {
                    let why = format!("rule skipped due to policy exception {}", exception.name);
                    return vec![RuleResponse::new("", RuleStatus::Skip, why)];
                }
                Err(e) => return vec![RuleResponse::new("", RuleStatus::Error, e)],
            }
        }
        vec![run_variant(variant, &mut act, self.ignore_failures, false)]
    }
}

/// Runs a compiled variant: match conditions, variables, validations.
/// `k8s_messages` builds messages as Kubernetes' validator does (VAP).
pub(crate) fn run_variant(
    v: &Variant,
    act: &mut Activation,
    ignore_failures: bool,
    k8s_messages: bool,
) -> RuleResponse {
    {
        let mut cond_error = None;
        for (name, p) in &v.conditions {
            match act.eval_bool(p) {
                Ok(true) => {}
                Ok(false) => {
                    return RuleResponse::new("", RuleStatus::Skip, format!("match condition {name:?} not met"));
                }
                Err(e) => {
                    cond_error.get_or_insert(format!("match condition {name:?}: {e}"));
                }
            }
        }
        if let Some(e) = cond_error {
            let status = if ignore_failures { RuleStatus::Skip } else { RuleStatus::Error };
            return RuleResponse::new("", status, e);
        }
        let mut values = Vec::new();
        let mut failed_vars: Vec<(String, String)> = Vec::new();
        for (name, p) in &v.variables {
            act.bind_map("variables", &values);
            match act.eval(p) {
                Ok(val) => values.push((name.clone(), val)),
                // Variables are lazy in Kyverno: an error matters only where
                // the variable is used. It is left out of `variables`, so a
                // use fails there with this error.
                Err(e) => failed_vars.push((name.clone(), e)),
            }
        }
        act.bind_map("variables", &values);
        for (i, val) in v.validations.iter().enumerate() {
            match act.eval_bool(&val.expr) {
                Ok(true) => {}
                Ok(false) => {
                    let m = if k8s_messages { k8s_message(act, val) } else { message(act, val, i) };
                    return RuleResponse::new(&format!("validations[{i}]"), RuleStatus::Fail, m);
                }
                Err(e) => {
                    return RuleResponse::new(
                        &format!("validations[{i}]"),
                        RuleStatus::Error,
                        explain_error(e, &failed_vars),
                    );
                }
            }
        }
        RuleResponse::new("", RuleStatus::Pass, "")
    }
}

impl Variant {
    pub(crate) fn programs(&self) -> impl Iterator<Item = &Program> {
        let named = self.conditions.iter().chain(&self.variables).map(|(_, p)| p);
        named.chain(self.validations.iter().flat_map(|v| std::iter::once(&v.expr).chain(&v.message_expr)))
    }
}

/// Kubernetes' validator: a usable messageExpression result (one line, at
/// most 5 KiB, not blank), else the message, else `failed expression: <expr>`.
pub(crate) fn k8s_message(act: &Activation, v: &Validation) -> String {
    if let Some(p) = &v.message_expr
        && let Ok(m) = act.eval(p).and_then(|m| crate::cel::as_string(&m))
    {
        let m = m.trim();
        if !m.is_empty() && !m.contains('\n') && m.len() <= 5 * 1024 {
            return m.to_string();
        }
    }
    v.message.clone().unwrap_or_else(|| format!("failed expression: {}", v.expr.source()))
}

/// The message of a failed validation, as Kyverno builds it.
fn message(act: &Activation, v: &Validation, index: usize) -> String {
    if let Some(p) = &v.message_expr {
        return match act.eval(p).and_then(|m| crate::cel::as_string(&m)) {
            Ok(m) => m,
            Err(e) => format!("failed to evaluate message expression: {e}"),
        };
    }
    v.message.clone().unwrap_or_else(|| format!("CEL expression validation failed at index {index}"))
}

/// An evaluation error, naming the failed variable it came from when a
/// missing `variables` entry caused it.
pub fn explain_error(e: String, failed_vars: &[(String, String)]) -> String {
    for (name, why) in failed_vars {
        if e.contains(&format!("\"{name}\"")) || e.contains(&format!("'{name}'")) || e.ends_with(name.as_str()) {
            return format!("composited variable {name:?} fails to evaluate: {why}");
        }
    }
    e
}

/// Compiles a policy spec's conditions, variables and validations, for
/// `constraints`; `cron` rewrites them for Pod controllers (autogen).
/// `params` may be read only where `allow_params` (admission policies).
pub(crate) fn compile_variant(
    env: &CelEnv,
    spec: &Value,
    constraints: Option<Value>,
    cron: Option<bool>,
    allow_params: bool,
) -> Result<Variant, (RuleStatus, String)> {
    let compile = |src: &str| -> Result<Program, (RuleStatus, String)> {
        let src = match cron {
            Some(c) => cel_match::autogen_expression(src, c, true),
            None => src.to_string(),
        };
        let p = env.compile(&src).map_err(|e| (RuleStatus::Error, format!("failed to compile policy: {e}")))?;
        if let Some(why) = unserved_call(&p, allow_params) {
            return Err((RuleStatus::Unsupported, why));
        }
        Ok(p)
    };
    let mut v = Variant { constraints, conditions: Vec::new(), variables: Vec::new(), validations: Vec::new() };
    for (name, e) in named_exprs(spec.get("matchConditions"), "expression") {
        v.conditions.push((name, compile(&e)?));
    }
    for (name, e) in named_exprs(spec.get("variables"), "expression") {
        v.variables.push((name, compile(&e)?));
    }
    for val in spec.get("validations").and_then(Value::as_array).into_iter().flatten() {
        let expr = compile(val.get("expression").and_then(Value::as_str).unwrap_or(""))?;
        let message = val.get("message").and_then(Value::as_str).filter(|m| !m.is_empty()).map(str::to_string);
        let message_expr = match val.get("messageExpression").and_then(Value::as_str).filter(|m| !m.is_empty()) {
            Some(m) => Some(compile(m)?),
            None => None,
        };
        v.validations.push(Validation { expr, message, message_expr });
    }
    if spec.get("auditAnnotations").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        return Err((RuleStatus::Unsupported, "`auditAnnotations` are not supported yet".into()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Resource;

    fn pod(name: &str, spec: Value) -> Resource {
        Resource {
            value: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}),
            file: "r.yaml".into(),
            document: 0,
            line: 1,
        }
    }

    fn run(spec: Value, resource: &Resource) -> Vec<RuleResponse> {
        let env = CelEnv::kyverno();
        let req = CelRequest {
            resource,
            operation: "CREATE",
            namespace_labels: None,
            namespace_object: None,
            user: None,
            namespace_stub: false,
        };
        CompiledVpol::compile(&env, &spec).evaluate(&env, &req, None)
    }

    fn pods() -> Value {
        json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]})
    }

    #[test]
    fn global_context_and_http_are_served_from_a_tests_mocks() {
        let env = CelEnv::kyverno();
        let p = pod("a", json!({}));
        let req = CelRequest {
            resource: &p,
            operation: "CREATE",
            namespace_labels: None,
            namespace_object: None,
            user: None,
            namespace_stub: false,
        };
        let mocks = Mocks {
            global: [("deps".to_string(), json!({"deployments": [1, 2], "count": 2}))].into_iter().collect(),
            api_calls: vec![
                json!({"url": "https://x/config", "response": {"body": {"allowed": true}, "statusCode": 200}}),
                json!({"method": "POST", "url": "https://x/check", "response": {"body": {"allowed": false}}}),
            ],
            ..Mocks::default()
        };
        let status = |expr: &str| {
            let spec = json!({"matchConstraints": pods(), "validations": [{"expression": expr}]});
            CompiledVpol::compile(&env, &spec).evaluate(&env, &req, Some(&mocks))[0].status
        };
        assert_eq!(status("size(globalContext.Get('deps', '').deployments) == 2"), RuleStatus::Pass);
        assert_eq!(status("globalContext.Get('deps', 'count') == 2"), RuleStatus::Pass);
        assert_eq!(status("globalContext.Get('nope', '') != null"), RuleStatus::Error);
        assert_eq!(status("http.Get('https://x/config').body.allowed"), RuleStatus::Pass);
        assert_eq!(status("http.Post('https://x/check', {'a': 1}).body.allowed"), RuleStatus::Fail);
        assert_eq!(status("http.Get('https://x/check') != null"), RuleStatus::Error, "mocked for POST only");
        let spec = json!({"matchConstraints": pods(), "validations": [{"expression": "http.Get('https://x/config') != null"}]});
        let unmocked = CompiledVpol::compile(&env, &spec).evaluate(&env, &req, Some(&Mocks::default()));
        assert_eq!(unmocked[0].status, RuleStatus::Unsupported);
        assert!(unmocked[0].message.contains("apiCallResponses"), "{}", unmocked[0].message);
    }

    #[test]
    fn a_cel_policy_exception_skips_the_resources_it_matches() {
        let env = CelEnv::kyverno();
        let spec = json!({"matchConstraints": pods(), "validations": [{"expression": "false"}]});
        let exception = |policy: &str, cond: &str| {
            json!({"apiVersion": "policies.kyverno.io/v1alpha1", "kind": "PolicyException", "metadata": {"name": "ex"},
                   "spec": {"policyRefs": [{"name": policy, "kind": "ValidatingPolicy"}],
                            "matchConditions": [{"name": "c", "expression": cond}]}})
        };
        let run_with = |exceptions: &[Value], name: &str| {
            let resource = pod(name, json!({}));
            let req = CelRequest {
                resource: &resource,
                operation: "CREATE",
                namespace_labels: None,
                namespace_object: None,
                user: None,
                namespace_stub: false,
            };
            let compiled = CelException::for_policy(&env, "p", "ValidatingPolicy", exceptions).expect("compiles");
            CompiledVpol::compile(&env, &spec).evaluate_with(&env, &req, None, &compiled)[0].status
        };
        let ex = [exception("p", "object.metadata.name == 'exempt'")];
        assert_eq!(run_with(&ex, "exempt"), RuleStatus::Skip);
        assert_eq!(run_with(&ex, "other"), RuleStatus::Fail);
        assert_eq!(run_with(&[exception("q", "true")], "exempt"), RuleStatus::Fail, "names another policy");
        assert_eq!(run_with(&[exception("p", "object.nope.x")], "a"), RuleStatus::Error);
        let bad = CelException::for_policy(&env, "p", "ValidatingPolicy", &[exception("p", "object.(")]);
        assert!(bad.err().unwrap_or_default().contains("PolicyException ex"));
    }

    #[test]
    fn a_deleting_policy_passes_a_resource_its_conditions_all_hold_for() {
        let spec = json!({"matchConstraints": pods(), "conditions": [
            {"name": "in-test", "expression": "object.metadata.name.startsWith('test-')"},
            {"name": "is-one", "expression": "object.metadata.name.endsWith('-1')"},
        ]});
        let as_vpol = deleting_as_validating(&spec);
        assert!(as_vpol.get("conditions").is_none() && as_vpol["validations"].as_array().map(Vec::len) == Some(2));
        assert_eq!(run(as_vpol.clone(), &pod("test-1", json!({})))[0].status, RuleStatus::Pass);
        let kept = run(as_vpol, &pod("test-2", json!({})));
        assert_eq!(kept[0].status, RuleStatus::Fail);
        assert!(kept[0].message.contains("condition is-one is false"), "{}", kept[0].message);
        let doc = json!({"apiVersion": "policies.kyverno.io/v1beta1", "kind": "DeletingPolicy", "metadata": {"name": "d"}, "spec": spec});
        assert!(is_deleting_document(&doc) && !is_vpol_document(&doc));
        // `apply` and builds do not evaluate it: it is a cleanup job, not a check.
        let mut loaded = crate::loader::LoadedPolicies::default();
        crate::loader::collect_policies(&mut loaded, "d.yaml", std::slice::from_ref(&doc)).expect("loaded");
        assert!(loaded.policies.is_empty() && loaded.unsupported.len() == 1);
        let mut for_test = crate::loader::LoadedPolicies::default();
        crate::loader::collect_test_policies(&mut for_test, "d.yaml", &[doc]).expect("loaded");
        assert!(for_test.policies[0].is_deleting());
    }

    #[test]
    fn messages_are_built_as_kyverno_builds_them() {
        let p = pod("p", json!({"containers": []}));
        let spec = |v: Value| json!({"matchConstraints": pods(), "validations": [{"expression": "true"}, v]});
        let msg = |v: Value| run(spec(v), &p)[0].message.clone();
        assert_eq!(msg(json!({"expression": "false"})), "CEL expression validation failed at index 1");
        assert_eq!(msg(json!({"expression": "false", "message": "m"})), "m");
        assert_eq!(
            msg(json!({"expression": "false", "message": "m", "messageExpression": "'name ' + object.metadata.name"})),
            "name p"
        );
        assert!(
            msg(json!({"expression": "false", "messageExpression": "object.nope"}))
                .starts_with("failed to evaluate message expression: ")
        );
    }

    #[test]
    fn first_error_is_error_and_compile_errors_name_the_expression() {
        let p = pod("p", json!({}));
        let r = run(
            json!({"matchConstraints": pods(), "validations": [{"expression": "object.spec.x == 1"}, {"expression": "false"}]}),
            &p,
        );
        assert_eq!(r[0].status, RuleStatus::Error);
        let r = run(json!({"matchConstraints": pods(), "validations": [{"expression": "object.spec.("}]}), &p);
        assert_eq!(r[0].status, RuleStatus::Error);
        assert!(r[0].message.contains("object.spec.("), "{}", r[0].message);
        let r = run(
            json!({"matchConstraints": pods(), "validations": [{"expression": "resource.Get('v1', 'pods', '', 'x') != null"}]}),
            &p,
        );
        assert_eq!(r[0].status, RuleStatus::Unsupported);
        assert!(r[0].message.contains("`resource.Get`") && r[0].message.contains("context"), "{}", r[0].message);
        let r = run(
            json!({"matchConstraints": pods(), "validations": [{"expression": "http.Get('https://x') != null"}]}),
            &p,
        );
        assert_eq!(r[0].status, RuleStatus::Unsupported);
        assert!(r[0].message.contains("`http`"), "{}", r[0].message);
        let r = run(
            json!({"matchConstraints": pods(), "validations": [{"expression": "quantity('1Gi').isGreaterThan(quantity('1Mi'))"}]}),
            &p,
        );
        assert_eq!(r[0].status, RuleStatus::Unsupported, "a library not implemented is never an error or a pass");
    }

    #[test]
    fn a_context_file_serves_resource_and_image_lookups() {
        let env = CelEnv::kyverno();
        let p = pod("p", json!({"containers": [{"name": "c", "image": "reg/app:1"}]}));
        let context = json!({"spec": {
            "resources": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "allowed", "namespace": "platform"},
                           "data": {"registries": "reg"}}],
            "images": [{"image": "reg/app:1", "manifest": {"layers": [{"size": 5}, {"size": 7}]}}]}});
        let spec = json!({"matchConstraints": pods(),
            "variables": [{"name": "cm", "expression": "resource.Get('v1', 'configmaps', 'platform', 'allowed')"}],
            "validations": [
                {"expression": "object.spec.containers.all(c, c.image.startsWith(variables.cm.data.registries))"},
                {"expression": "object.spec.containers.all(c, image.GetMetadata(c.image).manifest.layers.map(l, l.size).sum() == 12)"},
                {"expression": "size(resource.List('v1', 'configmaps', '').items) == 1"},
                {"expression": "object.metadata.namespace == 'default'"}]});
        let req = CelRequest {
            resource: &p,
            operation: "CREATE",
            namespace_labels: None,
            namespace_object: None,
            user: None,
            namespace_stub: false,
        };
        let mocks = Mocks { cel_context: Some(context), ..Mocks::default() };
        let r = CompiledVpol::compile(&env, &spec).evaluate(&env, &req, Some(&mocks));
        assert_eq!(r[0].status, RuleStatus::Pass, "{}", r[0].message);
        let missing = json!({"matchConstraints": pods(),
            "validations": [{"expression": "resource.Get('v1', 'configmaps', 'x', 'nope') != null"}]});
        let r = CompiledVpol::compile(&env, &missing).evaluate(&env, &req, Some(&mocks));
        assert_eq!(r[0].status, RuleStatus::Error);
        assert!(r[0].message.contains("not found"), "{}", r[0].message);
    }

    #[test]
    fn autogen_covers_controllers_unless_disabled() {
        let deploy = Resource {
            value: json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"hostNetwork": true}}}}),
            file: "r.yaml".into(),
            document: 0,
            line: 1,
        };
        let spec = |controllers: Option<Value>| {
            let mut s = json!({"matchConstraints": pods(), "validations": [{"expression": "!object.spec.?hostNetwork.orValue(false)"}]});
            if let Some(c) = controllers {
                s["autogen"] = json!({"podControllers": {"controllers": c}});
            }
            s
        };
        assert_eq!(run(spec(None), &deploy)[0].status, RuleStatus::Fail);
        assert!(run(spec(Some(json!([]))), &deploy).is_empty());
        assert!(run(spec(Some(json!(["cronjobs"]))), &deploy).is_empty());
    }
}
