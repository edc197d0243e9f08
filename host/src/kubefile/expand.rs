//! Variable substitution and quote removal in one word, as buildkit's shell
//! lexer does it for COPY, ADD, ENV, ARG, LABEL and FROM (`ProcessWord`):
//! `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`, `${NAME:?message}`
//! (and the forms without `:`), single quotes taken literally, double quotes
//! with `$` expanded, and the escape character. Unset variables expand to
//! nothing. Nothing is executed: there is no command substitution.

/// Expands one word; `lookup` gives a variable's value, `None` when unset.
pub(crate) fn expand(word: &str, escape: char, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut lexer = Lexer { chars: &chars, at: 0, escape, lookup };
    lexer.until(None)
}

struct Lexer<'a> {
    chars: &'a [char],
    at: usize,
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.at += 1;
        }
        c
    }

    /// Processes up to `stop` (consumed) or the end of the word when `stop` is `None`.
    fn until(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some(c) = self.next() else {
                return match stop {
                    None => Ok(out),
                    Some(s) => Err(format!("unexpected end of statement while looking for matching {s}")),
                };
            };
            if Some(c) == stop {
                return Ok(out);
            }
            match c {
                '\'' => self.single_quoted(&mut out)?,
                '"' => self.double_quoted(&mut out)?,
                '$' => self.dollar(&mut out)?,
                c if c == self.escape => {
                    // An escape at the very end of the word is dropped.
                    if let Some(escaped) = self.next() {
                        out.push(escaped);
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn single_quoted(&mut self, out: &mut String) -> Result<(), String> {
        loop {
            match self.next() {
                None => return Err("unexpected end of statement while looking for matching single-quote".into()),
                Some('\'') => return Ok(()),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self, out: &mut String) -> Result<(), String> {
        loop {
            match self.next() {
                None => return Err("unexpected end of statement while looking for matching double-quote".into()),
                Some('"') => return Ok(()),
                Some('$') => self.dollar(out)?,
                Some(c) if c == self.escape => match self.peek() {
                    None => {}
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.at += 1;
                        out.push(n);
                    }
                    // Other escapes inside double quotes are kept as written.
                    Some(_) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn dollar(&mut self, out: &mut String) -> Result<(), String> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(&(self.lookup)(&name).unwrap_or_default());
            }
            return Ok(());
        }
        self.at += 1;
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution: missing variable name after ${".into());
        }
        let value = (self.lookup)(&name);
        match self.next() {
            Some('}') => out.push_str(&value.unwrap_or_default()),
            Some(':') => {
                let modifier = self.next();
                let word = self.until(Some('}'))?;
                let set = value.as_deref().is_some_and(|v| !v.is_empty());
                match modifier {
                    Some('-') => out.push_str(&if set { value.unwrap_or_default() } else { word }),
                    Some('+') => out.push_str(if set { &word } else { "" }),
                    Some('?') if set => out.push_str(&value.unwrap_or_default()),
                    Some('?') => return Err(unset_message(&name, &word)),
                    Some(m) => return Err(format!("unsupported modifier ({m}) in substitution")),
                    None => return Err("unexpected end of statement while looking for matching }".into()),
                }
            }
            Some(m @ ('-' | '+' | '?')) => {
                let word = self.until(Some('}'))?;
                match (m, value) {
                    ('-', Some(v)) | ('?', Some(v)) => out.push_str(&v),
                    ('-', None) => out.push_str(&word),
                    ('+', Some(_)) => out.push_str(&word),
                    ('+', None) => {}
                    _ => return Err(unset_message(&name, &word)),
                }
            }
            Some(other) => return Err(format!("missing ':' in substitution (found {other:?} after ${{{name}}}")),
            None => return Err("unexpected end of statement while looking for matching }".into()),
        }
        Ok(())
    }

    /// A variable name: letters, digits and `_`; or a run of digits; or one special character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.at += 1;
                }
            }
            Some(c @ ('*' | '#' | '@' | '$' | '?' | '!' | '-')) => {
                self.at += 1;
                name.push(c);
            }
            _ => {
                while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                    name.push(c);
                    self.at += 1;
                }
            }
        }
        name
    }
}

fn unset_message(name: &str, word: &str) -> String {
    if word.is_empty() { format!("{name}: is not allowed to be unset") } else { format!("{name}: {word}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(word: &str) -> Result<String, String> {
        let lookup = |name: &str| match name {
            "ARCH" => Some("amd64".to_owned()),
            "EMPTY" => Some(String::new()),
            "V" => Some("1.2".to_owned()),
            _ => None,
        };
        expand(word, '\\', &lookup)
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(ex("$ARCH/bin").unwrap(), "amd64/bin");
        assert_eq!(ex("${ARCH}bin").unwrap(), "amd64bin");
        assert_eq!(ex("x$NOPE-y").unwrap(), "x-y");
        assert_eq!(ex("cost$").unwrap(), "cost$");
        assert_eq!(ex("a$ b").unwrap(), "a$ b");
    }

    #[test]
    fn modifiers() {
        assert_eq!(ex("${NOPE:-def}").unwrap(), "def");
        assert_eq!(ex("${EMPTY:-def}").unwrap(), "def");
        assert_eq!(ex("${EMPTY-def}").unwrap(), "");
        assert_eq!(ex("${V:-def}").unwrap(), "1.2");
        assert_eq!(ex("${V:+alt}").unwrap(), "alt");
        assert_eq!(ex("${NOPE:+alt}").unwrap(), "");
        assert_eq!(ex("${EMPTY+alt}").unwrap(), "alt");
        assert_eq!(ex("${NOPE:-$ARCH}").unwrap(), "amd64");
        assert_eq!(ex("${NOPE:?must be set}").unwrap_err(), "NOPE: must be set");
        assert_eq!(ex("${NOPE?}").unwrap_err(), "NOPE: is not allowed to be unset");
        assert!(ex("${V:%x}").unwrap_err().contains("unsupported modifier (%)"));
        assert!(ex("${V").unwrap_err().contains("matching }"));
        assert!(ex("${}").unwrap_err().contains("missing variable name"));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(ex("'$ARCH'").unwrap(), "$ARCH");
        assert_eq!(ex("\"$ARCH dir\"").unwrap(), "amd64 dir");
        assert_eq!(ex("\\$ARCH").unwrap(), "$ARCH");
        assert_eq!(ex("\"a\\\"b\\n\"").unwrap(), "a\"b\\n");
        assert_eq!(ex("a\\ b").unwrap(), "a b");
        assert!(ex("'open").unwrap_err().contains("single-quote"));
        assert!(ex("\"open").unwrap_err().contains("double-quote"));
    }

    #[test]
    fn backtick_escape_leaves_backslash_alone() {
        let lookup = |_: &str| None;
        assert_eq!(expand("c:\\dir\\`$x", '`', &lookup).unwrap(), "c:\\dir\\$x");
    }
}
