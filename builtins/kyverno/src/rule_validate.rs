//! The validate handler: one of `deny`, `pattern`, `anyPattern` or
//! `foreach`, evaluated in a rule's context, with context entries and
//! conditions shared by rules and foreach elements.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::conditions::{self, BlockResult};
use crate::context::{EvalContext, Mocks};
use crate::foreach;
use crate::jmes::Jmes;
use crate::response::{RuleResponse, RuleStatus};
use crate::validate::{Outcome, match_pattern};
use crate::variables::Substituter;

/// Context entry kinds that need a cluster or a registry.
const EXTERNAL_CONTEXT: [&str; 4] = ["apiCall", "configMap", "imageRegistry", "globalReference"];

/// The checks of a validate block (or a foreach entry).
#[derive(Debug, Clone, Copy, Default)]
pub struct Checks<'a> {
    pub deny: Option<&'a Value>,
    pub pattern: Option<&'a Value>,
    pub any_pattern: Option<&'a [Value]>,
    pub foreach: Option<&'a [Value]>,
    pub pod_security: Option<&'a Value>,
}

impl<'a> Checks<'a> {
    /// Reads the checks of a `validate` block or a foreach entry.
    pub fn from_block(block: &'a Value) -> Checks<'a> {
        let present = |k: &str| block.get(k).filter(|v| !v.is_null());
        Checks {
            deny: present("deny"),
            pattern: present("pattern"),
            any_pattern: present("anyPattern").and_then(Value::as_array).map(Vec::as_slice),
            foreach: present("foreach").and_then(Value::as_array).map(Vec::as_slice),
            pod_security: present("podSecurity"),
        }
    }
}

/// Evaluates the checks of one rule.
pub struct Checker<'a> {
    pub jmes: &'a Jmes,
    pub rule: &'a str,
    /// `validate.message` before substitution.
    pub message: &'a str,
    /// DELETE requests read `request.oldObject` where policies say `request.object`.
    pub delete: bool,
    pub foreach_values: &'a Map<String, Value>,
    /// Names whose values a values file supplies (mocks for external context entries).
    pub supplied: &'a dyn Fn(&str) -> bool,
    /// Test-supplied responses for apiCall and globalReference entries.
    pub mocks: &'a Mocks,
}

impl Checker<'_> {
    /// A substituter over `ctx`.
    pub fn subst<'b>(&'b self, ctx: &'b EvalContext) -> Substituter<'b> {
        Substituter { jmes: self.jmes, ctx, delete: self.delete }
    }

    /// Evaluates a condition block in `ctx`.
    pub fn conditions(&self, ctx: &EvalContext, block: &Value) -> Result<BlockResult, String> {
        let s = self.subst(ctx);
        conditions::evaluate_block(block, &mut |v| s.value(v).map_err(|e| e.to_string()))
    }

    /// Loads `context` entries into `ctx`; the error is the rule's response.
    pub fn load_context(&self, ctx: &mut EvalContext, entries: &[Value]) -> Result<(), RuleResponse> {
        for entry in entries {
            let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(kind) = EXTERNAL_CONTEXT.iter().find(|k| entry.get(**k).is_some()) {
                if (self.supplied)(name) {
                    continue;
                }
                if let Some(value) = self.mocked(ctx, kind, entry) {
                    let value = value.map_err(|e| {
                        RuleResponse::new(
                            self.rule,
                            RuleStatus::Error,
                            format!("failed to load context entry {name:?}: {e}"),
                        )
                    })?;
                    ctx.set(name, value);
                    continue;
                }
                return Err(RuleResponse::new(
                    self.rule,
                    RuleStatus::Unsupported,
                    format!(
                        "context entry {name:?} uses {kind}, which needs a cluster; supply its value in a values file"
                    ),
                ));
            }
            let Some(var) = entry.get("variable") else {
                return Err(RuleResponse::new(
                    self.rule,
                    RuleStatus::Unsupported,
                    format!("context entry {name:?} has a kind this engine does not support"),
                ));
            };
            // Kyverno loads context entries lazily, when a variable first
            // reads them: an entry that cannot be loaded only matters if it
            // is used, and then reading it fails (as an unknown key here).
            if let Ok(value) = self.load_variable(ctx, var) {
                ctx.set(name, value);
            }
        }
        Ok(())
    }

    /// The value of an external context entry from the test's mocks, with
    /// the entry's `jmesPath` and `default` applied; `None` when unmocked.
    fn mocked(&self, ctx: &EvalContext, kind: &str, entry: &Value) -> Option<Result<Value, String>> {
        let spec = entry.get(kind)?;
        let spec = self.subst(ctx).value(spec).ok()?;
        let raw = match kind {
            "apiCall" => self.mocks.api_call(&spec)?,
            "configMap" => {
                let namespace = spec.get("namespace").and_then(Value::as_str).unwrap_or("default");
                self.mocks.config_map(spec.get("name")?.as_str()?, namespace)?
            }
            "globalReference" => Ok(self.mocks.global.get(spec.get("name")?.as_str()?)?.clone()),
            _ => return None,
        };
        let result = match (raw, spec.get("jmesPath").and_then(Value::as_str).filter(|p| !p.is_empty())) {
            (Ok(raw), Some(path)) => self.jmes.search(path, &raw).map_err(|e| e.to_string()),
            (raw, _) => raw,
        };
        Some(match (result, entry.get(kind).and_then(|s| s.get("default"))) {
            (Ok(Value::Null), Some(d)) | (Err(_), Some(d)) => Ok(d.clone()),
            (r, _) => r,
        })
    }

    fn load_variable(&self, ctx: &EvalContext, var: &Value) -> Result<Value, String> {
        let s = self.subst(ctx);
        let default = match var.get("default") {
            Some(d) => Some(s.value(d).map_err(|e| e.to_string())?),
            None => None,
        };
        let path = match var.get("jmesPath").and_then(Value::as_str) {
            Some(p) => Some(match s.string(p).map_err(|e| e.to_string())? {
                Value::String(p) => p,
                other => other.to_string(),
            }),
            None => None,
        };
        let result = match (var.get("value"), path) {
            (Some(v), path) => {
                let v = s.value(v).map_err(|e| e.to_string());
                match (v, path) {
                    (Ok(v), Some(p)) => self.jmes.search(&p, &v).map_err(|e| e.to_string()),
                    (v, None) => v,
                    (Err(e), _) => Err(e),
                }
            }
            (None, Some(p)) => ctx.query(self.jmes, &p).map_err(|e| e.to_string()),
            (None, None) => Ok(Value::Null),
        };
        match (result, default) {
            (Ok(Value::Null), Some(d)) | (Err(_), Some(d)) => Ok(d),
            (Ok(Value::Null), None) => Err("the variable evaluated to null".into()),
            (r, _) => r,
        }
    }

    /// `v` with variables substituted, borrowed when it has none.
    fn substituted<'v>(&self, ctx: &EvalContext, v: &'v Value) -> Result<Cow<'v, Value>, crate::variables::SubstError> {
        if crate::variables::tree_has_variables(v) {
            self.subst(ctx).value(v).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(v))
        }
    }

    fn pod_security(&self, ps: &Value, resource: &Value) -> RuleResponse {
        let rule = self.rule;
        let level = ps.get("level").and_then(Value::as_str).unwrap_or("baseline");
        if !matches!(level, "privileged" | "baseline" | "restricted") {
            return RuleResponse::new(rule, RuleStatus::Error, format!("unknown podSecurity level {level:?}"));
        }
        let Some((spec, meta)) = crate::pss::pod_template(resource) else {
            return RuleResponse::new(rule, RuleStatus::Error, "podSecurity: the resource has no pod spec");
        };
        let exclude = ps.get("exclude").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let version = ps.get("version").and_then(Value::as_str).unwrap_or("latest");
        match crate::pss::apply_exclusions(crate::pss::violations(level, spec, meta), exclude) {
            Err(e) => RuleResponse::new(rule, RuleStatus::Unsupported, e),
            Ok(v) if v.is_empty() => {
                RuleResponse::new(rule, RuleStatus::Pass, format!("validation rule '{rule}' passed."))
            }
            Ok(v) => {
                let details: Vec<String> = v.iter().map(|x| format!("{}: {}", x.control, x.detail)).collect();
                RuleResponse::new(
                    rule,
                    RuleStatus::Fail,
                    format!(
                        "Validation rule '{rule}' failed. It violates PodSecurity \"{level}:{version}\": {}",
                        details.join("; ")
                    ),
                )
            }
        }
    }

    /// `validate.message` with its variables substituted.
    pub fn message(&self, ctx: &EvalContext) -> String {
        match self.subst(ctx).string(self.message) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => format!("failed to substitute variables in message: {e}"),
        }
    }

    fn error_message(&self, ctx: &EvalContext, path: &str, err: &str) -> String {
        let rule = self.rule;
        if self.message.is_empty() {
            return if path.is_empty() {
                format!("validation error: rule {rule} execution error: {err}")
            } else {
                format!("validation error: rule {rule} failed at path {path}")
            };
        }
        let mut msg = self.message(ctx);
        if !msg.ends_with('.') {
            msg.push('.');
        }
        if path.is_empty() {
            format!("validation error: {msg} rule {rule} execution error: {err}")
        } else {
            format!("validation error: {msg} rule {rule} failed at path {path}")
        }
    }

    /// Runs `checks`; patterns match `target` when given (element scope),
    /// else `request.object`. `None` when the block has no checks.
    pub fn run(
        &self,
        ctx: &EvalContext,
        checks: &Checks<'_>,
        target: Option<&Value>,
        nesting: usize,
    ) -> Option<RuleResponse> {
        let rule = self.rule;
        if let Some(deny) = checks.deny {
            let conds = deny.get("conditions").unwrap_or(&Value::Null);
            return Some(match self.conditions(ctx, conds) {
                Err(e) => RuleResponse::new(rule, RuleStatus::Error, format!("failed to check deny conditions: {e}")),
                Ok(r) if r.passed => {
                    let mut msg = self.message(ctx);
                    if !r.messages.is_empty() {
                        msg = format!("{msg}; {}", r.messages.join("; "));
                    }
                    RuleResponse::new(rule, RuleStatus::Fail, msg)
                }
                Ok(_) => RuleResponse::new(rule, RuleStatus::Pass, self.message(ctx)),
            });
        }
        let object = ctx.root().get("request").and_then(|r| r.get("object")).unwrap_or(&Value::Null);
        let resource = target.unwrap_or(object);
        if let Some(pattern) = checks.pattern {
            let pattern = match self.substituted(ctx, pattern) {
                Ok(p) => p,
                Err(e) => {
                    return Some(RuleResponse::new(
                        rule,
                        RuleStatus::Error,
                        format!("variable substitution failed: {e}"),
                    ));
                }
            };
            return Some(match match_pattern(resource, &pattern) {
                Outcome::Pass => RuleResponse::new(rule, RuleStatus::Pass, format!("validation rule '{rule}' passed.")),
                Outcome::Skip(m) => RuleResponse::new(rule, RuleStatus::Skip, m),
                Outcome::Fail { path, message } => {
                    RuleResponse::new(rule, RuleStatus::Fail, self.error_message(ctx, &path, &message))
                }
                Outcome::Error(m) => RuleResponse::new(rule, RuleStatus::Error, self.error_message(ctx, "", &m)),
            });
        }
        if let Some(patterns) = checks.any_pattern {
            let mut failed = Vec::new();
            let mut skipped = Vec::new();
            for (i, p) in patterns.iter().enumerate() {
                let p = match self.substituted(ctx, p) {
                    Ok(p) => p,
                    Err(e) => {
                        return Some(RuleResponse::new(
                            rule,
                            RuleStatus::Error,
                            format!("variable substitution failed: {e}"),
                        ));
                    }
                };
                match match_pattern(resource, &p) {
                    Outcome::Pass => {
                        return Some(RuleResponse::new(
                            rule,
                            RuleStatus::Pass,
                            format!("validation rule '{rule}' anyPattern[{i}] passed."),
                        ));
                    }
                    Outcome::Skip(m) => skipped.push(format!("rule {rule}[{i}] skipped: {m}")),
                    Outcome::Fail { path, .. } => failed.push(format!("rule {rule}[{i}] failed at path {path}")),
                    Outcome::Error(m) => failed.push(format!("rule {rule}[{i}] failed: {m}")),
                }
            }
            return Some(if !failed.is_empty() {
                let mut msg = self.message(ctx);
                if !msg.is_empty() && !msg.ends_with('.') {
                    msg.push('.');
                }
                RuleResponse::new(rule, RuleStatus::Fail, format!("validation error: {msg} {}", failed.join(" ")))
            } else if !skipped.is_empty() {
                RuleResponse::new(rule, RuleStatus::Skip, skipped.join(" "))
            } else {
                RuleResponse::new(rule, RuleStatus::Error, "anyPattern is empty")
            });
        }
        if let Some(entries) = checks.foreach {
            return foreach::validate_foreach(self, ctx, entries, nesting);
        }
        if let Some(ps) = checks.pod_security {
            return Some(self.pod_security(ps, resource));
        }
        None
    }
}
