//! `.helmignore`: which files of a chart directory helm leaves out when it
//! loads the chart (so that, for instance, `templates/tests/` listed there
//! renders nothing and lends no images).
//!
//! The rules are helm's (`pkg/ignore`), not git's: a line is a Go
//! `path.Match` pattern; one containing `/` matches the whole path relative
//! to the chart (a leading `/` is dropped), any other matches the base name;
//! a trailing `/` matches directories only, and an ignored directory hides
//! everything under it; `!pattern` ignores every path that does not match.
//! helm also always ignores hidden files directly under `templates/`.

use sealbox_formats::glob::{Pattern, Syntax};

/// One rule line.
#[derive(Debug)]
struct Rule {
    pattern: Pattern,
    /// Match against the whole relative path, not the base name.
    whole_path: bool,
    must_dir: bool,
    negate: bool,
}

/// The parsed rules of one `.helmignore`, with helm's defaults.
#[derive(Debug)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Parses the rules; helm's default (`templates/.?*`) comes first. A
    /// malformed line or one using `**`, which helm refuses, is an error
    /// naming its line.
    pub fn parse(text: &str) -> Result<Rules, (u32, String)> {
        let mut rules = vec![parse_line("templates/.?*").map_err(|e| (0, e))?.expect("default rule")];
        for (i, line) in text.lines().enumerate() {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if let Some(rule) = parse_line(line).map_err(|e| (line_no, e))? {
                rules.push(rule);
            }
        }
        Ok(Rules(rules))
    }

    /// Whether the file at `path` (relative to the chart root, `/`-separated)
    /// is left out: itself or a directory above it is ignored.
    pub fn ignores_file(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        (1..parts.len()).any(|n| self.ignores(&parts[..n].join("/"), true)) || self.ignores(path, false)
    }

    fn ignores(&self, path: &str, is_dir: bool) -> bool {
        let base = path.rsplit('/').next().unwrap_or(path);
        for rule in &self.0 {
            if rule.must_dir && !is_dir {
                continue;
            }
            let matched = rule.pattern.matches(if rule.whole_path { path } else { base });
            if rule.negate != matched {
                return true;
            }
        }
        false
    }
}

fn parse_line(line: &str) -> Result<Option<Rule>, String> {
    let mut p = line.trim();
    if p.is_empty() || p == "!" || p.starts_with('#') {
        return Ok(None);
    }
    if p.contains("**") {
        return Err(format!("double-star (**) syntax is not supported: {p:?}"));
    }
    let negate = p.starts_with('!');
    if negate {
        p = &p[1..];
    }
    let must_dir = p.ends_with('/');
    let p = p.trim_end_matches('/');
    let whole_path = p.contains('/');
    let p = p.strip_prefix('/').unwrap_or(p);
    let pattern = Pattern::new(p, Syntax::Go).map_err(|e| e.to_string())?;
    Ok(Some(Rule { pattern, whole_path, must_dir, negate }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_behave_like_helms() {
        let rules = Rules::parse("# comment\n.git/\n*.swp\ntemplates/tests/\n/ci\n").expect("valid");
        assert!(rules.ignores_file("templates/tests/test-connection.yaml"));
        assert!(rules.ignores_file("a/b.swp"));
        assert!(rules.ignores_file(".git/config"));
        assert!(rules.ignores_file("ci/values.yaml"));
        assert!(rules.ignores_file("templates/.hidden.yaml"));
        assert!(!rules.ignores_file("templates/deployment.yaml"));
        assert!(!rules.ignores_file("tests"), "a file is not a directory");
        assert!(Rules::parse("a/**/b\n").is_err());
    }

    #[test]
    fn negation_ignores_what_does_not_match() {
        let rules = Rules::parse("!*.yaml\n").expect("valid");
        assert!(rules.ignores_file("README.md"));
        assert!(!rules.ignores_file("values.yaml"));
    }
}
