//! Plain-text tables for people: left-aligned columns two blanks apart, the
//! layout of `kubectl get` and the Kyverno CLI, used by the kyverno
//! module's reports and by `sealbox module test`.
//!
//! Cells come from input (policy messages, case names), so padding is done
//! by hand: Rust's `{:<w$}` panics on a width over `u16::MAX`.

/// Lays out `rows` under `header` as left-aligned columns, one line each.
pub fn columns<H: AsRef<str>, C: AsRef<str>>(header: &[H], rows: &[impl AsRef<[C]>]) -> String {
    let widths = widths(header, rows);
    let mut out = column_line(header, &widths);
    for r in rows {
        out.push_str(&column_line(r.as_ref(), &widths));
    }
    out
}

/// The width of each of `header`'s columns that fits the header and `rows`
/// (cells past the header's columns are not counted).
pub fn widths<H: AsRef<str>, C: AsRef<str>>(header: &[H], rows: &[impl AsRef<[C]>]) -> Vec<usize> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.as_ref().chars().count()).collect();
    for r in rows {
        widen(&mut widths, r.as_ref());
    }
    widths
}

/// Widens `widths` to fit `cells` (cells past `widths` are ignored).
fn widen(widths: &mut [usize], cells: &[impl AsRef<str>]) {
    for (w, cell) in widths.iter_mut().zip(cells) {
        *w = (*w).max(cell.as_ref().chars().count());
    }
}

/// One line of a table: every cell but the last padded to its column's
/// width and two blanks, trailing blanks trimmed, a newline.
pub fn column_line(cells: &[impl AsRef<str>], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, c) in cells.iter().enumerate() {
        let c = c.as_ref();
        line.push_str(c);
        if let Some(&w) = widths.get(i).filter(|_| i + 1 < cells.len()) {
            line.extend(std::iter::repeat_n(' ', w.saturating_sub(c.chars().count()) + 2));
        }
    }
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_under_the_header_and_the_last_is_not_padded() {
        let rows = [vec!["Pass", "a/b.yaml:3", "ok"], vec!["Fail", "c.yaml:10", "a longer case"]];
        let table = columns(&["RESULT", "FILE", "CASE"], &rows);
        assert_eq!(
            table,
            "RESULT  FILE        CASE\n\
             Pass    a/b.yaml:3  ok\n\
             Fail    c.yaml:10   a longer case\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let table = columns(&["N", "X"], &[["é", "1"], ["ab", "2"]]);
        assert_eq!(table, "N   X\né   1\nab  2\n");
    }

    #[test]
    fn trailing_blanks_are_trimmed_and_missing_widths_leave_cells_unpadded() {
        assert_eq!(column_line(&["a", ""], &[3, 1]), "a\n");
        assert_eq!(column_line(&["a", "b", "c"], &[1]), "a  bc\n");
    }

    #[test]
    fn cells_wider_than_rusts_format_width_are_padded() {
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
