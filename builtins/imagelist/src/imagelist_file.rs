//! Plain image lists: `manifests/imageList` in a build context and the
//! `extraImages`/`ignoredImages` lists of the step's configuration. One
//! reference per line; surrounding whitespace and quotes are dropped, as are
//! blank lines, `#` comments and repeated lines, as sealer does.

/// One entry of a list, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The reference as written, without quotes and whitespace.
    pub value: String,
    /// The 1-based line it came from.
    pub line: u32,
}

/// Parses list text into entries, first occurrence of each value kept.
pub fn parse_list(text: &str) -> Vec<ListEntry> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(value) = clean_line(line) else { continue };
        if seen.insert(value.clone()) {
            out.push(ListEntry { value, line: u32::try_from(i + 1).unwrap_or(u32::MAX) });
        }
    }
    out
}

/// Entries of a configuration list: each string may itself hold several
/// lines (the contents of a `--image-list` file), which are parsed like a
/// list file; line numbers count across all strings.
pub fn parse_config_list(items: &[String]) -> Vec<ListEntry> {
    parse_list(&items.join("\n"))
}

/// The reference on one line, or `None` for blank and comment lines. A
/// comment after the reference (`nginx:1 # web`) is dropped too.
fn clean_line(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = match line.find(" #").or_else(|| line.find("\t#")) {
        Some(i) => line[..i].trim_end(),
        None => line,
    };
    let value = line.trim_matches(|c| c == '"' || c == '\'').trim();
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_comments_quotes_blanks_and_duplicates() {
        let text = "# images for the offline install\n\n  nginx:1.25  \n\"busybox:1.36\"\n'redis:7' # cache\n\
                    nginx:1.25\n#nginx:old\n\t\n\"\"\n";
        let entries = parse_list(text);
        let values: Vec<_> = entries.iter().map(|e| (e.value.as_str(), e.line)).collect();
        assert_eq!(values, [("nginx:1.25", 3), ("busybox:1.36", 4), ("redis:7", 5)]);
    }

    #[test]
    fn config_lists_may_hold_whole_files() {
        let items = vec!["a:1\nb:2".to_string(), "# c\na:1".to_string(), "c:3".to_string()];
        let values: Vec<_> = parse_config_list(&items).into_iter().map(|e| e.value).collect();
        assert_eq!(values, ["a:1", "b:2", "c:3"]);
    }
}
