//! ClusterPolicy/Policy `validate.cel` and rule `celPreconditions`, as
//! Kyverno runs them through Kubernetes' admission validator: every
//! expression is evaluated and the first that denies (false, or an
//! evaluation error — a nil failure policy means Fail) makes the rule
//! `fail`; a false precondition makes it `skip`.

use std::collections::HashMap;

use serde_json::Value;

use crate::cel::{Activation, CelEnv, Program};
use crate::cel_request::CelRequest;
use crate::policy::rule_name;
use crate::response::{RuleResponse, RuleStatus};
use crate::vpol::{explain_error, unserved_call};

struct Expression {
    expr: Program,
    message: Option<String>,
    message_expr: Option<Program>,
}

/// One rule's compiled CEL.
pub struct CelRule {
    preconditions: Vec<(String, Program)>,
    variables: Vec<(String, Program)>,
    expressions: Vec<Expression>,
    /// `validate.message`, the default of expressions without their own.
    default_message: Option<String>,
}

/// The compiled CEL of a policy's rules, by rule name; a rule that cannot
/// be compiled keeps why (status `error` or `unsupported`).
#[derive(Default)]
pub struct CelRules {
    rules: HashMap<String, Result<CelRule, (RuleStatus, String)>>,
}

fn named(list: Option<&Value>) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| {
                    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    (field("name"), field("expression"))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl CelRules {
    /// Compiles the CEL of every rule that has `validate.cel`.
    pub fn compile(env: &CelEnv, rules: &[Value]) -> CelRules {
        let mut out = CelRules::default();
        for rule in rules {
            let Some(cel) = rule.pointer("/validate/cel").filter(|c| !c.is_null()) else { continue };
            out.rules.insert(rule_name(rule).to_string(), compile_rule(env, rule, cel));
        }
        out
    }

    /// Evaluates rule `name` (which has `validate.cel`) on the request.
    pub fn evaluate(&self, env: &CelEnv, name: &str, req: &CelRequest<'_>) -> RuleResponse {
        let rule = match self.rules.get(name) {
            Some(Ok(r)) => r,
            Some(Err((status, why))) => return RuleResponse::new(name, *status, why.clone()),
            None => return RuleResponse::new(name, RuleStatus::Error, "validate.cel was not compiled"),
        };
        let mut act = Activation::new(env);
        req.bind(&mut act, false);
        rule.run(name, &mut act)
    }
}

fn compile_rule(env: &CelEnv, rule: &Value, cel: &Value) -> Result<CelRule, (RuleStatus, String)> {
    let compile = |src: &str| -> Result<Program, (RuleStatus, String)> {
        let p = env.compile(src).map_err(|e| (RuleStatus::Error, format!("failed to compile policy: {e}")))?;
        match unserved_call(&p, false) {
            Some(why) => Err((RuleStatus::Unsupported, why)),
            None => Ok(p),
        }
    };
    for (field, what) in [("paramKind", "params (`paramKind`)"), ("auditAnnotations", "`auditAnnotations`")] {
        if cel.get(field).is_some_and(|v| !v.is_null() && v != &Value::Array(vec![])) {
            return Err((RuleStatus::Unsupported, format!("validate.cel {what} is not supported yet")));
        }
    }
    let mut out = CelRule {
        preconditions: Vec::new(),
        variables: Vec::new(),
        expressions: Vec::new(),
        default_message: rule.pointer("/validate/message").and_then(Value::as_str).map(str::to_string),
    };
    for (name, e) in named(rule.get("celPreconditions")) {
        out.preconditions.push((name, compile(&e)?));
    }
    for (name, e) in named(cel.get("variables")) {
        out.variables.push((name, compile(&e)?));
    }
    for e in cel.get("expressions").and_then(Value::as_array).into_iter().flatten() {
        let text = |k: &str| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        out.expressions.push(Expression {
            expr: compile(text("expression").unwrap_or(""))?,
            message: text("message").map(str::to_string),
            message_expr: text("messageExpression").map(compile).transpose()?,
        });
    }
    Ok(out)
}

impl CelRule {
    fn run(&self, name: &str, act: &mut Activation) -> RuleResponse {
        // Kubernetes' match conditions: any false skips, even beside errors.
        let mut pre_error = None;
        for (cond, p) in &self.preconditions {
            match act.eval_bool(p) {
                Ok(true) => {}
                Ok(false) => return RuleResponse::new(name, RuleStatus::Skip, "cel preconditions not met"),
                Err(e) => {
                    pre_error.get_or_insert(format!("celPreconditions {cond:?}: {e}"));
                }
            }
        }
        if let Some(e) = pre_error {
            return RuleResponse::new(name, RuleStatus::Fail, e);
        }
        let mut values = Vec::new();
        let mut failed_vars = Vec::new();
        for (var, p) in &self.variables {
            act.bind_map("variables", &values);
            match act.eval(p) {
                Ok(v) => values.push((var.clone(), v)),
                Err(e) => failed_vars.push((var.clone(), e)),
            }
        }
        act.bind_map("variables", &values);
        for e in &self.expressions {
            match act.eval_bool(&e.expr) {
                Ok(true) => {}
                Ok(false) => return RuleResponse::new(name, RuleStatus::Fail, self.message(act, e)),
                Err(err) => return RuleResponse::new(name, RuleStatus::Fail, explain_error(err, &failed_vars)),
            }
        }
        RuleResponse::new(name, RuleStatus::Pass, "")
    }

    /// Kubernetes' validator: a usable messageExpression result (one line,
    /// at most 5 KiB, not blank), else the message, else the rule's
    /// message, else `failed expression: <expr>`.
    fn message(&self, act: &Activation, e: &Expression) -> String {
        if let Some(p) = &e.message_expr
            && let Ok(m) = act.eval(p).and_then(|m| crate::cel::as_string(&m))
        {
            let m = m.trim();
            if !m.is_empty() && !m.contains('\n') && m.len() <= 5 * 1024 {
                return m.to_string();
            }
        }
        e.message
            .clone()
            .or_else(|| self.default_message.clone())
            .unwrap_or_else(|| format!("failed expression: {}", e.expr.source()))
    }
}
