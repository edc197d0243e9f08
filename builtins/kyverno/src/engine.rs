//! The rule loop: for one policy and one resource, every (autogen-expanded)
//! rule is matched, its context and preconditions evaluated, and its
//! validate checks run, giving Kyverno's pass/fail/skip/error per rule.

use std::cell::OnceCell;

use serde_json::{Map, Value, json};

use crate::cel::CelEnv;
use crate::cel_request::CelRequest;
use crate::context::{EvalContext, Mocks};
use crate::images;
use crate::jmes::{Clock, Jmes};
use crate::matching::{self, RequestInfo, UserInfo};
use crate::policy::{Policy, rule_name};
use crate::resource::Resource;
use crate::response::{RuleResponse, RuleStatus};
use crate::rule_validate::{Checker, Checks};
use crate::values::Values;
use crate::vpol::{CelException, CompiledVpol};
use sealbox_formats::glob;

static NO_MOCKS: Mocks = Mocks {
    api_calls: Vec::new(),
    global: std::collections::BTreeMap::new(),
    cel_context: None,
    params: None,
    cluster: Vec::new(),
};

const SCORED: &str = "policies.kyverno.io/scored";

/// Evaluates policies; holds the JMESPath runtime.
pub struct Engine {
    jmes: Jmes,
}

/// Request-level inputs of an evaluation.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions<'a> {
    pub values: Option<&'a Values>,
    pub user: Option<&'a UserInfo>,
    /// The request operation, overriding values files (a test row's `operation`).
    pub operation: Option<&'a str>,
    /// `PolicyException` documents; a matching one turns a rule into a skip.
    pub exceptions: &'a [Value],
    /// Stand-ins for apiCall and globalReference context entries.
    pub mocks: Option<&'a Mocks>,
}

/// A policy with its rules already expanded by autogen and its CEL
/// expressions compiled.
pub struct PreparedPolicy {
    pub policy: Policy,
    pub rules: Vec<Value>,
    /// The compiled form of a ValidatingPolicy.
    pub vpol: Option<CompiledVpol>,
    /// The compiled `validate.cel` / `celPreconditions` of rules, by rule name.
    pub cel_rules: crate::cel_rule::CelRules,
    /// The compiled form of a ValidatingAdmissionPolicy, with its bindings.
    pub vap: Option<crate::vap::CompiledVap>,
}

impl PreparedPolicy {
    /// Expands autogen rules and compiles CEL once per policy.
    pub fn new(policy: Policy) -> Self {
        Self::with_bindings(policy, Vec::new())
    }

    /// As [`PreparedPolicy::new`], for an admission policy with its bindings.
    pub fn with_bindings(policy: Policy, bindings: Vec<Value>) -> Self {
        let rules = crate::autogen::compute_rules(&policy);
        let env = CelEnv::shared();
        let vpol = match (policy.is_deleting(), policy.is_vpol()) {
            (true, _) => Some(CompiledVpol::compile(env, &crate::vpol::deleting_as_validating(&policy.spec))),
            (false, true) => Some(CompiledVpol::compile(env, &policy.spec)),
            (false, false) => None,
        };
        let vap = policy.is_vap().then(|| crate::vap::CompiledVap::compile(env, &policy.spec, bindings));
        let cel_rules = crate::cel_rule::CelRules::compile(env, &rules);
        PreparedPolicy { policy, rules, vpol, cel_rules, vap }
    }
}

/// Why a rule is outside what this engine evaluates, naming the field.
pub fn unsupported_feature(rule: &Value) -> Option<String> {
    for k in ["mutate", "generate", "verifyImages"] {
        if rule.get(k).is_some_and(|v| !v.is_null()) {
            return Some(format!("`{k}` rules are not supported by this engine"));
        }
    }
    let cel = rule.pointer("/validate/cel").is_some_and(|v| !v.is_null());
    if rule.get("celPreconditions").is_some_and(|v| !v.is_null()) && !cel {
        return Some("`celPreconditions` outside `validate.cel` rules is not supported yet".into());
    }
    let v = rule.get("validate")?;
    for (k, what) in [("manifests", "validate.manifests (signed manifests)"), ("assert", "validate.assert")] {
        if v.get(k).is_some_and(|x| !x.is_null()) {
            return Some(format!("`{what}` is not supported yet"));
        }
    }
    None
}

impl Engine {
    /// An engine whose time and random functions read `clock`.
    pub fn new(clock: Clock) -> Engine {
        Engine { jmes: Jmes::new(clock) }
    }

    /// The JMESPath runtime.
    pub fn jmes(&self) -> &Jmes {
        &self.jmes
    }

    /// Evaluates every rule of `prepared` on `resource`. An empty result
    /// means the policy produced no response at all (not matched).
    pub fn evaluate(
        &self,
        prepared: &PreparedPolicy,
        resource: &Resource,
        opts: &EvalOptions<'_>,
    ) -> Vec<RuleResponse> {
        self.evaluate_shared(prepared, resource, opts, &OnceCell::new())
    }

    /// Evaluates every policy on `resource`, sharing the request context
    /// between policies that have no per-resource values.
    pub fn evaluate_all(
        &self,
        policies: &[PreparedPolicy],
        resource: &Resource,
        opts: &EvalOptions<'_>,
    ) -> Vec<Vec<RuleResponse>> {
        let shared = OnceCell::new();
        policies.iter().map(|p| self.evaluate_shared(p, resource, opts, &shared)).collect()
    }

    /// Evaluates `prepared` on a JSON payload (a test's `jsonPayloads`:
    /// any JSON object, not a Kubernetes resource). As Kyverno's CLI,
    /// only JSON-mode ValidatingPolicies and DeletingPolicies see payloads;
    /// every other policy gives no response.
    pub fn evaluate_payload(
        &self,
        prepared: &PreparedPolicy,
        payload: &Resource,
        opts: &EvalOptions<'_>,
    ) -> Vec<RuleResponse> {
        let policy = &prepared.policy;
        let Some(vpol) = prepared.vpol.as_ref().filter(|v| v.is_json_mode() || policy.is_deleting()) else {
            return vec![];
        };
        let exceptions = match CelException::for_policy(CelEnv::shared(), &policy.name, &policy.kind, opts.exceptions) {
            Ok(e) => e,
            Err(why) => return vec![RuleResponse::new("", RuleStatus::Error, why)],
        };
        let req = CelRequest {
            resource: payload,
            operation: opts.operation.unwrap_or("CREATE"),
            namespace_labels: None,
            namespace_object: None,
            user: opts.user,
            namespace_stub: false,
        };
        vpol.evaluate_payload(CelEnv::shared(), &req, opts.mocks, &exceptions)
    }

    fn evaluate_shared(
        &self,
        prepared: &PreparedPolicy,
        resource: &Resource,
        opts: &EvalOptions<'_>,
        shared: &OnceCell<EvalContext>,
    ) -> Vec<RuleResponse> {
        let policy = &prepared.policy;
        // Offline, a namespaced resource without a namespace lives in "default".
        if let Some(ns) = &policy.namespace
            && (if resource.namespace().is_empty() { "default" } else { resource.namespace() }) != ns
        {
            return vec![];
        }
        let resource_values = opts.values.and_then(|v| v.resource_values(&policy.name, resource.name()));
        let global = opts.values.map(|v| &v.global);
        let operation = opts
            .operation
            .or_else(|| value_operation(resource_values))
            .or_else(|| value_operation(global))
            .unwrap_or("CREATE")
            .to_string();
        let namespace = resource_values
            .and_then(|v| v.get("request.namespace"))
            .and_then(Value::as_str)
            .unwrap_or(resource.namespace())
            .to_string();
        let ns_labels = opts.values.and_then(|v| v.namespace_labels.get(resource.namespace()));
        if let Some(vap) = &prepared.vap {
            let req = CelRequest {
                resource,
                operation: &operation,
                namespace_labels: ns_labels,
                namespace_object: None,
                user: opts.user,
                namespace_stub: false,
            };
            return vap.evaluate(CelEnv::shared(), &req, opts.mocks.and_then(|m| m.params.as_deref()));
        }
        if let Some(vpol) = &prepared.vpol {
            let exceptions =
                match CelException::for_policy(CelEnv::shared(), &policy.name, &policy.kind, opts.exceptions) {
                    Ok(e) => e,
                    Err(why) => return vec![RuleResponse::new("", RuleStatus::Error, why)],
                };
            let req = CelRequest {
                resource,
                operation: &operation,
                namespace_labels: ns_labels,
                namespace_object: opts.values.and_then(|v| {
                    let ns = if resource.namespace().is_empty() { "default" } else { resource.namespace() };
                    v.namespace_objects.get(ns)
                }),
                user: opts.user,
                namespace_stub: false,
            };
            return vpol.evaluate_with(CelEnv::shared(), &req, opts.mocks, &exceptions);
        }
        let build_base = || {
            let mut base = base_context(resource, &operation, &namespace, opts.user);
            if let Some(g) = global {
                base.set_all(g);
            }
            if let Some(rv) = resource_values {
                base.set_all(rv);
            }
            base.set("request.operation", Value::String(operation.clone()));
            base
        };
        // The context is built on the first matching rule; most policies
        // match few of the resources they see.
        let mut base: Option<EvalContext> = None;
        // Without per-resource values the context depends on the resource only.
        let shareable = resource_values.is_none() && namespace == resource.namespace();
        // Values may rewrite parts of request.object; matching then sees the rewritten resource.
        let rewrites_object =
            [global, resource_values].into_iter().flatten().any(|m| m.keys().any(|k| k.starts_with("request.object")));
        let mut rewritten = None;
        if rewrites_object {
            let b = build_base();
            rewritten = b.root().pointer("/request/object").filter(|o| o.is_object()).map(|o| Resource {
                line: resource.line,
                value: o.clone(),
                file: resource.file.clone(),
                document: resource.document,
            });
            base = Some(b);
        }
        let resource = rewritten.as_ref().unwrap_or(resource);
        let req = RequestInfo { operation: &operation, user: opts.user, namespace_labels: ns_labels };
        let mut out = Vec::new();
        for rule in &prepared.rules {
            let name = rule_name(rule);
            match matching::rule_applies(rule, resource, &req) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    out.push(RuleResponse::new(name, RuleStatus::Error, format!("invalid match/exclude: {e}")));
                    continue;
                }
            }
            if let Some(reason) = &policy.invalid {
                out.push(RuleResponse::new(name, RuleStatus::Skip, format!("Invalid policy: {reason}")));
                continue;
            }
            let base = if shareable && base.is_none() {
                shared.get_or_init(build_base)
            } else {
                base.get_or_insert_with(build_base)
            };
            let resp = self.evaluate_rule(prepared, rule, base, &operation, resource, opts);
            let Some(resp) = resp else { continue };
            let applied = matches!(resp.status, RuleStatus::Pass | RuleStatus::Fail);
            out.push(resp);
            if applied && policy.apply_one() {
                break;
            }
        }
        out
    }

    fn evaluate_rule(
        &self,
        prepared: &PreparedPolicy,
        rule: &Value,
        base: &EvalContext,
        operation: &str,
        resource: &Resource,
        opts: &EvalOptions<'_>,
    ) -> Option<RuleResponse> {
        let policy = &prepared.policy;
        let resource_name = resource.name();
        let name = rule_name(rule);
        if let Some(reason) = unsupported_feature(rule) {
            return Some(RuleResponse::new(name, RuleStatus::Unsupported, reason));
        }
        let validate = rule.get("validate")?;
        let rule_values = opts.values.and_then(|v| v.rule_values(&policy.name, name));
        let empty = Map::new();
        let resource_values = opts.values.and_then(|v| v.resource_values(&policy.name, resource_name));
        let supplied = |entry: &str| {
            let names = |m: &Map<String, Value>| {
                m.keys().any(|k| k == entry || k.strip_prefix(entry).is_some_and(|rest| rest.starts_with('.')))
            };
            rule_values.is_some_and(|r| names(&r.values))
                || opts.values.is_some_and(|v| names(&v.global))
                || resource_values.is_some_and(names)
        };
        let checker = Checker {
            jmes: &self.jmes,
            rule: name,
            message: validate.get("message").and_then(Value::as_str).unwrap_or(""),
            delete: operation == "DELETE",
            foreach_values: rule_values.map(|r| &r.foreach_values).unwrap_or(&empty),
            supplied: &supplied,
            mocks: opts.mocks.unwrap_or(&NO_MOCKS),
        };
        let entries = rule.get("context").and_then(Value::as_array);
        let mut owned;
        let ctx = if rule_values.is_some_and(|r| !r.values.is_empty()) || entries.is_some() {
            owned = base.clone();
            if let Some(rv) = rule_values {
                owned.set_all(&rv.values);
            }
            if let Some(entries) = entries
                && let Err(resp) = checker.load_context(&mut owned, entries)
            {
                return Some(resp);
            }
            &owned
        } else {
            base
        };
        if let Some(pre) = rule.get("preconditions").filter(|p| !p.is_null()) {
            match checker.conditions(ctx, pre) {
                Err(e) => {
                    return Some(RuleResponse::new(
                        name,
                        RuleStatus::Error,
                        format!("failed to evaluate preconditions: {e}"),
                    ));
                }
                Ok(r) if !r.passed => {
                    return Some(RuleResponse::new(name, RuleStatus::Skip, "preconditions not met"));
                }
                Ok(_) => {}
            }
        }
        if let Some(exception) = self.matching_exception(policy, name, resource, ctx, &checker, opts) {
            return Some(RuleResponse::new(
                name,
                RuleStatus::Skip,
                format!("rule skipped due to policy exception {exception}"),
            ));
        }
        if validate.get("cel").is_some_and(|c| !c.is_null()) {
            let req = CelRequest {
                resource,
                operation,
                namespace_labels: None,
                namespace_object: None,
                user: opts.user,
                namespace_stub: true,
            };
            return Some(prepared.cel_rules.evaluate(CelEnv::shared(), name, &req));
        }
        let checks = Checks::from_block(validate);
        let mut resp = checker.run(ctx, &checks, None, 0)?;
        // `policies.kyverno.io/scored: "false"` turns failures into warnings.
        if resp.status == RuleStatus::Fail && policy.annotations.get(SCORED).and_then(Value::as_str) == Some("false") {
            resp.status = RuleStatus::Warn;
        }
        if let Some(marker) = resp.message.find(crate::jmes_functions::UNSUPPORTED)
            && resp.status == RuleStatus::Error
        {
            resp.status = RuleStatus::Unsupported;
            resp.message = resp.message[marker..].to_string();
        }
        Some(resp)
    }
}

fn value_operation(values: Option<&Map<String, Value>>) -> Option<&str> {
    values.and_then(|m| m.get("request.operation")).and_then(Value::as_str)
}

impl Engine {
    /// The name of a `PolicyException` that exempts `resource` from `rule` of `policy`.
    fn matching_exception(
        &self,
        policy: &Policy,
        rule: &str,
        resource: &Resource,
        ctx: &EvalContext,
        checker: &Checker<'_>,
        opts: &EvalOptions<'_>,
    ) -> Option<String> {
        let operation = ctx.root().pointer("/request/operation").and_then(Value::as_str).unwrap_or("CREATE");
        let req = RequestInfo { operation, user: opts.user, namespace_labels: None };
        for exception in opts.exceptions {
            let spec = exception.get("spec")?;
            let names_rule = spec.get("exceptions").and_then(Value::as_array).is_some_and(|list| {
                list.iter().any(|e| {
                    let pname = e.get("policyName").and_then(Value::as_str).unwrap_or("");
                    let pname = pname.rsplit('/').next().unwrap_or(pname);
                    let rules = e.get("ruleNames").and_then(Value::as_array);
                    glob::wildcard(pname, &policy.name)
                        && rules.is_some_and(|r| r.iter().filter_map(Value::as_str).any(|n| glob::wildcard(n, rule)))
                })
            });
            if !names_rule {
                continue;
            }
            let as_rule = json!({"name": "exception", "match": spec.get("match").cloned().unwrap_or(Value::Null)});
            if !matching::rule_applies(&as_rule, resource, &req).unwrap_or(false) {
                continue;
            }
            if let Some(conds) = spec.get("conditions")
                && !checker.conditions(ctx, conds).is_ok_and(|r| r.passed)
            {
                continue;
            }
            return Some(exception.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string());
        }
        None
    }
}

/// The context every rule starts from: `request.*`, user info and `images`.
fn base_context(resource: &Resource, operation: &str, namespace: &str, user: Option<&UserInfo>) -> EvalContext {
    let mut ctx = EvalContext::new();
    let object = if operation == "DELETE" { Value::Null } else { resource.value.clone() };
    let old = if matches!(operation, "UPDATE" | "DELETE") { resource.value.clone() } else { Value::Null };
    let mut request = json!({
        "operation": operation,
        "object": object,
        "oldObject": old,
        "namespace": namespace,
        "kind": {"kind": resource.kind()},
    });
    // Without a userinfo file Kyverno's CLI still adds an empty request user.
    request["userInfo"] = json!({});
    request["roles"] = Value::Null;
    request["clusterRoles"] = Value::Null;
    if let Some(u) = user {
        request["userInfo"] = json!({"username": u.username, "groups": u.groups});
        request["roles"] = json!(u.roles);
        request["clusterRoles"] = json!(u.cluster_roles);
        if let Some(rest) = u.username.strip_prefix("system:serviceaccount:")
            && let Some((ns, sa)) = rest.split_once(':')
        {
            ctx.set("serviceAccountName", Value::String(sa.to_string()));
            ctx.set("serviceAccountNamespace", Value::String(ns.to_string()));
        }
    }
    ctx.set("request", request);
    if let Some(images) = images::images_context(&resource.value) {
        ctx.set("images", images);
    }
    ctx
}
