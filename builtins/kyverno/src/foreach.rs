//! `validate.foreach`: a rule's checks applied to each element of a
//! JMESPath list, with `element`/`elementIndex` in the context, nested
//! loops and `elementScope`.

use serde_json::Value;

use crate::context::EvalContext;
use crate::jmes::JmesError;
use crate::response::{RuleResponse, RuleStatus};
use crate::rule_validate::{Checker, Checks};

/// Runs the foreach entries; `None` means no response at all.
pub fn validate_foreach(
    checker: &Checker<'_>,
    ctx: &EvalContext,
    entries: &[Value],
    nesting: usize,
) -> Option<RuleResponse> {
    let rule = checker.rule;
    let mut applied = 0;
    let mut list_error: Option<String> = None;
    for entry in entries {
        let Some(list) = entry.get("list").and_then(Value::as_str) else {
            return Some(RuleResponse::new(rule, RuleStatus::Error, "foreach entry has no list"));
        };
        let list = match checker.subst(ctx).string(list) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => return Some(RuleResponse::new(rule, RuleStatus::Error, e.to_string())),
        };
        let elements = match ctx.query(checker.jmes, &list) {
            Ok(Value::Array(items)) => items,
            Ok(Value::Null) => vec![],
            Ok(other) => vec![other],
            Err(JmesError::NotFound(_)) => continue,
            Err(e) => {
                list_error = Some(format!("failed to evaluate list {list}: {e}"));
                continue;
            }
        };
        let (resp, count) = validate_elements(checker, ctx, entry, &elements, nesting);
        if resp.status != RuleStatus::Pass {
            return Some(resp);
        }
        applied += count;
    }
    if applied == 0 {
        return Some(match list_error {
            Some(e) => RuleResponse::new(rule, RuleStatus::Error, e),
            None => RuleResponse::new(rule, RuleStatus::Skip, "rule skipped"),
        });
    }
    Some(RuleResponse::new(rule, RuleStatus::Pass, "rule passed"))
}

fn validate_elements(
    checker: &Checker<'_>,
    ctx: &EvalContext,
    entry: &Value,
    elements: &[Value],
    nesting: usize,
) -> (RuleResponse, usize) {
    let rule = checker.rule;
    let mut applied = 0;
    let scope_flag = entry.get("elementScope").and_then(Value::as_bool);
    for (index, element) in elements.iter().enumerate() {
        if element.is_null() {
            continue;
        }
        if scope_flag == Some(true) && !element.is_object() {
            return (
                RuleResponse::new(rule, RuleStatus::Error, "elementScope is true but the element is not an object"),
                applied,
            );
        }
        let scoped = scope_flag.unwrap_or(element.is_object());
        let mut ectx = ctx.clone();
        ectx.set("element", element.clone());
        ectx.set("elementIndex", Value::from(index));
        ectx.set(&format!("element{nesting}"), element.clone());
        ectx.set(&format!("elementIndex{nesting}"), Value::from(index));
        for (k, v) in checker.foreach_values {
            if let Some(item) = v.as_array().and_then(|a| a.get(index)) {
                ectx.set(k, item.clone());
            }
        }
        if let Some(Value::Array(entries)) = entry.get("context")
            && let Err(resp) = checker.load_context(&mut ectx, entries)
        {
            return (resp, applied);
        }
        if let Some(pre) = entry.get("preconditions") {
            match checker.conditions(&ectx, pre) {
                Ok(r) if r.passed => {}
                // A false or failing element precondition skips the element.
                _ => continue,
            }
        }
        let checks = Checks::from_block(entry);
        let target = if scoped { Some(element) } else { None };
        let resp = checker.run(&ectx, &checks, target, nesting + 1);
        match resp {
            None => continue,
            Some(r) if r.status == RuleStatus::Skip => continue,
            Some(r) if r.status == RuleStatus::Pass => applied += 1,
            Some(r) => {
                let msg = format!("validation failure: {}", r.message);
                return (RuleResponse::new(rule, r.status, msg), applied);
            }
        }
    }
    (RuleResponse::new(rule, RuleStatus::Pass, ""), applied)
}
