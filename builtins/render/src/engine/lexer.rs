//! Splits template source into tokens, the way Go's `text/template/parse`
//! lexer does: text, delimiters (with `{{-`/`-}}` trimming applied to the
//! neighbouring text), and the words inside actions. Comments are dropped.

use super::error::ParseError;

/// A byte range of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The spanned text.
    pub fn of(self, src: &str) -> &str {
        &src[self.start..self.end]
    }
}

/// What a token is. Words are spans of the source, so tokens are `Copy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tok {
    /// Plain text between actions, already trimmed.
    Text(Span),
    LeftDelim,
    RightDelim,
    /// Whitespace inside an action; it separates arguments.
    Space,
    Bool(bool),
    /// A character constant, already decoded.
    Char(char),
    /// A number literal, as written.
    Number(Span),
    /// A string literal: index of its unquoted value in [`Lexed::strings`].
    Str(usize),
    Identifier(Span),
    Keyword(Keyword),
    /// `.Name` (the name without the dot).
    Field(Span),
    /// `$name` or `$` (with the dollar).
    Variable(Span),
    Dot,
    Nil,
    Declare,
    Assign,
    Pipe,
    LeftParen,
    RightParen,
    /// Any other printable character (the parser accepts only `,`).
    Char0(char),
    Eof,
}

/// The words that start control structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// The tokens of a source and the decoded values of its string literals.
#[derive(Debug)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub strings: Vec<String>,
}

/// Lexes `src` with the given delimiters.
pub fn lex(src: &str, left: &str, right: &str) -> Result<Lexed, ParseError> {
    let mut lexer = Lexer { src, left, right, pos: 0, tokens: Vec::new(), strings: Vec::new(), paren_depth: 0 };
    lexer.run()?;
    Ok(Lexed { tokens: lexer.tokens, strings: lexer.strings })
}

struct Lexer<'a> {
    src: &'a str,
    left: &'a str,
    right: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    strings: Vec<String>,
    paren_depth: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, msg)
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.tokens.push(Token { tok, pos });
    }

    /// The span of `s`, which must be a slice of the source.
    fn span(&self, s: &str) -> Span {
        let start = s.as_ptr() as usize - self.src.as_ptr() as usize;
        Span { start, end: start + s.len() }
    }

    fn run(&mut self) -> Result<(), ParseError> {
        let mut trim_next_text = false;
        loop {
            let text_start = self.pos;
            let Some(found) = self.rest().find(self.left) else {
                let mut text = &self.src[text_start..];
                if trim_next_text {
                    text = text.trim_start_matches(is_space);
                }
                if !text.is_empty() {
                    self.push(Tok::Text(self.span(text)), text_start);
                }
                self.push(Tok::Eof, self.src.len());
                return Ok(());
            };
            let delim_pos = self.pos + found;
            let after = &self.src[delim_pos + self.left.len()..];
            let left_trim = has_left_trim(after);
            let mut text = &self.src[text_start..delim_pos];
            if trim_next_text {
                text = text.trim_start_matches(is_space);
            }
            if left_trim {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                self.push(Tok::Text(self.span(text)), text_start);
            }
            self.pos = delim_pos + self.left.len();
            if left_trim {
                self.pos += 2;
            }
            if self.rest().starts_with("/*") {
                trim_next_text = self.comment(delim_pos)?;
            } else {
                self.push(Tok::LeftDelim, delim_pos);
                trim_next_text = self.inside_action(delim_pos)?;
            }
        }
    }

    /// Skips a comment action; returns whether it ended with a trim marker.
    fn comment(&mut self, start: usize) -> Result<bool, ParseError> {
        let Some(end) = self.rest().find("*/") else {
            return Err(self.err(start, "unclosed comment"));
        };
        self.pos += end + 2;
        let trim = has_right_trim(self.rest()) && self.rest()[2..].starts_with(self.right);
        if trim {
            self.pos += 2;
        }
        if !self.rest().starts_with(self.right) {
            return Err(self.err(start, "comment ends before closing delimiter"));
        }
        self.pos += self.right.len();
        Ok(trim)
    }

    /// Lexes the inside of an action up to and including the right delimiter.
    /// Returns whether the delimiter carried a trim marker.
    fn inside_action(&mut self, action_start: usize) -> Result<bool, ParseError> {
        loop {
            let rest = self.rest();
            if has_right_trim(rest) && rest[2..].starts_with(self.right) {
                if self.paren_depth > 0 {
                    return Err(self.err(self.pos, "unclosed left paren"));
                }
                self.push(Tok::RightDelim, self.pos + 2);
                self.pos += 2 + self.right.len();
                return Ok(true);
            }
            if rest.starts_with(self.right) {
                if self.paren_depth > 0 {
                    return Err(self.err(self.pos, "unclosed left paren"));
                }
                self.push(Tok::RightDelim, self.pos);
                self.pos += self.right.len();
                return Ok(false);
            }
            let start = self.pos;
            let Some(c) = self.peek() else {
                return Err(self.err(action_start, "unclosed action"));
            };
            match c {
                c if is_space(c) => {
                    while let Some(c) = self.peek() {
                        let rest = self.rest();
                        if !is_space(c) || (has_right_trim(rest) && rest[2..].starts_with(self.right)) {
                            break;
                        }
                        self.pos += c.len_utf8();
                    }
                    // A lone space before a trim marker belongs to the marker.
                    if self.pos > start {
                        self.push(Tok::Space, start);
                    } else {
                        // The trim marker itself is next; loop handles it.
                        continue;
                    }
                }
                '=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, start);
                }
                ':' => {
                    if !rest.starts_with(":=") {
                        return Err(self.err(start, "expected :="));
                    }
                    self.pos += 2;
                    self.push(Tok::Declare, start);
                }
                '|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, start);
                }
                '"' => self.quote(start)?,
                '`' => self.raw_quote(start)?,
                '\'' => self.char_constant(start)?,
                '$' => {
                    self.pos += 1;
                    self.alnum_run();
                    self.check_terminator()?;
                    self.push(Tok::Variable(Span { start, end: self.pos }), start);
                }
                '.' => {
                    if rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
                        self.number(start)?;
                    } else {
                        self.pos += 1;
                        let name = self.alnum_run();
                        if name.is_empty() {
                            self.check_terminator()?;
                            self.push(Tok::Dot, start);
                        } else {
                            let span = self.span(name);
                            self.check_terminator()?;
                            self.push(Tok::Field(span), start);
                        }
                    }
                }
                '+' | '-' | '0'..='9' => self.number(start)?,
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.push(Tok::LeftParen, start);
                }
                ')' => {
                    self.pos += 1;
                    if self.paren_depth == 0 {
                        return Err(self.err(start, "unexpected right paren"));
                    }
                    self.paren_depth -= 1;
                    self.push(Tok::RightParen, start);
                }
                c if is_alnum(c) => {
                    let word = self.alnum_run();
                    let span = self.span(word);
                    self.check_terminator()?;
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        "block" => Tok::Keyword(Keyword::Block),
                        "break" => Tok::Keyword(Keyword::Break),
                        "continue" => Tok::Keyword(Keyword::Continue),
                        "define" => Tok::Keyword(Keyword::Define),
                        "else" => Tok::Keyword(Keyword::Else),
                        "end" => Tok::Keyword(Keyword::End),
                        "if" => Tok::Keyword(Keyword::If),
                        "range" => Tok::Keyword(Keyword::Range),
                        "template" => Tok::Keyword(Keyword::Template),
                        "with" => Tok::Keyword(Keyword::With),
                        _ => Tok::Identifier(span),
                    };
                    self.push(tok, start);
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.pos += 1;
                    self.push(Tok::Char0(c), start);
                }
                c => return Err(self.err(start, format!("unrecognized character in action: {}", go_rune(c)))),
            }
        }
    }

    fn alnum_run(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !is_alnum(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// After a word, only a space, delimiter or punctuation may follow.
    fn check_terminator(&self) -> Result<(), ParseError> {
        let rest = self.rest();
        match rest.chars().next() {
            None => Ok(()),
            Some(c) if is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(') => Ok(()),
            Some(_) if rest.starts_with(self.right) => Ok(()),
            Some(c) => Err(self.err(self.pos, format!("bad character {}", go_rune(c)))),
        }
    }

    fn number(&mut self, start: usize) -> Result<(), ParseError> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        let mut hex = false;
        if i + 1 < bytes.len() && bytes[i] == b'0' {
            match bytes[i + 1] {
                b'x' | b'X' => {
                    digits = b"0123456789abcdefABCDEF_";
                    hex = true;
                    i += 2;
                }
                b'o' | b'O' => {
                    digits = b"01234567_";
                    i += 2;
                }
                b'b' | b'B' => {
                    digits = b"01_";
                    i += 2;
                }
                _ => {}
            }
        }
        let run = |i: &mut usize, set: &[u8]| {
            while *i < bytes.len() && set.contains(&bytes[*i]) {
                *i += 1;
            }
        };
        run(&mut i, digits);
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            run(&mut i, digits);
        }
        if !hex && digits.len() == 11 && i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            i += 1;
            if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                i += 1;
            }
            run(&mut i, b"0123456789_");
        }
        if hex && i < bytes.len() && (bytes[i] == b'p' || bytes[i] == b'P') {
            i += 1;
            if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                i += 1;
            }
            run(&mut i, b"0123456789_");
        }
        if i < bytes.len() && bytes[i] == b'i' {
            let body = self.src[self.pos..i].trim_start_matches(['+', '-']);
            let has_digits =
                body.trim_start_matches("0x").trim_start_matches("0X").chars().any(|c| c.is_ascii_hexdigit());
            if !has_digits {
                return Err(self.err(start, format!("bad number syntax: {:?}", &self.src[start..=i])));
            }
            return Err(self.err(start, "complex numbers are not supported"));
        }
        let span = Span { start: self.pos, end: i };
        self.pos = i;
        if self.peek().is_some_and(is_alnum) {
            let bad_end = self.pos + self.peek().map_or(0, char::len_utf8);
            return Err(self.err(start, format!("bad number syntax: {:?}", &self.src[start..bad_end])));
        }
        self.push(Tok::Number(span), start);
        Ok(())
    }

    /// The offset, after the opening `delim` at `start`, of the closing
    /// `delim`: backslash escapes are skipped, and a newline or the end of
    /// input before it is an "unterminated {what}" error.
    fn scan_quoted(&self, start: usize, delim: char, what: &str) -> Result<usize, ParseError> {
        let unterminated = || self.err(start, format!("unterminated {what}"));
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if chars.next().is_none_or(|(_, c)| c == '\n') => return Err(unterminated()),
                '\n' => return Err(unterminated()),
                c if c == delim => return Ok(i),
                _ => {}
            }
        }
        Err(unterminated())
    }

    fn quote(&mut self, start: usize) -> Result<(), ParseError> {
        let rest = &self.src[start + 1..];
        let end = self.scan_quoted(start, '"', "quoted string")?;
        let value = unquote(&rest[..end]).map_err(|e| self.err(start, e))?;
        self.pos = start + 1 + end + 1;
        self.strings.push(value);
        self.push(Tok::Str(self.strings.len() - 1), start);
        Ok(())
    }

    fn raw_quote(&mut self, start: usize) -> Result<(), ParseError> {
        let rest = &self.src[start + 1..];
        let Some(end) = rest.find('`') else {
            return Err(self.err(start, "unterminated raw quoted string"));
        };
        self.pos = start + 1 + end + 1;
        // Go drops carriage returns from raw strings.
        self.strings.push(rest[..end].replace('\r', ""));
        self.push(Tok::Str(self.strings.len() - 1), start);
        Ok(())
    }

    fn char_constant(&mut self, start: usize) -> Result<(), ParseError> {
        let rest = &self.src[start + 1..];
        let end = self.scan_quoted(start, '\'', "character constant")?;
        let body = &rest[..end];
        let decoded = unquote_with(body, '\'').map_err(|e| self.err(start, e))?;
        let mut cs = decoded.chars();
        let (Some(c), None) = (cs.next(), cs.next()) else {
            return Err(self.err(start, format!("malformed character constant: '{body}'")));
        };
        self.pos = start + 1 + end + 1;
        self.push(Tok::Char(c), start);
        Ok(())
    }
}

fn has_left_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

fn has_right_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

/// Go's `%#U`-style rune description used in lexer errors.
fn go_rune(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

/// Decodes the body of a Go double-quoted string.
pub fn unquote(body: &str) -> Result<String, String> {
    unquote_with(body, '"')
}

fn unquote_with(body: &str, quote: char) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    let bad = || format!("invalid syntax in quoted literal: {quote}{body}{quote}");
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else { return Err(bad()) };
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| -> Result<u32, String> {
            let mut v = 0u32;
            for _ in 0..n {
                let d = chars.next().and_then(|c| c.to_digit(16)).ok_or_else(bad)?;
                v = v * 16 + d;
            }
            Ok(v)
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' if quote == '"' => out.push('"'),
            '\'' if quote == '\'' => out.push('\''),
            'x' => {
                let v = hex(&mut chars, 2)?;
                // Go strings are bytes; we keep text valid UTF-8, so only ASCII escapes pass.
                if v > 0x7f {
                    return Err(format!("non-ASCII \\x escape not supported: {quote}{body}{quote}"));
                }
                out.push(char::from(v as u8));
            }
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?).ok_or_else(bad)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?).ok_or_else(bad)?),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    v = v * 8 + chars.next().and_then(|c| c.to_digit(8)).ok_or_else(bad)?;
                }
                if v > 0x7f {
                    return Err(format!("non-ASCII octal escape not supported: {quote}{body}{quote}"));
                }
                out.push(char::from(v as u8));
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens with their text, for readable assertions.
    fn toks(src: &str) -> Vec<String> {
        let lexed = lex(src, "{{", "}}").unwrap();
        lexed
            .tokens
            .iter()
            .map(|t| match t.tok {
                Tok::Text(s) => format!("text {:?}", s.of(src)),
                Tok::Field(s) => format!("field {}", s.of(src)),
                Tok::Number(s) => format!("number {}", s.of(src)),
                Tok::Str(i) => format!("string {:?}", lexed.strings[i]),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn trims_around_markers() {
        assert_eq!(
            toks("a \n{{- .X -}}\n b"),
            ["text \"a\"", "LeftDelim", "field X", "RightDelim", "text \"b\"", "Eof"]
        );
    }

    #[test]
    fn negative_number_is_not_a_trim_marker() {
        assert_eq!(toks("{{-3}}"), ["LeftDelim", "number -3", "RightDelim", "Eof"]);
        assert_eq!(toks("{{`a\r\nb`}}"), ["LeftDelim", "string \"a\\nb\"", "RightDelim", "Eof"]);
    }

    #[test]
    fn comments_vanish() {
        assert_eq!(toks("x {{- /* hi */ -}} y"), ["text \"x\"", "text \"y\"", "Eof"]);
    }

    #[test]
    fn reports_line_and_column() {
        let e = lex("hello\n\n{{`unterminated\n}}", "{{", "}}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3));
        assert_eq!(e.message, "unterminated raw quoted string");
    }
}
