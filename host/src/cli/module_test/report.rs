//! Printing `sealbox module test` results: a table with each failing
//! case's differences below it, JSON, or JUnit XML.

use std::io::Write;
use std::time::Duration;

use super::{CaseResult, Outcome};
use crate::text::escape_line;

/// Serializes a duration as seconds (JSON).
pub fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Error => "ERROR",
    }
}

/// The table, then the differences of every case that did not pass, then a
/// one-line summary.
pub fn text(out: &mut dyn Write, results: &[CaseResult]) -> std::io::Result<()> {
    let rows: Vec<[String; 4]> = results
        .iter()
        .map(|r| {
            [
                outcome_name(r.outcome).to_string(),
                format!("{}:{}", escape_line(&r.file), r.line),
                escape_line(&r.case),
                format!("{:.2}s", r.took.as_secs_f64()),
            ]
        })
        .collect();
    write!(out, "{}", sealbox_formats::table::columns(&["RESULT", "FILE", "CASE", "TIME"], &rows))?;
    for r in results.iter().filter(|r| r.outcome != Outcome::Pass) {
        writeln!(out, "\n{} {}:{}: {}", outcome_name(r.outcome), escape_line(&r.file), r.line, escape_line(&r.case))?;
        for p in &r.problems {
            // Module-given text was escaped where it was quoted; a step
            // error may carry the module's stderr, escaped here.
            writeln!(out, "  {}", crate::text::escape_for_terminal(p.as_bytes()).replace('\n', "\n  "))?;
        }
    }
    let passed = results.iter().filter(|r| r.outcome == Outcome::Pass).count();
    writeln!(out, "\n{passed} passed, {} did not pass, of {} cases", results.len() - passed, results.len())
}

/// The results as one JSON document.
pub fn json(out: &mut dyn Write, results: &[CaseResult]) -> std::io::Result<()> {
    let passed = results.iter().filter(|r| r.outcome == Outcome::Pass).count();
    let doc = serde_json::json!({ "passed": passed, "failed": results.len() - passed, "cases": results });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// The results as JUnit XML: a test suite per test file.
pub fn junit(out: &mut dyn Write, results: &[CaseResult]) -> std::io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, "<testsuites>")?;
    let mut files: Vec<&str> = results.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    for file in files {
        let cases: Vec<&CaseResult> = results.iter().filter(|r| r.file == file).collect();
        let count = |o: Outcome| cases.iter().filter(|r| r.outcome == o).count();
        let time: f64 = cases.iter().map(|r| r.took.as_secs_f64()).sum();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}" time="{time:.3}">"#,
            xml(file),
            cases.len(),
            count(Outcome::Fail),
            count(Outcome::Error)
        )?;
        for r in cases {
            let open = format!(
                r#"    <testcase name="{}" classname="{}" time="{:.3}""#,
                xml(&r.case),
                xml(file),
                r.took.as_secs_f64()
            );
            let tag = match r.outcome {
                Outcome::Pass => {
                    writeln!(out, "{open}/>")?;
                    continue;
                }
                Outcome::Fail => "failure",
                Outcome::Error => "error",
            };
            let body = r.problems.join("\n");
            let first = body.lines().next().unwrap_or("");
            writeln!(out, "{open}>")?;
            writeln!(out, r#"      <{tag} message="{}">{}</{tag}>"#, xml(first), xml(&body))?;
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// Text made safe for an XML attribute or element: markup escaped, and
/// characters XML 1.0 cannot hold replaced.
fn xml(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\n' | '\t' => s.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => s.push('\u{fffd}'),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: Outcome, problems: &[&str]) -> CaseResult {
        CaseResult {
            file: "t/sealbox-test.yaml".into(),
            case: "a <case>".into(),
            line: 7,
            outcome,
            problems: problems.iter().map(|p| p.to_string()).collect(),
            findings: vec![],
            took: Duration::from_millis(20),
        }
    }

    #[test]
    fn junit_escapes_and_counts() {
        let mut out = Vec::new();
        junit(&mut out, &[result(Outcome::Pass, &[]), result(Outcome::Fail, &["status: \"x\" & \u{1b}y"])]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#"tests="2" failures="1" errors="0""#), "{text}");
        assert!(text.contains("<failure message=\"status: &quot;x&quot; &amp; \u{fffd}y\">"), "{text}");
        assert!(text.contains(r#"name="a &lt;case&gt;""#), "{text}");
    }

    #[test]
    fn the_table_lists_every_case_and_the_differences_of_failures() {
        let mut out = Vec::new();
        text(&mut out, &[result(Outcome::Pass, &[]), result(Outcome::Error, &["no response on stdout"])]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("RESULT  FILE"), "{text}");
        assert!(text.contains("PASS    t/sealbox-test.yaml:7  a <case>"), "{text}");
        assert!(text.contains("ERROR t/sealbox-test.yaml:7: a <case>\n  no response on stdout"), "{text}");
        assert!(text.ends_with("1 passed, 1 did not pass, of 2 cases\n"), "{text}");
    }

    #[test]
    fn a_case_name_wider_than_rusts_format_width_is_printed() {
        // `{:<w$}` panics past u16::MAX; the test file names the case.
        let mut wide = result(Outcome::Pass, &[]);
        wide.case = "c".repeat(70_000);
        let mut out = Vec::new();
        text(&mut out, &[wide, result(Outcome::Pass, &[])]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let header = text.lines().next().unwrap();
        assert_eq!(
            header.find("TIME"),
            Some(6 + 2 + "t/sealbox-test.yaml:7".len() + 2 + 70_000 + 2),
            "{}",
            &header[..40]
        );
    }
}
