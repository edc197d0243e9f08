//! The build context's ignore file: buildah, which sealer builds with, reads
//! `.containerignore` or else `.dockerignore` at the context root and leaves
//! the paths it excludes out of every COPY and ADD (`pkg/parse`
//! `ContainerIgnoreFile`; patterns as moby's `patternmatcher`): `*` and `?`
//! within one path component, `**` across components, `[...]` classes, `\`
//! escapes, `!` re-includes, and a pattern that matches a directory excludes
//! everything under it.

use std::io::Read;
use std::path::{Component, Path};

use cap_std::fs::Dir;
use sealbox_formats::glob;

/// Names of the ignore files, in the order buildah looks for them.
pub const IGNORE_FILES: [&str; 2] = [".containerignore", ".dockerignore"];

/// The longest pattern accepted (Linux's `PATH_MAX`). Matching costs
/// pattern length × path length for every file of the context, so a
/// hostile ignore file of megabyte-long patterns would stall the planner.
pub const MAX_PATTERN_BYTES: usize = 4096;

/// The exclusion patterns of a build context, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    /// The file the patterns came from, if any.
    pub file: Option<String>,
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    exclusion: bool,
    /// moby `patternmatcher` syntax (see `sealbox_formats::glob`).
    glob: glob::Pattern,
}

/// Why an ignore file could not be used.
#[derive(Debug)]
pub(crate) struct IgnoreError {
    pub file: &'static str,
    pub cause: String,
}

impl Ignore {
    /// Reads `.containerignore`, or else `.dockerignore`, from the context root; no patterns if neither
    /// is there.
    pub(crate) fn load(ctx: &Dir) -> Result<Ignore, IgnoreError> {
        for file in IGNORE_FILES {
            let mut text = String::new();
            match ctx.open(file) {
                Ok(f) => {
                    // An ignore file is a few lines; a bound keeps a hostile one from filling memory.
                    f.take(1 << 20)
                        .read_to_string(&mut text)
                        .map_err(|e| IgnoreError { file, cause: e.to_string() })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(IgnoreError { file, cause: e.to_string() }),
            }
            let mut ignore = Ignore::parse(&text).map_err(|cause| IgnoreError { file, cause })?;
            ignore.file = Some(file.to_owned());
            return Ok(ignore);
        }
        Ok(Ignore::default())
    }

    /// Parses ignore-file text: one pattern a line, `#` comments, blank
    /// lines skipped; a pattern longer than [`MAX_PATTERN_BYTES`] is refused.
    pub fn parse(text: &str) -> Result<Ignore, String> {
        let mut patterns = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.len() > MAX_PATTERN_BYTES {
                return Err(format!(
                    "line {}: a pattern of {} bytes; patterns are matched against paths, which Linux caps at {MAX_PATTERN_BYTES}",
                    index + 1,
                    line.len()
                ));
            }
            let (exclusion, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if pattern.is_empty() {
                return Err(format!("line {}: illegal exclusion pattern {line:?}", index + 1));
            }
            let cleaned = clean(pattern);
            let glob = glob::Pattern::new(&cleaned, glob::Syntax::Docker)
                .map_err(|e| format!("line {}: pattern {line:?}: {}", index + 1, e.cause))?;
            patterns.push(Pattern { exclusion, glob });
        }
        Ok(Ignore { file: None, patterns })
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether a `!` pattern may re-include something under an excluded directory, so a copy must still
    /// look inside excluded directories.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether a context path (relative to the context root) is left out of copies.
    pub fn is_excluded(&self, path: &Path) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        // The path as moby matches it: its names joined by `/`, nothing else.
        let mut file = String::new();
        for c in path.components() {
            if let Component::Normal(name) = c {
                if !file.is_empty() {
                    file.push('/');
                }
                file.push_str(&name.to_string_lossy());
            }
        }
        if file.is_empty() {
            return false;
        }
        let mut matched = false;
        for pattern in &self.patterns {
            // An exclusion only matters once something matched; an inclusion only until then.
            if pattern.exclusion != matched {
                continue;
            }
            // A pattern matching a parent directory covers everything inside it.
            if pattern.glob.matches_path_or_parent(&file) {
                matched = !pattern.exclusion;
            }
        }
        matched
    }
}

/// Go's `filepath.Clean`, then without a leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !pattern.starts_with('/') {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &str, path: &str) -> bool {
        Ignore::parse(patterns).unwrap().is_excluded(Path::new(path))
    }

    #[test]
    fn plain_names_and_directories() {
        assert!(excluded("secret", "secret"));
        assert!(excluded("secret", "secret/key"));
        assert!(!excluded("secret", "a/secret"));
        assert!(excluded("/a/b/", "a/b/c"));
        assert!(excluded("./a/../b", "b"));
        assert!(!excluded("# comment\n\n", "x"));
    }

    #[test]
    fn wildcards() {
        assert!(excluded("*.md", "README.md"));
        assert!(!excluded("*.md", "docs/README.md"));
        assert!(excluded("*/*.md", "docs/README.md"));
        assert!(excluded("**/*.md", "docs/x/README.md"));
        assert!(excluded("**/*.md", "README.md"));
        assert!(excluded("docs/**", "docs/x/y"));
        assert!(excluded("a/**/b", "a/b"));
        assert!(excluded("a/**/b", "a/x/y/b"));
        assert!(excluded("file?.txt", "file1.txt"));
        assert!(!excluded("file?.txt", "file10.txt"));
        assert!(excluded("[a-c]x", "bx"));
        assert!(!excluded("[^a-c]x", "bx"));
        assert!(excluded("\\*", "*"));
        assert!(!excluded("\\*", "a"));
    }

    #[test]
    fn overlong_patterns_are_refused_and_deep_paths_match_in_one_pass() {
        let err = Ignore::parse(&format!("ok\n{}\n", "a".repeat(MAX_PATTERN_BYTES + 1))).unwrap_err();
        assert!(err.starts_with("line 2: a pattern of 4097 bytes"), "{err}");
        // 2,000 levels deep: one matching pass per pattern, not one per parent.
        let deep = vec!["d"; 2000].join("/");
        assert!(excluded("d/d", &deep));
        assert!(!excluded("d/x", &deep));
        assert!(excluded(&format!("{}*", "*/".repeat(1000)), &deep));
    }

    #[test]
    fn exceptions_re_include() {
        let rules = "*.md\n!README.md\nREADME-secret.md";
        assert!(excluded(rules, "CHANGES.md"));
        assert!(!excluded(rules, "README.md"));
        assert!(excluded(rules, "README-secret.md"));
        let rules = "docs\n!docs/keep";
        assert!(excluded(rules, "docs/drop"));
        assert!(!excluded(rules, "docs/keep"));
        assert!(!excluded(rules, "docs/keep/inner"));
        assert!(Ignore::parse(rules).unwrap().has_exceptions());
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(Ignore::parse("!").unwrap_err(), "line 1: illegal exclusion pattern \"!\"");
        assert_eq!(Ignore::parse("a[b").unwrap_err(), "line 1: pattern \"a[b\": unterminated [");
    }

    #[test]
    fn long_patterns_stay_fast() {
        let pattern = "*a".repeat(40);
        let text = "a".repeat(200) + "b";
        assert!(!excluded(&pattern, &text));
    }
}
