//! One report of every policy finding of a build: the Kyverno policies'
//! and the pipeline's policy modules', with one exit status, printed as
//! text, as JSON (`--format json`) and as SARIF (`--report sarif:FILE`).

use sealbox_guest::{Diagnostic, Response, Severity};
use serde::Serialize;

use super::pipeline_file::FailureAction;

/// One finding of a policy about the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFinding {
    /// `kyverno` for the `--policy` policies, else the pipeline step's name.
    pub source: String,
    /// The module that produced it (`kyverno`, or the step's module path).
    pub module: String,
    /// What a failure does: `Enforce` fails the build, `Audit` warns.
    pub action: FailureAction,
    pub severity: Severity,
    pub message: String,
    /// The image path the finding points at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl PolicyFinding {
    /// Whether this finding fails the build.
    pub fn fails_build(&self) -> bool {
        self.severity == Severity::Error && self.action == FailureAction::Enforce
    }

    /// `SOURCE: file:line: message [rule]`, for terminals and errors.
    pub fn to_text(&self) -> String {
        let d = Diagnostic {
            severity: self.severity,
            message: self.message.clone(),
            file: self.file.clone(),
            line: self.line,
            column: None,
            rule: self.rule.clone(),
        };
        let source =
            if self.source == self.module { self.source.clone() } else { format!("{} ({})", self.source, self.module) };
        format!("{source}: {}", super::format_diagnostic(&d))
    }
}

/// The findings of a policy step's response: its warnings and errors, with
/// `file` taken as relative to `tree` (the sub-path it was shown).
pub fn from_response(
    source: &str,
    module: &str,
    tree: &str,
    action: FailureAction,
    r: &Response,
) -> Vec<PolicyFinding> {
    let mut verdicts: Vec<PolicyFinding> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .map(|d| PolicyFinding {
            source: source.to_string(),
            module: module.to_string(),
            action,
            severity: d.severity,
            message: d.message.clone(),
            file: d.file.as_ref().map(|f| if tree == "." { f.clone() } else { format!("{tree}/{f}") }),
            line: d.line,
            rule: d.rule.clone(),
        })
        .collect();
    if r.status == sealbox_guest::Status::Failure && !verdicts.iter().any(|v| v.severity == Severity::Error) {
        verdicts.push(PolicyFinding {
            source: source.to_string(),
            module: module.to_string(),
            action,
            severity: Severity::Error,
            message: "the policy failed and gave no reason".into(),
            file: None,
            line: None,
            rule: None,
        });
    }
    verdicts
}

/// The Kyverno step's findings: its diagnostics that name a rule (the
/// others are notes about files it skipped). An error is an Enforce
/// failure; a warning an Audit one.
pub fn from_kyverno(r: &Response) -> Vec<PolicyFinding> {
    r.diagnostics
        .iter()
        .filter(|d| d.rule.is_some() && d.severity != Severity::Info)
        .map(|d| PolicyFinding {
            source: "kyverno".into(),
            module: "kyverno".into(),
            action: if d.severity == Severity::Error { FailureAction::Enforce } else { FailureAction::Audit },
            severity: d.severity,
            message: d.message.clone(),
            file: d.file.clone(),
            line: d.line,
            rule: d.rule.clone(),
        })
        .collect()
}

/// A build stopped by policy: every finding so far, the failing ones named
/// in the message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", failure_text(.verdicts))]
pub struct PolicyFailure {
    pub verdicts: Vec<PolicyFinding>,
}

fn failure_text(verdicts: &[PolicyFinding]) -> String {
    let failing: Vec<String> = verdicts.iter().filter(|v| v.fails_build()).map(PolicyFinding::to_text).collect();
    format!("policy checks failed ({} enforced):\n  {}", failing.len(), failing.join("\n  "))
}

/// Fails with every verdict when any of them fails the build.
pub fn enforce(verdicts: &[PolicyFinding]) -> Result<(), PolicyFailure> {
    if verdicts.iter().any(PolicyFinding::fails_build) {
        return Err(PolicyFailure { verdicts: verdicts.to_vec() });
    }
    Ok(())
}

/// The verdicts as a SARIF 2.1.0 log: one run, one result per finding,
/// rules named `SOURCE/RULE`.
pub fn sarif(verdicts: &[PolicyFinding]) -> serde_json::Value {
    let mut rules: Vec<String> = verdicts.iter().map(rule_id).collect();
    rules.sort();
    rules.dedup();
    let results: Vec<serde_json::Value> = verdicts
        .iter()
        .map(|v| {
            let level = match (v.severity, v.action) {
                (Severity::Error, FailureAction::Enforce) => "error",
                (Severity::Info, _) => "note",
                _ => "warning",
            };
            let mut result = serde_json::json!({
                "ruleId": rule_id(v),
                "level": level,
                "message": {"text": v.message},
                "properties": {"source": v.source, "module": v.module, "action": v.action},
            });
            if let Some(file) = &v.file {
                let mut location = serde_json::json!({"physicalLocation": {"artifactLocation": {"uri": file}}});
                if let Some(line) = v.line {
                    location["physicalLocation"]["region"] = serde_json::json!({"startLine": line});
                }
                result["locations"] = serde_json::json!([location]);
            }
            result
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sealbox",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|r| serde_json::json!({"id": r})).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

fn rule_id(v: &PolicyFinding) -> String {
    match &v.rule {
        Some(r) => format!("{}/{r}", v.source),
        None => v.source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(diagnostics: Vec<Diagnostic>) -> Response {
        Response::success().with_diagnostics(diagnostics)
    }

    #[test]
    fn step_findings_are_located_in_the_image_and_audit_never_fails() {
        let r = response(vec![
            Diagnostic::error("no limits").at("a.yaml", Some(3), None),
            Diagnostic::warning("old api").at("b.yaml", None, None),
        ]);
        let enforced = from_response("limits", "m/l.wasm", "manifests", FailureAction::Enforce, &r);
        assert_eq!(enforced[0].file.as_deref(), Some("manifests/a.yaml"));
        assert_eq!(enforced[0].to_text(), "limits (m/l.wasm): manifests/a.yaml:3: no limits");
        let err = enforce(&enforced).unwrap_err().to_string();
        assert!(err.contains("(1 enforced)") && err.contains("manifests/a.yaml:3: no limits"), "{err}");
        assert!(!err.contains("old api"), "a warning does not fail the build");
        let audited = from_response("limits", "m/l.wasm", ".", FailureAction::Audit, &r);
        assert_eq!(audited[0].file.as_deref(), Some("a.yaml"));
        assert!(enforce(&audited).is_ok());
    }

    #[test]
    fn a_failure_without_a_reason_is_still_a_failure() {
        let r = Response { status: sealbox_guest::Status::Failure, ..Response::success() };
        let v = from_response("s", "m.wasm", ".", FailureAction::Enforce, &r);
        assert_eq!(v.len(), 1);
        assert!(v[0].fails_build() && v[0].message.contains("no reason"));
    }

    #[test]
    fn sarif_has_one_result_per_finding_with_its_location() {
        let r = response(vec![Diagnostic::error("no limits").at("a.yaml", Some(3), None)]);
        let mut v = from_response("limits", "m.wasm", ".", FailureAction::Enforce, &r);
        v[0].rule = Some("containers".into());
        let log = sarif(&v);
        assert_eq!(log["version"], "2.1.0");
        let result = &log["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "limits/containers");
        assert_eq!(result["level"], "error");
        assert_eq!(result["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
        assert_eq!(log["runs"][0]["tool"]["driver"]["rules"][0]["id"], "limits/containers");
    }
}
