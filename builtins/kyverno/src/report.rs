//! Rendering `test` results for people, and the output formats `apply`
//! offers (written by [`crate::apply_report`]). Output depends only on the
//! rows, in their order.

use std::fmt::Write;

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
        widen(&mut widths, r);
    }
    let mut out = column_line(header, &widths);
    for r in rows {
        out.push_str(&column_line(r, &widths));
    }
    out
}

/// Widens `widths` to fit `cells`.
pub(crate) fn widen(widths: &mut [usize], cells: &[impl AsRef<str>]) {
    for (w, cell) in widths.iter_mut().zip(cells) {
        *w = (*w).max(cell.as_ref().chars().count());
    }
}

/// One line of a table: every cell but the last padded to its column's
/// width and two blanks, trailing blanks trimmed, a newline.
pub(crate) fn column_line(cells: &[impl AsRef<str>], widths: &[usize]) -> String {
    let mut l = String::new();
    for (i, c) in cells.iter().enumerate() {
        let c = c.as_ref();
        match widths.get(i) {
            Some(&w) if i + 1 < cells.len() => {
                // Padded by hand: `{c:<w$}` panics when an input-made cell
                // is wider than u16::MAX.
                l.push_str(c);
                l.extend(std::iter::repeat_n(' ', w.saturating_sub(c.chars().count()) + 2));
            }
            _ => l.push_str(c),
        }
    }
    let mut line = l.trim_end().to_string();
    line.push('\n');
    line
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_pad_cells_wider_than_rusts_format_width() {
        // `{:<w$}` panics past u16::MAX; policy messages come from input.
        let wide = "m".repeat(70_000);
        let mut widths = [0; 3];
        widen(&mut widths, &["a", wide.as_str(), "z"]);
        widen(&mut widths, &["bb", "m", "z"]);
        assert_eq!(widths, [2, 70_000, 1]);
        let line = column_line(&["bb", "m", "z"], &widths);
        assert_eq!(line.len(), 2 + 2 + 70_000 + 2 + 1 + 1);
        assert!(line.starts_with("bb  m ") && line.ends_with("  z\n"));
        assert_eq!(column_line(&["a", wide.as_str(), "z"], &widths), format!("a   {wide}  z\n"));
    }
}
