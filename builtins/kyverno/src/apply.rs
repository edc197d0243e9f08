//! `apply`: policies over resources, one row per rule response, with the
//! failure action that decides whether a failure blocks.

use serde::Serialize;
use serde_json::Value;

use crate::engine::{Engine, EvalOptions, PreparedPolicy};
use crate::policy::FailureAction;
use crate::resource::Resource;
use crate::response::RuleStatus;

/// One rule's result on one resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyRow {
    pub policy: String,
    pub rule: String,
    /// `Kind/namespace/name`.
    pub resource: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The file and document index the resource came from.
    pub file: String,
    pub document: usize,
    /// The 1-based line the resource's document starts on.
    pub line: usize,
    pub status: RuleStatus,
    pub message: String,
    pub failure_action: FailureAction,
}

/// Counts of apply rows by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub error: usize,
    pub skip: usize,
    pub unsupported: usize,
}

/// Evaluates every policy on every resource. With `audit_warn`, failures
/// of Audit rules are reported as `warn`.
pub fn apply(
    engine: &Engine,
    policies: &[PreparedPolicy],
    resources: &[Resource],
    opts: &EvalOptions<'_>,
    audit_warn: bool,
) -> Vec<ApplyRow> {
    apply_counted(engine, policies, resources, opts, audit_warn, true).0
}

/// Like [`apply`], returning the totals and keeping passing rows only when
/// `keep_passes` (large builds pass far more rules than they fail).
pub fn apply_counted(
    engine: &Engine,
    policies: &[PreparedPolicy],
    resources: &[Resource],
    opts: &EvalOptions<'_>,
    audit_warn: bool,
    keep_passes: bool,
) -> (Vec<ApplyRow>, ApplySummary) {
    let mut rows = Vec::new();
    let mut summary = ApplySummary::default();
    for resource in resources {
        apply_one(engine, policies, resource, opts, audit_warn, keep_passes, &mut summary, &mut |row| rows.push(row));
    }
    (rows, summary)
}

/// Evaluates every policy on one resource, counting each result in
/// `summary` and handing each row to `emit` (passing rows only when
/// `keep_passes`), so a caller can stream rows without holding them.
#[allow(clippy::too_many_arguments)]
pub fn apply_one(
    engine: &Engine,
    policies: &[PreparedPolicy],
    resource: &Resource,
    opts: &EvalOptions<'_>,
    audit_warn: bool,
    keep_passes: bool,
    summary: &mut ApplySummary,
    emit: &mut dyn FnMut(ApplyRow),
) {
    let all = engine.evaluate_all(policies, resource, opts);
    emit_rows(policies, all, resource, &resource.display(), audit_warn, keep_passes, summary, emit);
}

/// [`apply_one`] for a JSON payload (`policy apply --json`): only the
/// policies that evaluate plain JSON answer (see
/// [`Engine::evaluate_payload`]); rows name the payload's file.
#[allow(clippy::too_many_arguments)]
pub fn apply_payload(
    engine: &Engine,
    policies: &[PreparedPolicy],
    payload: &Resource,
    opts: &EvalOptions<'_>,
    audit_warn: bool,
    keep_passes: bool,
    summary: &mut ApplySummary,
    emit: &mut dyn FnMut(ApplyRow),
) {
    let all = policies.iter().map(|p| engine.evaluate_payload(p, payload, opts)).collect();
    emit_rows(policies, all, payload, &payload.file, audit_warn, keep_passes, summary, emit);
}

/// Turns each policy's responses on `resource` (shown as `shown`) into
/// rows, counting every result.
#[allow(clippy::too_many_arguments)]
fn emit_rows(
    policies: &[PreparedPolicy],
    all: Vec<Vec<crate::response::RuleResponse>>,
    resource: &Resource,
    shown: &str,
    audit_warn: bool,
    keep_passes: bool,
    summary: &mut ApplySummary,
    emit: &mut dyn FnMut(ApplyRow),
) {
    for (prepared, responses) in policies.iter().zip(all) {
        for resp in responses {
            if resp.status == RuleStatus::Pass {
                summary.pass += 1;
                if !keep_passes {
                    continue;
                }
            }
            let rule = prepared.rules.iter().find(|r| crate::policy::rule_name(r) == resp.rule).unwrap_or(&Value::Null);
            let action = match &prepared.vap {
                Some(vap) if vap.denies() => FailureAction::Enforce,
                Some(_) => FailureAction::Audit,
                None => prepared.policy.failure_action(rule, resource.namespace()),
            };
            let status = if audit_warn && action == FailureAction::Audit && resp.status == RuleStatus::Fail {
                RuleStatus::Warn
            } else {
                resp.status
            };
            // Passes were counted above.
            if status != RuleStatus::Pass {
                summary.add(status);
            }
            emit(ApplyRow {
                policy: prepared.policy.name.clone(),
                rule: resp.rule,
                resource: shown.to_string(),
                kind: resource.kind().to_string(),
                namespace: resource.namespace().to_string(),
                name: resource.name().to_string(),
                file: resource.file.clone(),
                document: resource.document,
                line: resource.line,
                status,
                message: resp.message,
                failure_action: action,
            });
        }
    }
}

impl ApplySummary {
    /// Counts one result.
    pub fn add(&mut self, status: RuleStatus) {
        match status {
            RuleStatus::Pass => self.pass += 1,
            RuleStatus::Fail => self.fail += 1,
            RuleStatus::Warn => self.warn += 1,
            RuleStatus::Error => self.error += 1,
            RuleStatus::Skip => self.skip += 1,
            RuleStatus::Unsupported => self.unsupported += 1,
        }
    }
}

/// Totals of `rows`.
pub fn summarize(rows: &[ApplyRow]) -> ApplySummary {
    let mut s = ApplySummary::default();
    for r in rows {
        s.add(r.status);
    }
    s
}
