//! Comparing what a case's step answered with what its test file expects,
//! as a list of readable differences (none: the case passed).

use std::collections::BTreeMap;

use sealbox_guest::{Diagnostic, Response, Severity, Status};

use super::file::{Expect, ExpectedFinding};

/// What the step gave, in the terms a case is written in.
pub struct Actual<'a> {
    pub response: &'a Response,
    /// For a transform that succeeded: every file it wrote, by image path.
    pub output: Option<BTreeMap<String, Vec<u8>>>,
}

/// The differences between `actual` and `expect`, each a few lines of text;
/// empty when the case passed.
pub fn differences(expect: &Expect, actual: &Actual<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let status = actual.response.status;
    if status != expect.status {
        problems.push(format!("status: expected {}, got {}", status_name(expect.status), status_name(status)));
    }
    let found: Vec<&Diagnostic> = actual.response.diagnostics.iter().filter(|d| d.severity != Severity::Info).collect();
    if let Some(diff) = findings_diff(&expect.findings, &found) {
        problems.push(diff);
    }
    if let Some(expected) = &expect.output {
        match &actual.output {
            Some(written) => problems.extend(output_diff(expected, written)),
            None if expected.is_empty() => {}
            None => problems.push("output: expected files, but the step wrote none (it failed)".into()),
        }
    }
    problems
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Success => "success",
        Status::Failure => "failure",
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

/// Whether `d` is the finding `e` describes.
fn matches(e: &ExpectedFinding, d: &Diagnostic) -> bool {
    e.severity == d.severity
        && e.file == d.file
        && e.line == d.line
        && e.rule == d.rule
        && e.message.as_ref().is_none_or(|m| d.message.contains(m.as_str()))
}

/// `- expected` / `+ found` lines for the findings that do not pair up, or
/// `None` when every expected finding was found and nothing else was.
fn findings_diff(expected: &[ExpectedFinding], found: &[&Diagnostic]) -> Option<String> {
    let mut unmatched: Vec<&Diagnostic> = found.to_vec();
    let mut missing = Vec::new();
    for e in expected {
        match unmatched.iter().position(|d| matches(e, d)) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(e),
        }
    }
    if missing.is_empty() && unmatched.is_empty() {
        return None;
    }
    let mut text = String::from("findings differ (- expected, not found; + found, not expected):");
    for e in missing {
        let place = place(e.file.as_deref(), e.line, e.rule.as_deref());
        let message = e.message.as_deref().map(|m| format!(" …{m}…")).unwrap_or_default();
        text.push_str(&format!("\n    - {} {place}{message}", severity_name(e.severity)));
    }
    for d in unmatched {
        let place = place(d.file.as_deref(), d.line, d.rule.as_deref());
        let message = crate::text::escape_line(&d.message);
        text.push_str(&format!("\n    + {} {place} {message}", severity_name(d.severity)));
    }
    Some(text)
}

/// `file:line [rule]`, with `-` for what is absent.
fn place(file: Option<&str>, line: Option<u32>, rule: Option<&str>) -> String {
    let file = file.map(crate::text::escape_line).unwrap_or_else(|| "-".into());
    let line = line.map(|l| format!(":{l}")).unwrap_or_default();
    let rule = rule.map(|r| format!(" [{}]", crate::text::escape_line(r))).unwrap_or_default();
    format!("{file}{line}{rule}")
}

/// The files missing, unexpected or different between two output trees.
fn output_diff(expected: &BTreeMap<String, Vec<u8>>, written: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, want) in expected {
        let shown = crate::text::escape_line(path);
        match written.get(path) {
            None => problems.push(format!("output {shown}: expected, not written")),
            Some(got) if got != want => problems.push(format!("output {shown} differs:\n{}", content_diff(want, got))),
            Some(_) => {}
        }
    }
    for path in written.keys().filter(|p| !expected.contains_key(*p)) {
        problems.push(format!("output {}: written, not expected", crate::text::escape_line(path)));
    }
    problems
}

/// The first differing line of two contents, with a little context.
fn content_diff(want: &[u8], got: &[u8]) -> String {
    let (want, got) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    let (w, g): (Vec<&str>, Vec<&str>) = (want.split('\n').collect(), got.split('\n').collect());
    let at = w.iter().zip(&g).position(|(a, b)| a != b).unwrap_or(w.len().min(g.len()));
    let mut text = format!("    at line {}:", at + 1);
    for (sign, lines) in [('-', &w), ('+', &g)] {
        for line in lines.iter().skip(at).take(3) {
            text.push_str(&format!("\n    {sign} {}", crate::text::escape_line(line)));
        }
        if lines.len() <= at {
            text.push_str(&format!("\n    {sign} (ends here)"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: u32, rule: &str) -> Diagnostic {
        Diagnostic {
            rule: Some(rule.into()),
            ..Diagnostic::error("Deployment/web: no limits").at("app.yaml", Some(line), None)
        }
    }

    fn expected(line: u32, rule: &str) -> ExpectedFinding {
        ExpectedFinding {
            severity: Severity::Error,
            file: Some("app.yaml".into()),
            line: Some(line),
            rule: Some(rule.into()),
            message: Some("no limits".into()),
        }
    }

    fn expect(findings: Vec<ExpectedFinding>) -> Expect {
        Expect { status: Status::Failure, findings, output: None }
    }

    fn response() -> Response {
        Response::success().with_diagnostics(vec![finding(7, "require-limits")])
    }

    #[test]
    fn the_right_finding_passes() {
        let r = response();
        let actual = Actual { response: &r, output: None };
        assert_eq!(differences(&expect(vec![expected(7, "require-limits")]), &actual), Vec::<String>::new());
    }

    #[test]
    fn a_wrong_line_or_rule_or_message_fails_with_a_diff() {
        let r = response();
        let actual = Actual { response: &r, output: None };
        for wrong in [
            expected(8, "require-limits"),
            expected(7, "require-requests"),
            ExpectedFinding { message: Some("no requests".into()), ..expected(7, "require-limits") },
            ExpectedFinding { severity: Severity::Warning, ..expected(7, "require-limits") },
        ] {
            let problems = differences(&expect(vec![wrong.clone()]), &actual);
            assert_eq!(problems.len(), 1, "{wrong:?}: {problems:?}");
            assert!(problems[0].contains("- error app.yaml:") || problems[0].contains("- warning"), "{}", problems[0]);
            assert!(
                problems[0].contains("+ error app.yaml:7 [require-limits] Deployment/web: no limits"),
                "{}",
                problems[0]
            );
        }
    }

    #[test]
    fn a_missing_an_extra_finding_and_the_status_each_fail() {
        let r = response();
        let actual = Actual { response: &r, output: None };
        assert_eq!(differences(&expect(vec![]), &actual).len(), 1, "an unexpected finding");
        let two = vec![expected(7, "require-limits"), expected(9, "require-limits")];
        assert_eq!(differences(&expect(two), &actual).len(), 1, "a missing finding");
        let passing = Expect { status: Status::Success, ..expect(vec![expected(7, "require-limits")]) };
        let failed = Response::failure("boom");
        let problems = differences(&passing, &Actual { response: &failed, output: None });
        assert!(problems[0].starts_with("status: expected success, got failure"), "{problems:?}");
    }

    #[test]
    fn output_trees_are_compared_file_by_file() {
        let want: BTreeMap<String, Vec<u8>> =
            [("a.yaml".to_string(), b"x: 1\ny: 2\n".to_vec()), ("b.yaml".into(), b"b\n".to_vec())].into();
        let got: BTreeMap<String, Vec<u8>> =
            [("a.yaml".to_string(), b"x: 1\ny: 3\n".to_vec()), ("c.yaml".into(), b"c\n".to_vec())].into();
        let r = Response::success();
        let e = Expect { status: Status::Success, findings: vec![], output: Some(want) };
        let problems = differences(&e, &Actual { response: &r, output: Some(got) });
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("output a.yaml differs:\n    at line 2:\n    - y: 2\n"), "{}", problems[0]);
        assert!(problems[0].contains("\n    + y: 3\n"), "{}", problems[0]);
        assert_eq!(problems[1], "output b.yaml: expected, not written");
        assert_eq!(problems[2], "output c.yaml: written, not expected");
    }
}
