//! Kubernetes `ValidatingAdmissionPolicy` with its bindings, evaluated
//! offline as `kyverno apply/test` do: the policy's `matchConstraints`
//! select the request; with bindings, the first whose `matchResources`
//! also match decides (none: `skip`) and supplies `params` through its
//! `paramRef` from the test's `paramResources`. Condition false: `skip`;
//! evaluation error: `error`; validation false: `fail`.

use serde_json::Value;

use crate::cel::{Activation, CelEnv};
use crate::cel_match::{self, Attributes};
use crate::cel_request::CelRequest;
use crate::response::{RuleResponse, RuleStatus};
use crate::vpol::{Variant, compile_variant, run_variant};

/// Whether `doc` is a ValidatingAdmissionPolicy.
pub fn is_vap_document(doc: &Value) -> bool {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    api.starts_with("admissionregistration.k8s.io/")
        && doc.get("kind").and_then(Value::as_str) == Some("ValidatingAdmissionPolicy")
}

/// Whether `doc` is a ValidatingAdmissionPolicyBinding.
pub fn is_binding_document(doc: &Value) -> bool {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    api.starts_with("admissionregistration.k8s.io/")
        && doc.get("kind").and_then(Value::as_str) == Some("ValidatingAdmissionPolicyBinding")
}

/// A ValidatingAdmissionPolicy ready to evaluate, with its bindings.
pub struct CompiledVap {
    constraints: Option<Value>,
    variant: Result<Variant, (RuleStatus, String)>,
    bindings: Vec<Value>,
    has_param_kind: bool,
    ignore_failures: bool,
}

impl CompiledVap {
    /// Compiles the policy `spec` once; `bindings` are the binding documents naming it.
    pub fn compile(env: &CelEnv, spec: &Value, bindings: Vec<Value>) -> CompiledVap {
        let constraints = spec.get("matchConstraints").filter(|c| !c.is_null()).cloned();
        CompiledVap {
            variant: compile_variant(env, spec, constraints.clone(), None, true),
            constraints,
            bindings,
            has_param_kind: spec.get("paramKind").is_some_and(|p| !p.is_null()),
            ignore_failures: spec.get("failurePolicy").and_then(Value::as_str) == Some("Ignore"),
        }
    }

    /// Whether a binding (or, without bindings, the default) denies.
    pub fn denies(&self) -> bool {
        if self.bindings.is_empty() {
            return true;
        }
        self.bindings.iter().any(|b| {
            b.pointer("/spec/validationActions")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("Deny")))
        })
    }

    /// Evaluates the policy on one request; no response when it does not match.
    pub fn evaluate(&self, env: &CelEnv, req: &CelRequest<'_>, params: Option<&[Value]>) -> Vec<RuleResponse> {
        let attrs =
            Attributes { resource: req.resource, operation: req.operation, namespace_labels: req.namespace_labels };
        match cel_match::matches(self.constraints.as_ref(), &attrs) {
            Ok(true) => {}
            Ok(false) => return vec![],
            Err(e) => return vec![RuleResponse::new("", RuleStatus::Error, format!("matchConstraints: {e}"))],
        }
        let variant = match &self.variant {
            Ok(v) => v,
            Err((status, why)) => return vec![RuleResponse::new("", *status, why.clone())],
        };
        let mut binding = None;
        for b in &self.bindings {
            let m = b.pointer("/spec/matchResources").filter(|m| !m.is_null());
            match m.map(|m| cel_match::matches_binding(m, &attrs)).unwrap_or(Ok(true)) {
                Ok(true) => {
                    binding = Some(b);
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    return vec![RuleResponse::new("", RuleStatus::Error, format!("binding matchResources: {e}"))];
                }
            }
        }
        if !self.bindings.is_empty() && binding.is_none() {
            return vec![RuleResponse::new("", RuleStatus::Skip, "no binding matches the resource")];
        }
        let param = match (
            binding.and_then(|b| b.pointer("/spec/paramRef")).filter(|p| !p.is_null()),
            self.has_param_kind,
        ) {
            (Some(r), true) => match params {
                None => {
                    return vec![RuleResponse::new(
                        "",
                        RuleStatus::Unsupported,
                        "`paramRef` needs the parameter resources (a test's `paramResources`), which were not given",
                    )];
                }
                Some(list) => match find_param(r, list, req) {
                    Some(p) => p.clone(),
                    None => {
                        return vec![RuleResponse::new(
                            "",
                            RuleStatus::Error,
                            "no params found for the binding's paramRef",
                        )];
                    }
                },
            },
            _ => Value::Null,
        };
        let mut act = Activation::new(env);
        req.bind(&mut act, false);
        act.bind_json("params", &param);
        vec![run_variant(variant, &mut act, self.ignore_failures, true)]
    }
}

/// The parameter resource a `paramRef` names: by name (and namespace,
/// defaulting to the request's), or the first matching its selector.
fn find_param<'a>(r: &Value, params: &'a [Value], req: &CelRequest<'_>) -> Option<&'a Value> {
    let name = r.get("name").and_then(Value::as_str);
    let ns = r.get("namespace").and_then(Value::as_str);
    params.iter().find(|p| {
        let pname = p.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let pns = p.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
        let ns_ok = ns.is_none_or(|n| n == pns) || pns.is_empty();
        let by_name = name.is_none_or(|n| n == pname);
        let by_selector = r.get("selector").filter(|s| !s.is_null()).is_none_or(|s| {
            let labels = p.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
            crate::matching::label_selector_matches(s, &labels).unwrap_or(false)
        });
        let _ = req;
        ns_ok && by_name && by_selector
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Resource;
    use serde_json::json;

    fn deployment(name: &str, replicas: i64) -> Resource {
        let value = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {"replicas": replicas}});
        Resource { value, file: "r.yaml".into(), document: 0, line: 1 }
    }

    fn eval(spec: &Value, bindings: Vec<Value>, r: &Resource, params: Option<&[Value]>) -> Vec<RuleResponse> {
        let env = CelEnv::kyverno();
        let req = CelRequest {
            resource: r,
            operation: "CREATE",
            namespace_labels: None,
            namespace_object: None,
            user: None,
            namespace_stub: false,
        };
        CompiledVap::compile(&env, spec, bindings).evaluate(&env, &req, params)
    }

    #[test]
    fn messages_params_and_missing_param_resources() {
        let spec = json!({"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= int(params.data.max)"}]});
        let binding =
            json!({"spec": {"policyName": "p", "paramRef": {"name": "limits"}, "validationActions": ["Audit"]}});
        let limits =
            [json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits"}, "data": {"max": "3"}})];
        let big = deployment("big", 5);
        let r = eval(&spec, vec![binding.clone()], &big, Some(&limits));
        assert_eq!(
            (r[0].status, r[0].message.as_str()),
            (RuleStatus::Fail, "failed expression: object.spec.replicas <= int(params.data.max)")
        );
        assert_eq!(eval(&spec, vec![binding.clone()], &deployment("ok", 2), Some(&limits))[0].status, RuleStatus::Pass);
        assert_eq!(eval(&spec, vec![binding.clone()], &big, None)[0].status, RuleStatus::Unsupported);
        assert_eq!(eval(&spec, vec![binding.clone()], &big, Some(&[]))[0].status, RuleStatus::Error);
        assert!(!CompiledVap::compile(&CelEnv::kyverno(), &spec, vec![binding]).denies());
        let pod = Resource {
            value: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
            file: "r".into(),
            document: 0,
            line: 1,
        };
        assert!(eval(&spec, vec![], &pod, Some(&limits)).is_empty());
    }
}
