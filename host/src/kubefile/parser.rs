//! Kubefile syntax: lines, comments, continuations, the escape directive and
//! each instruction's argument form, as in sealer's fork of the buildkit
//! Dockerfile parser (`build/kubefile/parser/parse.go` and
//! `line_parsers.go`). Meaning is given later, by the planner.

use super::error::{Error, ErrorKind, Result};

/// An instruction keyword; keywords are matched in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// `FROM [--platform=P] IMAGE`
    From,
    /// `ARG NAME[=DEFAULT] ...`
    Arg,
    /// `ENV KEY=VALUE ...` or `ENV KEY VALUE`
    Env,
    /// `LABEL KEY=VALUE ...`
    Label,
    /// `MAINTAINER TEXT`
    Maintainer,
    /// `COPY SRC... DEST`
    Copy,
    /// `ADD SRC... DEST`
    Add,
    /// `RUN ...` (only `RUN --module=PATH` is accepted by the planner)
    Run,
    /// `APP NAME local://PATH...`
    App,
    /// `APPENV NAME KEY=VALUE...`
    AppEnv,
    /// `APPCMDS NAME ["CMD", ...]`
    AppCmds,
    /// `CNI NAME local://PATH...`
    Cni,
    /// `CSI NAME local://PATH...`
    Csi,
    /// `KUBEVERSION VERSION`
    KubeVersion,
    /// `LAUNCH ["APP", ...]`
    Launch,
    /// `CMDS ["CMD", ...]`
    Cmds,
    /// `CMD TEXT` (deprecated)
    Cmd,
}

impl Keyword {
    /// The keyword for a word as written, in any case; `None` if the Kubefile has no such instruction.
    pub fn from_word(word: &str) -> Option<Keyword> {
        Some(match word.to_ascii_lowercase().as_str() {
            "from" => Keyword::From,
            "arg" => Keyword::Arg,
            "env" => Keyword::Env,
            "label" => Keyword::Label,
            "maintainer" => Keyword::Maintainer,
            "copy" => Keyword::Copy,
            "add" => Keyword::Add,
            "run" => Keyword::Run,
            "app" => Keyword::App,
            "appenv" => Keyword::AppEnv,
            "appcmds" => Keyword::AppCmds,
            "cni" => Keyword::Cni,
            "csi" => Keyword::Csi,
            "kubeversion" => Keyword::KubeVersion,
            "launch" => Keyword::Launch,
            "cmds" => Keyword::Cmds,
            "cmd" => Keyword::Cmd,
            _ => return None,
        })
    }

    /// The keyword in upper case, as used in messages and history.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::From => "FROM",
            Keyword::Arg => "ARG",
            Keyword::Env => "ENV",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Copy => "COPY",
            Keyword::Add => "ADD",
            Keyword::Run => "RUN",
            Keyword::App => "APP",
            Keyword::AppEnv => "APPENV",
            Keyword::AppCmds => "APPCMDS",
            Keyword::Cni => "CNI",
            Keyword::Csi => "CSI",
            Keyword::KubeVersion => "KUBEVERSION",
            Keyword::Launch => "LAUNCH",
            Keyword::Cmds => "CMDS",
            Keyword::Cmd => "CMD",
        }
    }

    /// How the words after the keyword and its flags are split.
    fn form(self) -> ArgForm {
        match self {
            Keyword::From => ArgForm::Whitespace,
            Keyword::Arg | Keyword::Env | Keyword::Label => ArgForm::Words,
            Keyword::Maintainer | Keyword::KubeVersion => ArgForm::Text,
            Keyword::Run => ArgForm::JsonOrText,
            Keyword::Copy
            | Keyword::Add
            | Keyword::App
            | Keyword::AppEnv
            | Keyword::AppCmds
            | Keyword::Cni
            | Keyword::Csi
            | Keyword::Launch
            | Keyword::Cmds
            | Keyword::Cmd => ArgForm::JsonOrWhitespace,
        }
    }
}

#[derive(Clone, Copy)]
enum ArgForm {
    /// Split on runs of blanks.
    Whitespace,
    /// Split on blanks outside quotes; quotes and escapes stay in the words.
    Words,
    /// The whole rest of the line as one argument.
    Text,
    /// A JSON array of strings, else the whole rest as one argument.
    JsonOrText,
    /// A JSON array of strings, else split on runs of blanks.
    JsonOrWhitespace,
}

/// One instruction, after continuation lines are joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The 1-based line where the instruction starts.
    pub line: usize,
    /// What instruction it is.
    pub keyword: Keyword,
    /// The `--name[=value]` flags before the arguments, without the leading dashes.
    pub flags: Vec<String>,
    /// The arguments, split as the keyword's form says (see [`Instruction::json`]).
    pub args: Vec<String>,
    /// Whether the arguments were written as a JSON array.
    pub json: bool,
    /// Why the arguments, which start with `[`, are not a JSON array of strings, if so.
    pub json_error: Option<String>,
    /// The text after the keyword and its flags, trimmed.
    pub rest: String,
    /// The instruction's text with continuations joined, as buildah records it in history.
    pub original: String,
}

/// A parsed Kubefile: its instructions in order.
#[derive(Debug)]
pub struct Kubefile {
    /// The escape character (`\` unless a `# escape=` directive says otherwise).
    pub escape: char,
    /// The instructions in file order.
    pub instructions: Vec<Instruction>,
    /// The lines that are not instructions, left out of `instructions`. Only [`parse_all`] returns
    /// a Kubefile with any; [`super::plan()`] reports them with its own errors, in line order.
    pub errors: Vec<Error>,
}

/// Parses Kubefile bytes. `file` is the path as the user gave it; it names the file in errors,
/// and the error names every line that is not an instruction.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Kubefile> {
    let mut kubefile = parse_all(file, bytes)?;
    match Error::all(std::mem::take(&mut kubefile.errors)) {
        Some(e) => Err(e),
        None => Ok(kubefile),
    }
}

/// Parses Kubefile bytes as [`parse`] does, but keeps the instructions around lines that are not
/// instructions and returns those lines' errors in [`Kubefile::errors`], so that planning can report
/// every error of the file at once. Fails only where nothing after can be read (not UTF-8, a bad
/// escape directive).
pub fn parse_all(file: &str, bytes: &[u8]) -> Result<Kubefile> {
    let err = |line: usize, kind: ErrorKind| Error::new(file, line, kind);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            return Err(err(line, ErrorKind::NotUtf8));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = split_lines(text);

    let mut directives = Directives::default();
    let mut instructions = Vec::new();
    let mut errors = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let first = lines[next].trim_start();
        next += 1;
        let start = next;
        directives.consider(first).map_err(|kind| err(start, kind))?;
        let (mut joined, mut complete) = trim_continuation(strip_comment(first), directives.escape);
        if complete && joined.is_empty() {
            continue;
        }
        while !complete && next < lines.len() {
            let raw = lines[next];
            next += 1;
            // Comment and blank lines inside a continued instruction are skipped, as buildkit does.
            if strip_comment(raw.trim_start()).is_empty() {
                continue;
            }
            let (part, done) = trim_continuation(raw, directives.escape);
            joined.push_str(&part);
            complete = done;
        }
        match instruction(&joined, start, directives.escape) {
            Ok(instruction) => instructions.push(instruction),
            Err(kind) => errors.push(err(start, kind)),
        }
    }
    Ok(Kubefile { escape: directives.escape, instructions, errors })
}

/// Lines as Go's `bufio.ScanLines` yields them: split at `\n`, a trailing `\r` dropped,
/// no empty last line after a final newline.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    if text.ends_with('\n') || text.is_empty() {
        lines.pop();
    }
    lines
}

fn strip_comment(line: &str) -> &str {
    if line.starts_with('#') { "" } else { line }
}

/// Removes a trailing escape character (and blanks after it); says whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(head) => (head.to_owned(), false),
        None => (line.to_owned(), true),
    }
}

/// Parser directives: only before any instruction, comment or blank line.
struct Directives {
    escape: char,
    escape_seen: bool,
    complete: bool,
}

impl Default for Directives {
    fn default() -> Self {
        Directives { escape: '\\', escape_seen: false, complete: false }
    }
}

impl Directives {
    fn consider(&mut self, line: &str) -> Result<(), ErrorKind> {
        if self.complete {
            return Ok(());
        }
        let Some(value) = escape_directive(line) else {
            self.complete = true;
            return Ok(());
        };
        if self.escape_seen {
            return Err(ErrorKind::RepeatedEscape);
        }
        self.escape_seen = true;
        match value {
            '\\' | '`' => {
                self.escape = value;
                Ok(())
            }
            other => Err(ErrorKind::InvalidEscape(other.to_string())),
        }
    }
}

/// The character of a `# escape=C` line (keyword in any case), if the line is one.
fn escape_directive(line: &str) -> Option<char> {
    let blank = |c: char| c == ' ' || c == '\t';
    let rest = line.strip_prefix('#')?.trim_start_matches(blank);
    let word = rest.get(..6)?;
    if !word.eq_ignore_ascii_case("escape") {
        return None;
    }
    let rest = rest[6..].trim_start_matches(blank).strip_prefix('=')?.trim_start_matches(blank);
    rest.chars().next()
}

/// Blanks as buildkit's `tokenWhitespace` regexp has them.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
}

fn instruction(line: &str, number: usize, escape: char) -> Result<Instruction, ErrorKind> {
    let line_trimmed = line.trim();
    let (word, after) = match line_trimmed.find(is_blank) {
        Some(at) => (&line_trimmed[..at], line_trimmed[at..].trim_start_matches(is_blank)),
        None => (line_trimmed, ""),
    };
    let keyword = Keyword::from_word(word).ok_or_else(|| ErrorKind::UnknownInstruction(word.to_owned()))?;
    let (rest, flags) = extract_flags(after);
    let rest = rest.trim().to_owned();
    let mut json = false;
    let mut json_error = None;
    let args = match keyword.form() {
        ArgForm::Whitespace => split_blanks(&rest),
        ArgForm::Words => words(&rest, escape),
        ArgForm::Text => {
            if rest.is_empty() {
                Vec::new()
            } else {
                vec![rest.clone()]
            }
        }
        ArgForm::JsonOrText | ArgForm::JsonOrWhitespace => match json_array(&rest) {
            JsonArray::Strings(items) => {
                json = true;
                items
            }
            JsonArray::NotStrings => return Err(ErrorKind::JsonNotStrings { instruction: keyword.as_str() }),
            JsonArray::Invalid(cause) => {
                json_error = cause;
                if matches!(keyword.form(), ArgForm::JsonOrText) {
                    if rest.is_empty() { Vec::new() } else { vec![rest.clone()] }
                } else {
                    split_blanks(&rest)
                }
            }
        },
    };
    Ok(Instruction {
        line: number,
        keyword,
        flags,
        args,
        json,
        json_error,
        rest,
        original: line.trim_start().to_owned(),
    })
}

fn split_blanks(text: &str) -> Vec<String> {
    text.split(is_blank).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

enum JsonArray {
    Strings(Vec<String>),
    NotStrings,
    /// Not a JSON array; the parser's message when the text starts with `[`.
    Invalid(Option<String>),
}

fn json_array(text: &str) -> JsonArray {
    if !text.starts_with('[') {
        return JsonArray::Invalid(None);
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(text) {
        Ok(values) => {
            let mut strings = Vec::with_capacity(values.len());
            for value in values {
                match value {
                    serde_json::Value::String(s) => strings.push(s),
                    _ => return JsonArray::NotStrings,
                }
            }
            JsonArray::Strings(strings)
        }
        Err(e) => JsonArray::Invalid(Some(e.to_string())),
    }
}

/// Splits leading `--flag` words off the arguments (buildkit's `extractBuilderFlags`).
fn extract_flags(line: &str) -> (&str, Vec<String>) {
    let mut flags = Vec::new();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start();
        if !trimmed.starts_with("--") {
            return (trimmed, flags);
        }
        let (word, after) = flag_word(trimmed);
        if word == "--" {
            return (after, flags);
        }
        flags.push(word.trim_start_matches('-').to_owned());
        rest = after;
    }
}

/// One flag word: up to a blank outside quotes; quotes are removed and `\` escapes the next character.
fn flag_word(text: &str) -> (String, &str) {
    let mut word = String::new();
    let mut quote = None;
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match quote {
            None if c.is_whitespace() => return (word, &text[at..]),
            None if c == '\'' || c == '"' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ if c == '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    word.push(escaped);
                }
            }
            _ => word.push(c),
        }
    }
    (word, "")
}

/// Words split at blanks outside quotes, quotes and escapes kept (buildkit's `parseWords`);
/// they are removed later, when the word is expanded.
pub(crate) fn words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None => {
                if c.is_whitespace() {
                    if in_word && (blank_ok || !word.is_empty()) {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    // An escape at the very end is dropped.
                    if let Some(next) = chars.next() {
                        word.push(c);
                        word.push(next);
                    }
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                    word.push(c);
                    continue;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        Some(next) => {
                            word.push(c);
                            word.push(next);
                        }
                        None => quote = None,
                    }
                    continue;
                }
                word.push(c);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Kubefile {
        parse("Kubefile", text.as_bytes()).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse("dir/Kubefile", text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn comments_blank_lines_and_line_numbers() {
        let k = parse_ok("# a comment\n\nFROM scratch\n   # indented comment\n  COPY a b\n\n");
        let lines: Vec<_> = k.instructions.iter().map(|i| (i.line, i.keyword)).collect();
        assert_eq!(lines, [(3, Keyword::From), (5, Keyword::Copy)]);
        assert_eq!(k.instructions[1].original, "COPY a b");
    }

    #[test]
    fn continuations_join_lines_and_skip_comments_inside() {
        let k = parse_ok("FROM scratch\nENV A=1 \\\n# inside\n\n    B=2 \\  \n C=3\nLABEL x=y");
        let env = &k.instructions[1];
        assert_eq!(env.line, 2);
        assert_eq!(env.args, ["A=1", "B=2", "C=3"]);
        assert_eq!(env.original, "ENV A=1     B=2  C=3");
        assert_eq!(k.instructions[2].line, 7);
    }

    #[test]
    fn continuation_at_end_of_file_ends_the_instruction() {
        let k = parse_ok("FROM scratch\nCOPY a \\");
        assert_eq!(k.instructions[1].args, ["a"]);
    }

    #[test]
    fn crlf_and_bom_are_ignored() {
        let k = parse_ok("\u{feff}FROM scratch\r\nCOPY a b\r\n");
        assert_eq!(k.instructions[0].args, ["scratch"]);
        assert_eq!(k.instructions[1].args, ["a", "b"]);
    }

    #[test]
    fn keywords_in_any_case() {
        let k = parse_ok("from scratch\nCoPy a b\nkubeVersion v1.22.15\n");
        let kws: Vec<_> = k.instructions.iter().map(|i| i.keyword).collect();
        assert_eq!(kws, [Keyword::From, Keyword::Copy, Keyword::KubeVersion]);
        assert_eq!(k.instructions[2].args, ["v1.22.15"]);
    }

    #[test]
    fn escape_directive_changes_continuation_and_escape() {
        let k = parse_ok("# escape=`\nFROM scratch\nCOPY c:\\a `\n  b\n");
        assert_eq!(k.escape, '`');
        assert_eq!(k.instructions[1].args, ["c:\\a", "b"]);
        assert_eq!(parse_ok("#  ESCAPE = `\nFROM scratch").escape, '`');
    }

    #[test]
    fn escape_directive_only_counts_at_the_top() {
        assert_eq!(parse_ok("# hello\n# escape=`\nFROM scratch").escape, '\\');
        assert_eq!(parse_ok("\n# escape=`\nFROM scratch").escape, '\\');
        assert_eq!(parse_ok("FROM scratch\n# escape=`\n").escape, '\\');
    }

    #[test]
    fn bad_escape_directives() {
        assert_eq!(
            parse_err("# escape=x\nFROM scratch"),
            "dir/Kubefile:1: invalid escape directive \"x\": the escape character must be \\ or `"
        );
        assert_eq!(parse_err("# escape=`\n# escape=\\\n"), "dir/Kubefile:2: only one escape directive is allowed");
    }

    #[test]
    fn unknown_instruction_names_the_line() {
        assert_eq!(parse_err("FROM scratch\n\nFOO bar"), "dir/Kubefile:3: unknown instruction \"FOO\"");
        assert_eq!(parse_err("FROM scratch\nexpose 80"), "dir/Kubefile:2: unknown instruction \"expose\"");
    }

    #[test]
    fn not_utf8_names_the_line() {
        let err = parse("Kubefile", b"FROM scratch\nCOPY \xff b\n").unwrap_err();
        assert_eq!(err.to_string(), "Kubefile:2: the Kubefile is not UTF-8 text");
    }

    #[test]
    fn json_or_whitespace_arguments() {
        let k = parse_ok(
            "FROM scratch\nLAUNCH [\"a\", \"b c\"]\nLAUNCH a   b\nCMDS [bad json\nCOPY [\"x y\",\"z\"]\nRUN echo hi there",
        );
        let launch = &k.instructions[1];
        assert!(launch.json);
        assert_eq!(launch.args, ["a", "b c"]);
        assert!(launch.json_error.is_none());
        let plain = &k.instructions[2];
        assert!(!plain.json);
        assert_eq!(plain.args, ["a", "b"]);
        let bad = &k.instructions[3];
        assert!(!bad.json);
        assert_eq!(bad.args, ["[bad", "json"]);
        assert!(bad.json_error.as_deref().is_some_and(|e| e.contains("expected")));
        assert_eq!(k.instructions[4].args, ["x y", "z"]);
        assert_eq!(k.instructions[5].args, ["echo hi there"]);
    }

    #[test]
    fn json_arrays_must_hold_strings() {
        assert_eq!(
            parse_err("FROM scratch\nCMDS [\"a\", 1]"),
            "dir/Kubefile:2: CMDS: a JSON array must hold strings only"
        );
    }

    #[test]
    fn flags_come_off_the_front() {
        let k = parse_ok(
            "FROM --platform=linux/arm64 scratch\nCOPY --from=\"build stage\" --chown=1 a b\nRUN --module=m.wasm -- --not-a-flag",
        );
        assert_eq!(k.instructions[0].flags, ["platform=linux/arm64"]);
        assert_eq!(k.instructions[0].args, ["scratch"]);
        assert_eq!(k.instructions[1].flags, ["from=build stage", "chown=1"]);
        assert_eq!(k.instructions[1].args, ["a", "b"]);
        assert_eq!(k.instructions[2].flags, ["module=m.wasm"]);
        assert_eq!(k.instructions[2].rest, "--not-a-flag");
    }

    #[test]
    fn env_like_words_keep_quotes_for_later() {
        let k = parse_ok("FROM scratch\nENV a=\"x y\" b='1 2' c=d\\ e\nLABEL \"k\"=v");
        assert_eq!(k.instructions[1].args, ["a=\"x y\"", "b='1 2'", "c=d\\ e"]);
        assert_eq!(k.instructions[2].args, ["\"k\"=v"]);
        assert_eq!(words("a \"\" b", '\\'), ["a", "\"\"", "b"]);
    }

    #[test]
    fn text_arguments_keep_everything() {
        let k = parse_ok("FROM scratch\nMAINTAINER  Jane Doe <jane@example.com>  \nKUBEVERSION");
        assert_eq!(k.instructions[1].args, ["Jane Doe <jane@example.com>"]);
        assert!(k.instructions[2].args.is_empty());
    }
}
