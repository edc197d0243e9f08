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
    apply_counted(&Applier { engine, policies, opts, audit_warn, keep_passes: true }, resources).0
}

/// Like [`apply`] with `applier`'s settings, returning the totals too.
pub fn apply_counted(applier: &Applier<'_>, resources: &[Resource]) -> (Vec<ApplyRow>, ApplySummary) {
    let mut rows = Vec::new();
    let mut summary = ApplySummary::default();
    for resource in resources {
        applier.resource(resource, &mut summary, &mut |row| rows.push(row));
    }
    (rows, summary)
}

/// What stays the same while policies are applied to one resource after
/// another: the engine, the prepared policies, the evaluation options and
/// how results are reported.
pub struct Applier<'a> {
    pub engine: &'a Engine,
    pub policies: &'a [PreparedPolicy],
    pub opts: &'a EvalOptions<'a>,
    /// Report failures of Audit rules as `warn`.
    pub audit_warn: bool,
    /// Hand passing rows to the caller too (they are always counted);
    /// large builds pass far more rules than they fail.
    pub keep_passes: bool,
}

impl Applier<'_> {
    /// Evaluates every policy on one resource, counting each result in
    /// `summary` and handing each row to `emit`, so a caller can stream
    /// rows without holding them.
    pub fn resource(&self, resource: &Resource, summary: &mut ApplySummary, emit: &mut dyn FnMut(ApplyRow)) {
        let all = self.engine.evaluate_all(self.policies, resource, self.opts);
        self.emit_rows(all, resource, &resource.display(), summary, emit);
    }

    /// [`Applier::resource`] for a JSON payload (`policy apply --json`):
    /// only the policies that evaluate plain JSON answer (see
    /// [`Engine::evaluate_payload`]); rows name the payload's file.
    pub fn payload(&self, payload: &Resource, summary: &mut ApplySummary, emit: &mut dyn FnMut(ApplyRow)) {
        let all = self.policies.iter().map(|p| self.engine.evaluate_payload(p, payload, self.opts)).collect();
        self.emit_rows(all, payload, &payload.file, summary, emit);
    }

    /// Turns each policy's responses on `resource` (shown as `shown`) into
    /// rows, counting every result.
    fn emit_rows(
        &self,
        all: Vec<Vec<crate::response::RuleResponse>>,
        resource: &Resource,
        shown: &str,
        summary: &mut ApplySummary,
        emit: &mut dyn FnMut(ApplyRow),
    ) {
        for (prepared, responses) in self.policies.iter().zip(all) {
            for resp in responses {
                if resp.status == RuleStatus::Pass {
                    summary.pass += 1;
                    if !self.keep_passes {
                        continue;
                    }
                }
                let rule =
                    prepared.rules.iter().find(|r| crate::policy::rule_name(r) == resp.rule).unwrap_or(&Value::Null);
                let action = match &prepared.vap {
                    Some(vap) if vap.denies() => FailureAction::Enforce,
                    Some(_) => FailureAction::Audit,
                    None => prepared.policy.failure_action(rule, resource.namespace()),
                };
                let status = if self.audit_warn && action == FailureAction::Audit && resp.status == RuleStatus::Fail {
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
