//! Variable substitution and quote removal in one word, as buildkit's shell
//! lexer does it for COPY, ADD, ENV, ARG, LABEL and FROM (`ProcessWord`):
//! `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`, `${NAME:?message}`
//! (and the forms without `:`), single quotes taken literally, double quotes
//! with `$` expanded, and the escape character. Unset variables expand to
//! nothing. Nothing is executed: there is no command substitution.

/// How deep `${NAME:-${...}}` substitutions may nest. Each level is a
/// few bytes of Kubefile and a level of recursion here: unbounded, a small
/// hostile Kubefile would overflow the host's stack.
const MAX_NESTING: usize = 64;

/// How long a word may grow by substitution. ARG and ENV values are
/// substituted into later ones, so each line of a hostile Kubefile could
/// multiply the length of the last (`ARG B=$A$A$A…`) until the host runs
/// out of memory; no real value comes near this.
const MAX_EXPANDED: usize = 1 << 20;

/// Expands one word; `lookup` gives a variable's value, `None` when unset.
pub(crate) fn expand(word: &str, escape: char, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut lexer = Lexer { chars: &chars, at: 0, escape, lookup, depth: 0 };
    lexer.until(None)
}

struct Lexer<'a> {
    chars: &'a [char],
    at: usize,
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// How many `${NAME:-word}` words the lexer is inside.
    depth: usize,
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

    /// A substitution at `$`, appended to `out`, which it may not make
    /// longer than [`MAX_EXPANDED`].
    fn dollar(&mut self, out: &mut String) -> Result<(), String> {
        self.substitute(out)?;
        if out.len() > MAX_EXPANDED {
            return Err(format!("bad substitution: the word expands to text longer than {} MiB", MAX_EXPANDED >> 20));
        }
        Ok(())
    }

    fn substitute(&mut self, out: &mut String) -> Result<(), String> {
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
                let word = self.nested_word()?;
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
                let word = self.nested_word()?;
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

    /// The word of a `${NAME:-word}` form, up to its `}`.
    fn nested_word(&mut self) -> Result<String, String> {
        if self.depth >= MAX_NESTING {
            return Err(format!("bad substitution: substitutions nested deeper than {MAX_NESTING} levels"));
        }
        self.depth += 1;
        let word = self.until(Some('}'));
        self.depth -= 1;
        word
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
    fn deeply_nested_substitutions_are_refused_not_a_stack_overflow() {
        // Each level is a few bytes of Kubefile; unbounded, a small file
        // would recurse until the host's stack overflows.
        let depth = 200_000;
        let word = format!("{}x{}", "${A:-".repeat(depth), "}".repeat(depth));
        assert!(ex(&word).unwrap_err().contains("nested deeper than"));
        let quoted = format!("{}x{}", "\"${A:-".repeat(depth), "}\"".repeat(depth));
        assert!(ex(&quoted).unwrap_err().contains("nested deeper than"));
        let ok = format!("{}x{}", "${A:-".repeat(MAX_NESTING), "}".repeat(MAX_NESTING));
        assert_eq!(ex(&ok).unwrap(), "x");
    }

    #[test]
    fn expansions_longer_than_the_cap_are_refused() {
        let big = "v".repeat(64 << 10);
        let lookup = |_: &str| Some(big.clone());
        assert!(expand(&"$V".repeat(16), '\\', &lookup).unwrap().len() == 1 << 20);
        let err = expand(&"$V".repeat(17), '\\', &lookup).unwrap_err();
        assert!(err.contains("longer than 1 MiB"), "{err}");
        assert!(expand(&format!("\"{}\"", "${V}".repeat(17)), '\\', &lookup).is_err());
        assert!(expand(&format!("${{NOPE:-{}}}", "$V".repeat(17)), '\\', &lookup).is_err());
    }

    #[test]
    fn backtick_escape_leaves_backslash_alone() {
        let lookup = |_: &str| None;
        assert_eq!(expand("c:\\dir\\`$x", '`', &lookup).unwrap(), "c:\\dir\\$x");
    }
}
