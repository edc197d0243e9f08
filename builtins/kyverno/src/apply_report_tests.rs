use serde_json::Value;

use super::*;
use crate::apply::summarize;
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
    assert_eq!(
        table,
        "POLICY/RULE  RESOURCE  FILE#DOC  RESULT  MESSAGE\n\
         p/r          Pod/ns/a  m.yaml#0  fail    bad <tag> & \"quote\"\n\
         \n\
         pass: 1, fail: 1, warn: 0, error: 0, skip: 0, unsupported: 0\n"
    );
    let sarif: Value = serde_json::from_str(&apply_output(&rows, &summary, Format::Sarif)).expect("sarif");
    assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"], serde_json::json!([{"id": "p/r"}]));
    let junit = apply_output(&rows, &summary, Format::Junit);
    assert!(junit.contains("failures=\"1\"") && junit.contains("bad &lt;tag&gt; &amp; &quot;quote&quot;"), "{junit}");
    let report: Value = serde_json::from_str(&apply_output(&rows, &summary, Format::PolicyReport)).expect("report");
    assert_eq!(report["summary"]["fail"], 1);
    assert_eq!(report["results"][1]["resources"][0]["namespace"], "ns");
    let json: Value = serde_json::from_str(&apply_output(&rows, &summary, Format::Json)).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(2));
    // The streamed JSON is exactly serde's pretty form of the whole list.
    let whole = serde_json::to_string_pretty(&serde_json::json!(rows)).expect("json") + "\n";
    assert_eq!(apply_output(&rows, &summary, Format::Json), whole);
}

#[test]
fn no_rows_are_still_documents() {
    let summary = ApplySummary::default();
    for format in [Format::Json, Format::Sarif, Format::PolicyReport] {
        let text = apply_output(&[], &summary, format);
        let _: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{format:?}: {e}\n{text}"));
    }
    assert_eq!(
        apply_output(&[], &summary, Format::Table),
        "pass: 0, fail: 0, warn: 0, error: 0, skip: 0, unsupported: 0\n"
    );
    let junit = apply_output(&[], &summary, Format::Junit);
    assert!(junit.contains("tests=\"0\"") && junit.ends_with("</testsuites>\n"), "{junit}");
}

#[test]
fn long_reports_hold_a_batch_and_stay_valid() {
    let n = BATCH * 2 + 7;
    let rows: Vec<ApplyRow> = (0..n)
        .map(|i| {
            let mut r = row(if i % 3 == 0 { RuleStatus::Pass } else { RuleStatus::Fail }, "m");
            r.name = format!("pod-{i}");
            r.resource = format!("Pod/ns/pod-{i}");
            r
        })
        .collect();
    let summary = summarize(&rows);
    // The table's widths come from the first batch; a later, longer cell
    // pushes its line out but keeps every column's content.
    let mut rows_wide = rows.clone();
    rows_wide[n - 1].resource = "Pod/ns/a-much-longer-name-than-any-in-the-first-batch".into();
    let table = apply_output(&rows_wide, &summarize(&rows_wide), Format::Table);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + rows.iter().filter(|r| r.status != RuleStatus::Pass).count() + 2);
    assert!(lines[lines.len() - 3].contains("a-much-longer-name-than-any-in-the-first-batch  m.yaml#0"));
    let junit = apply_output(&rows, &summary, Format::Junit);
    assert_eq!(junit.matches("<testsuite ").count(), 3, "one suite per batch");
    assert_eq!(junit.matches("<testcase ").count(), n);
    let report: Value = serde_json::from_str(&apply_output(&rows, &summary, Format::PolicyReport)).expect("json");
    assert_eq!(report["results"].as_array().map(Vec::len), Some(n));
    assert_eq!(report["summary"]["pass"], summary.pass);
    let sarif: Value = serde_json::from_str(&apply_output(&rows, &summary, Format::Sarif)).expect("json");
    assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(summary.fail));
}
