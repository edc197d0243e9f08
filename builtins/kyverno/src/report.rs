//! Rendering results for people and tools: tables for `test` and
//! `apply`, and SARIF 2.1.0, JUnit XML and a `wgpolicyk8s.io` PolicyReport
//! for `apply`. Output depends only on the rows, in their order.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::apply::{ApplyRow, ApplySummary, summarize};
use crate::response::RuleStatus;
use crate::testfile::{RowOutcome, TestFileReport, summarize as summarize_tests};

/// The output formats of `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
    PolicyReport,
}

fn outcome_word(o: RowOutcome) -> &'static str {
    match o {
        RowOutcome::Pass => "Pass",
        RowOutcome::Fail => "Fail",
        RowOutcome::Excluded => "Excluded",
        RowOutcome::Unsupported => "Unsupported",
    }
}

/// Lays out rows as left-aligned columns under a header.
fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// One table per test file, then totals.
pub fn test_table(reports: &[TestFileReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(out, "Test {} ({})", if r.test.is_empty() { "-" } else { &r.test }, r.test_file);
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  error: {e}\n");
            continue;
        }
        let rows: Vec<Vec<String>> = r
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                vec![
                    (i + 1).to_string(),
                    row.policy.clone(),
                    row.rule.clone(),
                    row.resource.clone(),
                    row.expected.clone(),
                    if row.actual.is_empty() { "-".into() } else { row.actual.clone() },
                    outcome_word(row.outcome).into(),
                    row.reason.clone(),
                ]
            })
            .collect();
        out.push_str(&columns(&["#", "POLICY", "RULE", "RESOURCE", "EXPECTED", "ACTUAL", "RESULT", "REASON"], &rows));
        out.push('\n');
    }
    let s = summarize_tests(reports);
    let _ = writeln!(
        out,
        "Total: {} pass, {} fail, {} excluded, {} unsupported, {} test files with errors",
        s.pass, s.fail, s.excluded, s.unsupported, s.errors
    );
    out
}

/// Renders `apply` rows in `format`.
pub fn apply_output(rows: &[ApplyRow], summary: &ApplySummary, format: Format) -> String {
    match format {
        Format::Table => apply_table(rows, summary),
        Format::Json => pretty(&json!(rows)),
        Format::Sarif => pretty(&sarif(rows)),
        Format::Junit => junit(rows),
        Format::PolicyReport => pretty(&policy_report(rows)),
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn apply_table(rows: &[ApplyRow], s: &ApplySummary) -> String {
    let shown: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.status != RuleStatus::Pass)
        .map(|r| {
            vec![
                format!("{}/{}", r.policy, r.rule),
                r.resource.clone(),
                format!("{}#{}", r.file, r.document),
                r.status.as_str().into(),
                r.message.clone(),
            ]
        })
        .collect();
    let mut out = if shown.is_empty() {
        String::new()
    } else {
        columns(&["POLICY/RULE", "RESOURCE", "FILE#DOC", "RESULT", "MESSAGE"], &shown) + "\n"
    };
    let _ = writeln!(
        out,
        "pass: {}, fail: {}, warn: {}, error: {}, skip: {}, unsupported: {}",
        s.pass, s.fail, s.warn, s.error, s.skip, s.unsupported
    );
    out
}

fn sarif(rows: &[ApplyRow]) -> Value {
    let mut rule_ids: Vec<String> = rows.iter().map(|r| format!("{}/{}", r.policy, r.rule)).collect();
    rule_ids.sort();
    rule_ids.dedup();
    let results: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            let level = match r.status {
                RuleStatus::Fail | RuleStatus::Error => "error",
                RuleStatus::Warn | RuleStatus::Unsupported => "warning",
                _ => return None,
            };
            Some(json!({
                "ruleId": format!("{}/{}", r.policy, r.rule),
                "level": level,
                "message": {"text": format!("{}: {}", r.resource, r.message)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": r.file}, "region": {"startLine": r.line.max(1)}},
                    "logicalLocations": [{"fullyQualifiedName": r.resource, "kind": "resource"}],
                }],
            }))
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sealbox-kyverno",
                "informationUri": "https://kyverno.io",
                "rules": rule_ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(rows: &[ApplyRow]) -> String {
    let s = summarize(rows);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kyverno\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        rows.len(),
        s.fail + s.warn,
        s.error,
        s.skip + s.unsupported
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"kyverno\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        rows.len(),
        s.fail + s.warn,
        s.error,
        s.skip + s.unsupported
    );
    for r in rows {
        let name = xml_escape(&format!("{} {}", r.rule, r.resource));
        let class = xml_escape(&r.policy);
        let msg = xml_escape(&r.message);
        let body = match r.status {
            RuleStatus::Pass => String::new(),
            RuleStatus::Fail | RuleStatus::Warn => {
                format!("<failure type=\"{}\" message=\"{msg}\"/>", r.status.as_str())
            }
            RuleStatus::Error => format!("<error message=\"{msg}\"/>"),
            RuleStatus::Skip | RuleStatus::Unsupported => {
                format!("<skipped message=\"{}: {msg}\"/>", r.status.as_str())
            }
        };
        if body.is_empty() {
            let _ = writeln!(out, "    <testcase classname=\"{class}\" name=\"{name}\"/>");
        } else {
            let _ = writeln!(out, "    <testcase classname=\"{class}\" name=\"{name}\">{body}</testcase>");
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn policy_report(rows: &[ApplyRow]) -> Value {
    let s = summarize(rows);
    let results: Vec<Value> = rows
        .iter()
        .map(|r| {
            let result = match r.status {
                RuleStatus::Unsupported => "skip",
                other => other.as_str(),
            };
            let mut resource = json!({"kind": r.kind, "name": r.name});
            if !r.namespace.is_empty() {
                resource["namespace"] = json!(r.namespace);
            }
            json!({
                "source": "kyverno",
                "policy": r.policy,
                "rule": r.rule,
                "result": result,
                "message": r.message,
                "scored": true,
                "resources": [resource],
            })
        })
        .collect();
    json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "ClusterPolicyReport",
        "metadata": {"name": "sealbox-policy-apply"},
        "summary": {"pass": s.pass, "fail": s.fail, "warn": s.warn, "error": s.error, "skip": s.skip + s.unsupported},
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::FailureAction;

    fn row(status: RuleStatus, message: &str) -> ApplyRow {
        ApplyRow {
            policy: "p".into(),
            rule: "r".into(),
            resource: "Pod/ns/a".into(),
            kind: "Pod".into(),
            namespace: "ns".into(),
            name: "a".into(),
            file: "m.yaml".into(),
            document: 0,
            line: 1,
            status,
            message: message.into(),
            failure_action: FailureAction::Enforce,
        }
    }

    #[test]
    fn formats() {
        let rows = vec![row(RuleStatus::Pass, "ok"), row(RuleStatus::Fail, "bad <tag> & \"quote\"")];
        let summary = summarize(&rows);
        let table = apply_output(&rows, &summary, Format::Table);
        assert!(
            table.contains("p/r") && table.ends_with("pass: 1, fail: 1, warn: 0, error: 0, skip: 0, unsupported: 0\n")
        );
        let sarif: Value = serde_json::from_str(&apply_output(&rows, &summary, Format::Sarif)).unwrap();
        assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(1));
        assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
        let junit = apply_output(&rows, &summary, Format::Junit);
        assert!(junit.contains("failures=\"1\"") && junit.contains("bad &lt;tag&gt; &amp; &quot;quote&quot;"));
        let report: Value = serde_json::from_str(&apply_output(&rows, &summary, Format::PolicyReport)).unwrap();
        assert_eq!(report["summary"]["fail"], 1);
        assert_eq!(report["results"][1]["resources"][0]["namespace"], "ns");
    }
}
