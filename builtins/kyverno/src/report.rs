//! Rendering `test` results for people, and the output formats `apply`
//! offers (written by [`crate::apply_report`]). Output depends only on the
//! rows, in their order.

use std::fmt::Write;

use sealbox_formats::table::columns;

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
