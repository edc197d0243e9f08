//! Errors of parsing and executing templates, each located by line and
//! column (both counted from 1; columns in characters).

use std::fmt;

/// Line and column (from 1) of byte offset `pos` in `src`.
pub fn line_col(src: &str, pos: usize) -> (u32, u32) {
    let pos = pos.min(src.len());
    let before = &src[..pos];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

/// A template that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The name the source was parsed under (a file path for the render step).
    pub name: String,
    /// Line of the error, from 1.
    pub line: u32,
    /// Column of the error, from 1, in characters.
    pub column: u32,
    /// What is wrong, without the location.
    pub message: String,
}

impl ParseError {
    /// An error at byte offset `pos` of `src`; the name is filled in by the parser.
    pub fn at(src: &str, pos: usize, message: impl Into<String>) -> ParseError {
        let (line, column) = line_col(src, pos);
        ParseError { name: String::new(), line, column, message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.name, self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// What went wrong while executing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecErrorKind {
    /// A missing key would have been printed as `<no value>` (the
    /// error-on-print mode); carries the key when one is known.
    NoValue(Option<String>),
    /// A limit (depth, output size, steps) stopped execution.
    Limit,
    /// Any other execution error (bad arguments, failing functions...).
    Other,
}

/// A template that failed while executing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// The source (parse name) holding the node that failed.
    pub name: String,
    /// The template (file or `define`d name) executing when it failed.
    pub template: String,
    /// Line of the failing node, from 1.
    pub line: u32,
    /// Column of the failing node, from 1, in characters.
    pub column: u32,
    /// What went wrong, with Go's context (`executing "T" at <node>: ...`).
    pub message: String,
    /// The class of failure.
    pub kind: ExecErrorKind,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.name, self.line, self.column, self.message)
    }
}

impl std::error::Error for ExecError {}

/// Either kind of template error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The source could not be parsed.
    Parse(ParseError),
    /// Execution failed.
    Exec(ExecError),
}

impl Error {
    /// The source name, line and column the error points at.
    pub fn location(&self) -> (&str, u32, u32) {
        match self {
            Error::Parse(e) => (&e.name, e.line, e.column),
            Error::Exec(e) => (&e.name, e.line, e.column),
        }
    }

    /// The message without its location.
    pub fn message(&self) -> &str {
        match self {
            Error::Parse(e) => &e.message,
            Error::Exec(e) => &e.message,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse(e) => e.fmt(f),
            Error::Exec(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Error {
        Error::Parse(e)
    }
}

impl From<ExecError> for Error {
    fn from(e: ExecError) -> Error {
        Error::Exec(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_from_one() {
        assert_eq!(line_col("ab\nçd{{", 6), (2, 3));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
