//! `apply`'s results for people and tools — a table, JSON, SARIF 2.1.0,
//! JUnit XML or a `wgpolicyk8s.io` PolicyReport — written as a stream: the
//! writer takes rows one at a time and holds at most a bounded batch (the
//! rows that set a table's column widths, one JUnit suite), so memory does
//! not grow with the number of resources. Totals that formats carry (the
//! PolicyReport summary, SARIF's rule list) come after the rows.

use std::collections::BTreeSet;
use std::io::{self, Write};

use sealbox_formats::table;
use serde_json::{Value, json};

use crate::apply::{ApplyRow, ApplySummary};
use crate::report::Format;
use crate::response::RuleStatus;

/// Rows a table lays out before its column widths are fixed, and rows per
/// JUnit `<testsuite>`.
const BATCH: usize = 1000;

const TABLE_HEADER: [&str; 5] = ["POLICY/RULE", "RESOURCE", "FILE#DOC", "RESULT", "MESSAGE"];

/// Writes `apply` rows in one [`Format`] as they come.
pub struct ApplyReport<W: Write> {
    out: W,
    format: Format,
    /// Rows written so far (shown rows for a table, results for SARIF).
    written: usize,
    /// Rows held until a batch is complete.
    pending: Vec<ApplyRow>,
    /// A table's column widths, once fixed.
    widths: Option<Vec<usize>>,
    /// Totals of the rows given, for the formats that state them.
    counts: ApplySummary,
    /// SARIF's rule ids, in order.
    rule_ids: BTreeSet<String>,
}

impl<W: Write> ApplyReport<W> {
    /// Starts a report in `format` on `out`.
    pub fn new(mut out: W, format: Format) -> io::Result<Self> {
        match format {
            Format::Table | Format::Json => {}
            Format::Sarif => out.write_all(
                b"{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {\n      \"results\": [",
            )?,
            Format::Junit => out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kyverno\">\n")?,
            Format::PolicyReport => out.write_all(
                b"{\n  \"apiVersion\": \"wgpolicyk8s.io/v1alpha2\",\n  \"kind\": \"ClusterPolicyReport\",\n  \"metadata\": {\n    \"name\": \"sealbox-policy-apply\"\n  },\n  \"results\": [",
            )?,
        }
        Ok(ApplyReport {
            out,
            format,
            written: 0,
            pending: Vec::new(),
            widths: None,
            counts: ApplySummary::default(),
            rule_ids: BTreeSet::new(),
        })
    }

    /// Adds one row.
    pub fn row(&mut self, row: ApplyRow) -> io::Result<()> {
        self.counts.add(row.status);
        match self.format {
            Format::Table => self.table_row(row),
            Format::Json => {
                let sep: &[u8] = if self.written == 0 { b"[\n" } else { b",\n" };
                self.out.write_all(sep)?;
                write_pretty(&mut self.out, &json!(row), 2, true)?;
                self.written += 1;
                Ok(())
            }
            Format::Sarif => {
                let id = format!("{}/{}", row.policy, row.rule);
                let result = sarif_result(&row, &id);
                self.rule_ids.insert(id);
                match result {
                    Some(result) => self.element(&result, 8),
                    None => Ok(()),
                }
            }
            Format::Junit => {
                self.pending.push(row);
                if self.pending.len() == BATCH { self.junit_suite() } else { Ok(()) }
            }
            Format::PolicyReport => self.element(&policy_report_result(&row), 4),
        }
    }

    /// Ends the report with `summary` (the table's last line) and returns
    /// the writer.
    pub fn finish(mut self, summary: &ApplySummary) -> io::Result<W> {
        match self.format {
            Format::Table => {
                if self.widths.is_none() && !self.pending.is_empty() {
                    self.fix_widths()?;
                }
                if self.written > 0 {
                    self.out.write_all(b"\n")?;
                }
                let s = summary;
                writeln!(
                    self.out,
                    "pass: {}, fail: {}, warn: {}, error: {}, skip: {}, unsupported: {}",
                    s.pass, s.fail, s.warn, s.error, s.skip, s.unsupported
                )?;
            }
            Format::Json => self.out.write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?,
            Format::Sarif => {
                self.close_list(6)?;
                let rules: Vec<Value> = self.rule_ids.iter().map(|id| json!({"id": id})).collect();
                let tool = json!({"driver": {"name": "sealbox-kyverno", "informationUri": "https://kyverno.io", "rules": rules}});
                self.out.write_all(b",\n      \"tool\": ")?;
                write_pretty(&mut self.out, &tool, 6, false)?;
                self.out.write_all(b"\n    }\n  ]\n}\n")?;
            }
            Format::Junit => {
                if !self.pending.is_empty() || self.written == 0 {
                    self.junit_suite()?;
                }
                self.out.write_all(b"</testsuites>\n")?;
            }
            Format::PolicyReport => {
                self.close_list(2)?;
                let c = &self.counts;
                let summary = json!({"pass": c.pass, "fail": c.fail, "warn": c.warn, "error": c.error, "skip": c.skip + c.unsupported});
                self.out.write_all(b",\n  \"summary\": ")?;
                write_pretty(&mut self.out, &summary, 2, false)?;
                self.out.write_all(b"\n}\n")?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// One element of the JSON list the report is inside.
    fn element(&mut self, value: &Value, indent: usize) -> io::Result<()> {
        self.out.write_all(if self.written == 0 { b"\n" } else { b",\n" })?;
        write_pretty(&mut self.out, value, indent, true)?;
        self.written += 1;
        Ok(())
    }

    /// Closes that list, its `]` at `indent`.
    fn close_list(&mut self, indent: usize) -> io::Result<()> {
        if self.written > 0 {
            write!(self.out, "\n{:indent$}", "")?;
        }
        self.out.write_all(b"]")
    }

    fn table_row(&mut self, row: ApplyRow) -> io::Result<()> {
        if row.status == RuleStatus::Pass {
            return Ok(());
        }
        if self.widths.is_some() {
            let cells = table_cells(&row);
            return self.table_line(&cells);
        }
        self.pending.push(row);
        if self.pending.len() == BATCH { self.fix_widths() } else { Ok(()) }
    }

    /// Sets the column widths from the header and the rows held, and
    /// writes them; later rows keep these widths.
    fn fix_widths(&mut self) -> io::Result<()> {
        let rows: Vec<[String; 5]> = self.pending.drain(..).map(|r| table_cells(&r)).collect();
        let widths = table::widths(&TABLE_HEADER, &rows);
        self.out.write_all(table::column_line(&TABLE_HEADER, &widths).as_bytes())?;
        self.widths = Some(widths);
        for r in &rows {
            self.table_line(r)?;
        }
        Ok(())
    }

    fn table_line(&mut self, cells: &[String; 5]) -> io::Result<()> {
        let line = table::column_line(cells, self.widths.as_deref().unwrap_or(&[]));
        self.written += 1;
        self.out.write_all(line.as_bytes())
    }

    /// Writes the held rows as one `<testsuite>` with their counts.
    fn junit_suite(&mut self) -> io::Result<()> {
        let s = crate::apply::summarize(&self.pending);
        writeln!(
            self.out,
            "  <testsuite name=\"kyverno\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            self.pending.len(),
            s.fail + s.warn,
            s.error,
            s.skip + s.unsupported
        )?;
        for r in self.pending.drain(..) {
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
                writeln!(self.out, "    <testcase classname=\"{class}\" name=\"{name}\"/>")?;
            } else {
                writeln!(self.out, "    <testcase classname=\"{class}\" name=\"{name}\">{body}</testcase>")?;
            }
        }
        self.written += 1;
        self.out.write_all(b"  </testsuite>\n")
    }
}

/// Every row at once, as a string (see [`ApplyReport`]).
pub fn apply_output(rows: &[ApplyRow], summary: &ApplySummary, format: Format) -> String {
    let written = ApplyReport::new(Vec::new(), format).and_then(|mut report| {
        for row in rows {
            report.row(row.clone())?;
        }
        report.finish(summary)
    });
    // Writing into a Vec cannot fail.
    String::from_utf8_lossy(&written.unwrap_or_default()).into_owned()
}

fn table_cells(r: &ApplyRow) -> [String; 5] {
    [
        format!("{}/{}", r.policy, r.rule),
        r.resource.clone(),
        format!("{}#{}", r.file, r.document),
        r.status.as_str().into(),
        r.message.clone(),
    ]
}

/// `value` as pretty JSON, every line after the first indented by
/// `indent` spaces (the first too when `indent_first`). JSON strings hold
/// no raw line breaks, so indenting lines never changes a value.
fn write_pretty(out: &mut dyn Write, value: &Value, indent: usize, indent_first: bool) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.write_all(b"\n")?;
        }
        if i > 0 || indent_first {
            write!(out, "{:indent$}", "")?;
        }
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn sarif_result(r: &ApplyRow, id: &str) -> Option<Value> {
    let level = match r.status {
        RuleStatus::Fail | RuleStatus::Error => "error",
        RuleStatus::Warn | RuleStatus::Unsupported => "warning",
        _ => return None,
    };
    Some(json!({
        "ruleId": id,
        "level": level,
        "message": {"text": format!("{}: {}", r.resource, r.message)},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": r.file}, "region": {"startLine": r.line.max(1)}},
            "logicalLocations": [{"fullyQualifiedName": r.resource, "kind": "resource"}],
        }],
    }))
}

fn policy_report_result(r: &ApplyRow) -> Value {
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

#[cfg(test)]
#[path = "apply_report_tests.rs"]
mod tests;
