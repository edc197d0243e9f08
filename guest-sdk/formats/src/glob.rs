//! Glob patterns in the dialects sealbox meets, on one matcher:
//!
//! - [`Syntax::Go`]: Go's `path.Match` (Kubefile `COPY`/`ADD` sources, as
//!   buildah expands them): `*` any run of non-`/` characters, `?` one
//!   non-`/` character, `[...]`/`[^...]` classes with ranges, `\` escapes; a
//!   malformed pattern is an error even when the text would not match (Go ≥ 1.16).
//! - [`Syntax::Docker`]: moby's `patternmatcher` (`.dockerignore`,
//!   `.containerignore`): Go's syntax plus `**` across directories (`**/` is
//!   nothing or any directories), and a trailing `\` stands for itself.
//! - [`Syntax::Helm`]: Helm's `Files.Glob` (gobwas/glob with `/` as the
//!   separator): `*` and `?` stay within a segment, `**` matches anything.
//! - [`Syntax::Wildcard`]: Kyverno's `wildcard.Match` (go-wildcard): `*` any
//!   run of characters including `/`, `?` exactly one, everything else literal.
//!
//! Matching is dynamic programming over (pattern, text), so no pattern can
//! take exponential time, and it is bit-parallel (64 text positions a word
//! operation), because a hostile build context chooses both the patterns
//! (`.dockerignore`) and the paths they are matched against.

use std::fmt;

/// A pattern's dialect; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Go,
    Docker,
    Helm,
    Wildcard,
}

/// A malformed pattern (Go's `path.ErrBadPattern`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern {
    pub pattern: String,
    pub cause: &'static str,
}

impl fmt::Display for BadPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "syntax error in pattern {:?}: {}", self.pattern, self.cause)
    }
}

impl std::error::Error for BadPattern {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// One character; `/` too when `slash`.
    One {
        slash: bool,
    },
    /// Any run of characters; `/` too when `slash`.
    Run {
        slash: bool,
    },
    /// One character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// Docker's `**/` before more pattern: nothing, or anything ending in `/`.
    Dirs,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    /// The fewest characters a match takes (one per character token).
    min_chars: usize,
}

impl Pattern {
    /// Compiles `pattern` in `syntax`, refusing malformed classes and escapes.
    pub fn new(pattern: &str, syntax: Syntax) -> Result<Pattern, BadPattern> {
        let bad = |cause| BadPattern { pattern: pattern.to_string(), cause };
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            if syntax == Syntax::Wildcard {
                tokens.push(match c {
                    '*' => Token::Run { slash: true },
                    '?' => Token::One { slash: true },
                    c => Token::Char(c),
                });
                continue;
            }
            match c {
                '*' if chars.get(i) == Some(&'*') && syntax != Syntax::Go => {
                    i += 1;
                    if syntax == Syntax::Docker && chars.get(i) == Some(&'/') && i + 1 < chars.len() {
                        i += 1;
                        tokens.push(Token::Dirs);
                    } else {
                        tokens.push(Token::Run { slash: true });
                    }
                }
                '*' => tokens.push(Token::Run { slash: false }),
                '?' => tokens.push(Token::One { slash: false }),
                '\\' if syntax != Syntax::Helm => match chars.get(i) {
                    Some(&escaped) => {
                        i += 1;
                        tokens.push(Token::Char(escaped));
                    }
                    None if syntax == Syntax::Docker => tokens.push(Token::Char('\\')),
                    None => return Err(bad("trailing \\")),
                },
                '[' => {
                    let negated =
                        matches!(chars.get(i), Some('^')) || (syntax == Syntax::Helm && chars.get(i) == Some(&'!'));
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    loop {
                        let Some(&c) = chars.get(i) else { return Err(bad("unterminated [")) };
                        if c == ']' && !ranges.is_empty() {
                            i += 1;
                            break;
                        }
                        // moby compiles classes to a regexp, where a `-` first or last is literal.
                        let literal_dash = syntax == Syntax::Docker && c == '-';
                        let (lo, width) = if literal_dash {
                            ('-', 1)
                        } else {
                            class_char(&chars[i..]).ok_or_else(|| bad("bad character class"))?
                        };
                        i += width;
                        let mut hi = lo;
                        let dash_is_last = syntax == Syntax::Docker && chars.get(i + 1) == Some(&']');
                        if chars.get(i) == Some(&'-') && !dash_is_last {
                            let (h, w) = class_char(&chars[i + 1..]).ok_or_else(|| bad("bad range"))?;
                            hi = h;
                            i += 1 + w;
                        }
                        ranges.push((lo, hi));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Char(c)),
            }
        }
        Ok(Pattern::from_tokens(tokens))
    }

    /// The compiled pattern, with each run of adjacent `*`/`**` (and of
    /// adjacent `**/`) merged into one: they match the same texts, and a
    /// hostile pattern of a million stars then costs one token.
    fn from_tokens(parsed: Vec<Token>) -> Pattern {
        let mut tokens: Vec<Token> = Vec::with_capacity(parsed.len());
        for token in parsed {
            match (tokens.last_mut(), &token) {
                (Some(Token::Run { slash: a }), Token::Run { slash: b }) => *a |= *b,
                (Some(Token::Dirs), Token::Dirs) => {}
                _ => tokens.push(token),
            }
        }
        let min_chars =
            tokens.iter().filter(|t| matches!(t, Token::Char(_) | Token::One { .. } | Token::Class { .. })).count();
        Pattern { tokens, min_chars }
    }

    /// Whether the pattern matches all of `text`.
    pub fn matches(&self, text: &str) -> bool {
        let s: Vec<char> = text.chars().collect();
        self.matched_prefixes(&s).is_some_and(|ends| ends.contains(s.len()))
    }

    /// Whether the pattern matches all of `path` or one of its parent
    /// directories (`a` or `a/b` of `a/b/c`), as `.dockerignore` patterns
    /// apply. One pass over the path, however deep it is.
    pub fn matches_path_or_parent(&self, path: &str) -> bool {
        let s: Vec<char> = path.chars().collect();
        let Some(ends) = self.matched_prefixes(&s) else { return false };
        ends.contains(s.len()) || s.iter().enumerate().any(|(k, &c)| c == '/' && ends.contains(k))
    }

    /// The lengths `j` for which the pattern matches `s[..j]`; `None` when
    /// no prefix of `s` can match. Dynamic programming over the tokens, so
    /// the work is tokens × characters, never exponential, and bit-parallel:
    /// every token moves 64 positions a step, except that a character or
    /// class token tests each character it may consume.
    fn matched_prefixes(&self, s: &[char]) -> Option<Positions> {
        if s.len() < self.min_chars {
            return None;
        }
        let text = Text::new(s);
        // prev: the lengths the tokens so far match.
        let mut prev = Positions::empty(s.len());
        prev.insert(0);
        let mut cur = Positions::empty(s.len());
        for token in &self.tokens {
            match token {
                Token::Char(c) => text.consume_one(&prev, &mut cur, |x| x == *c),
                Token::One { slash: true } => text.consume_one(&prev, &mut cur, |_| true),
                Token::One { slash: false } => text.consume_one(&prev, &mut cur, |x| x != '/'),
                Token::Class { negated, ranges } => {
                    text.consume_one(&prev, &mut cur, |x| ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi) != *negated)
                }
                Token::Run { slash: true } => text.all_from_first(&prev, &mut cur),
                Token::Run { slash: false } => text.run_within_names(&prev, &mut cur),
                Token::Dirs => text.directories(&prev, &mut cur),
            }
            std::mem::swap(&mut cur, &mut prev);
            if prev.is_empty() {
                return None;
            }
        }
        Some(prev)
    }
}

/// A set of prefix lengths `0..=n` of a text, 64 to a word.
#[derive(Debug, Clone)]
struct Positions {
    words: Vec<u64>,
}

impl Positions {
    fn empty(n: usize) -> Positions {
        Positions { words: vec![0; n / 64 + 1] }
    }

    fn insert(&mut self, j: usize) {
        self.words[j / 64] |= 1 << (j % 64);
    }

    fn contains(&self, j: usize) -> bool {
        self.words.get(j / 64).is_some_and(|w| w & (1 << (j % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    fn first(&self) -> Option<usize> {
        let (i, w) = self.words.iter().enumerate().find(|(_, w)| **w != 0)?;
        Some(i * 64 + w.trailing_zeros() as usize)
    }
}

/// The text being matched, with the position sets the tokens share.
struct Text {
    /// `last_chars[j]`: the character that ends length `j` (a placeholder
    /// for 0 and past the end), whole words of them.
    last_chars: Vec<char>,
    /// Every length `0..=n`.
    all: Positions,
    /// The lengths whose last character is `/`.
    after_slash: Positions,
}

impl Text {
    fn new(s: &[char]) -> Text {
        let mut all = Positions::empty(s.len());
        let mut after_slash = Positions::empty(s.len());
        for j in 0..=s.len() {
            all.insert(j);
        }
        for (i, &c) in s.iter().enumerate() {
            if c == '/' {
                after_slash.insert(i + 1);
            }
        }
        let mut last_chars = Vec::with_capacity(all.words.len() * 64);
        last_chars.push('\0');
        last_chars.extend_from_slice(s);
        last_chars.resize(all.words.len() * 64, '\0');
        Text { last_chars, all, after_slash }
    }

    /// `cur`: `j + 1` for each `j` in `prev` whose next character passes `accept`.
    fn consume_one(&self, prev: &Positions, cur: &mut Positions, accept: impl Fn(char) -> bool) {
        let mut carry = 0;
        for (w, (out, &p)) in cur.words.iter_mut().zip(&prev.words).enumerate() {
            let mut shifted = ((p << 1) | carry) & self.all.words[w];
            carry = p >> 63;
            *out = if shifted.count_ones() <= 4 {
                // Few candidates: test just their characters.
                let mut kept = 0;
                while shifted != 0 {
                    let bit = shifted.trailing_zeros() as usize;
                    shifted &= shifted - 1;
                    if accept(self.last_chars[w * 64 + bit]) {
                        kept |= 1 << bit;
                    }
                }
                kept
            } else {
                // Many: test the word's 64 characters in one branch-free pass,
                // which the compiler vectorizes for a character token.
                let chars: &[char; 64] = self.last_chars[w * 64..][..64].try_into().unwrap_or(&['\0'; 64]);
                let mut flags = [0u8; 64];
                for (flag, &x) in flags.iter_mut().zip(chars) {
                    *flag = u8::from(accept(x));
                }
                shifted & pack_flags(&flags)
            };
        }
    }

    /// `cur`: every length from the least in `prev` on (`**`, or any `*` of
    /// a syntax where it crosses `/`).
    fn all_from_first(&self, prev: &Positions, cur: &mut Positions) {
        cur.words.fill(0);
        if let Some(first) = prev.first() {
            for (w, out) in cur.words.iter_mut().enumerate() {
                *out = self.all.words[w] & above(first, w, true);
            }
        }
    }

    /// `cur`: each length in `prev`, extended by any run of characters other
    /// than `/` (`*` within one path component). Bit-parallel: in the
    /// blocks of `prev ∪ not-slash`, adding `prev` carries from each
    /// block's first member of `prev` to the block's end, and the bits it
    /// flips are the run.
    fn run_within_names(&self, prev: &Positions, cur: &mut Positions) {
        let mut carry = false;
        for (w, out) in cur.words.iter_mut().enumerate() {
            let mut not_slash = self.all.words[w] & !self.after_slash.words[w];
            if w == 0 {
                // Length 0 has no character to extend by; it can only be a seed.
                not_slash &= !1;
            }
            let seeds = prev.words[w];
            let block = not_slash | seeds;
            let (sum, c1) = block.overflowing_add(seeds);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            carry = c1 || c2;
            *out = ((sum ^ block) & block) | seeds;
        }
    }

    /// `cur`: `prev`, and every length after its least one that ends in `/`
    /// (`**/`: nothing, or any directories).
    fn directories(&self, prev: &Positions, cur: &mut Positions) {
        cur.words.copy_from_slice(&prev.words);
        if let Some(first) = prev.first() {
            for (w, out) in cur.words.iter_mut().enumerate() {
                *out |= self.after_slash.words[w] & above(first, w, false);
            }
        }
    }
}

/// 64 flags of 0 or 1 as the bits of a word, flag `i` as bit `i`: eight
/// at a time, a multiply gathers each byte's low bit into the top byte.
fn pack_flags(flags: &[u8; 64]) -> u64 {
    let mut word = 0;
    for (i, eight) in flags.chunks_exact(8).enumerate() {
        let bytes = u64::from_le_bytes(eight.try_into().unwrap_or_default());
        word |= (bytes.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (i * 8);
    }
    word
}

/// The bits of word `w` for lengths above `first` (and `first` itself when `inclusive`).
fn above(first: usize, w: usize, inclusive: bool) -> u64 {
    let from = if inclusive { first } else { first + 1 };
    let lo = w * 64;
    if from <= lo {
        u64::MAX
    } else if from >= lo + 64 {
        0
    } else {
        u64::MAX << (from - lo)
    }
}

/// A class member, `\`-escaped or not; `None` for a `-` or `]` where a member must be.
fn class_char(p: &[char]) -> Option<(char, usize)> {
    match *p.first()? {
        '\\' => Some((*p.get(1)?, 2)),
        '-' | ']' => None,
        c => Some((c, 1)),
    }
}

/// Go's `path.Match(pattern, name)`.
pub fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    Ok(Pattern::new(pattern, Syntax::Go)?.matches(name))
}

/// Whether `s` has a character Go's `path.Match` treats specially, so that
/// a COPY source holding one is expanded rather than taken literally.
pub fn has_go_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Kyverno's `wildcard.Match(pattern, text)`.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    // The engine matches names and labels by the thousand; most patterns have no wildcard.
    if !has_wildcard(pattern) {
        return pattern == text;
    }
    if pattern == "*" {
        return true;
    }
    // Wildcard syntax has no malformed patterns.
    Pattern::new(pattern, Syntax::Wildcard).is_ok_and(|p| p.matches(text))
}

/// Whether `s` holds one of Kyverno's wildcard characters.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    use Syntax::{Docker, Go, Helm, Wildcard};

    /// (syntax, pattern, text, expected: Some(matches) or None for a bad pattern, source)
    const TABLE: &[(Syntax, &str, &str, Option<bool>, &str)] = &[
        (Go, "*.yaml", "a.yaml", Some(true), "Go path.Match: * within a name"),
        (Go, "*", "a/b", Some(false), "Go path.Match: * does not cross /"),
        (Go, "a?c", "abc", Some(true), "Go path.Match: ? is one character"),
        (Go, "a?c", "a/c", Some(false), "Go path.Match: ? is not /"),
        (Go, "[a-c]x", "bx", Some(true), "Go path.Match: ranges"),
        (Go, "[^a-c]x", "dx", Some(true), "Go path.Match: negated class"),
        (Go, "[^a-c]x", "ax", Some(false), "Go path.Match: negated class"),
        (Go, "\\*", "*", Some(true), "Go path.Match: \\ escapes"),
        (Go, "\\*", "x", Some(false), "Go path.Match: an escaped * is literal"),
        (Go, "[", "a", None, "Go path.Match: ErrBadPattern for an unterminated class"),
        (Go, "a[", "b", None, "Go ≥ 1.16: a bad pattern is an error even when the text differs"),
        (Go, "[]a]", "a", None, "Go path.Match: ] cannot start a class"),
        (Go, "a\\", "a", None, "Go path.Match: trailing \\ is ErrBadPattern"),
        (Go, "**", "a/b", Some(false), "Go path.Match: ** is two stars, still within a name"),
        (Go, "{a}", "{a}", Some(true), "Go path.Match: braces are literal (globset's would not be)"),
        (Go, "[]", "", None, "Go path.Match: an empty class is ErrBadPattern"),
        (Go, "[!a]", "b", Some(false), "Go path.Match: ! is not negation (a class of ! and a)"),
        (Docker, "**/*.go", "a/b/c.go", Some(true), "moby patternmatcher: **/ any directories"),
        (Docker, "**/*.go", "c.go", Some(true), "moby patternmatcher: **/ may be nothing"),
        (Docker, "docs/**", "docs/a/b", Some(true), "moby patternmatcher: trailing ** is anything"),
        (Docker, "*.md", "a/b.md", Some(false), "moby patternmatcher: * within one component"),
        (Docker, "a\\", "a\\", Some(true), "moby patternmatcher: a trailing \\ stands for itself"),
        (Docker, "[a-]x", "-x", Some(true), "moby patternmatcher: a class is a regexp class, a last - is literal"),
        (Go, "[a-]x", "-x", None, "Go path.Match: a range needs its end"),
        (Helm, "files/*.conf", "files/a.conf", Some(true), "Helm Files.Glob (gobwas/glob, / separator)"),
        (Helm, "files/*.conf", "files/sub/a.conf", Some(false), "gobwas/glob: * stops at /"),
        (Helm, "files/**.conf", "files/sub/a.conf", Some(true), "gobwas/glob: ** crosses /"),
        (Helm, "files/?.txt", "files/ab.txt", Some(false), "gobwas/glob: ? is one character"),
        (Wildcard, "*", "", Some(true), "go-wildcard: * matches nothing"),
        (Wildcard, "", "a", Some(false), "go-wildcard: empty pattern matches only empty"),
        (Wildcard, "*:latest", "reg.io/a/b:latest", Some(true), "go-wildcard: * crosses /"),
        (Wildcard, "?*", "", Some(false), "go-wildcard: ? needs a character"),
        (Wildcard, "a*b*c", "aXbYbc", Some(true), "go-wildcard: backtracking"),
        (Wildcard, "a*b*c", "aXbYbd", Some(false), "go-wildcard"),
        (Wildcard, "[a]", "a", Some(false), "go-wildcard: [ is literal"),
        (Wildcard, "10.100.11.*", "10.100.11.54", Some(true), "Kyverno policy library: IP wildcards"),
    ];

    #[test]
    fn patterns_match_as_their_go_originals() {
        for &(syntax, pattern, text, want, source) in TABLE {
            let got = Pattern::new(pattern, syntax).map(|p| p.matches(text)).ok();
            assert_eq!(got, want, "{syntax:?} {pattern:?} on {text:?} ({source})");
        }
    }

    #[test]
    fn a_path_or_parent_matches_as_each_prefix_would() {
        let patterns = ["a", "a/b", "*", "*/b", "**", "**/b", "a/**", "a/**/c", "?/b", "[ab]", "**/**/c", "a**", "*b*"];
        let paths = ["a", "b", "a/b", "a/b/c", "b/a/b", "ab/b/c", "a/c", "x/y/z/c", "c"];
        for pattern in patterns {
            let compiled = Pattern::new(pattern, Docker).expect("valid");
            for path in paths {
                let parts: Vec<&str> = path.split('/').collect();
                let expected = (1..=parts.len()).any(|depth| compiled.matches(&parts[..depth].join("/")));
                assert_eq!(compiled.matches_path_or_parent(path), expected, "{pattern:?} on {path:?}");
            }
        }
    }

    #[test]
    fn adjacent_stars_merge_without_changing_matches() {
        for (pattern, text, expected) in
            [("a***b", "a/x/b", true), ("a**/**/b", "a/b", true), ("a**/**/b", "a/x/y/b", true), ("**/**/", "x/", true)]
        {
            assert_eq!(
                Pattern::new(pattern, Docker).expect("valid").matches(text),
                expected,
                "{pattern:?} on {text:?}"
            );
        }
        let stars = "*".repeat(100_000) + "x";
        assert_eq!(Pattern::new(&stars, Go).expect("valid").tokens.len(), 2);
    }

    /// The matcher before it went bit-parallel, one position at a time: the
    /// oracle the bit-parallel one is checked against.
    fn reference_prefixes(pattern: &Pattern, s: &[char]) -> Vec<bool> {
        let n = s.len();
        let mut prev = vec![false; n + 1];
        prev[0] = true;
        let mut cur = vec![false; n + 1];
        for token in &pattern.tokens {
            let mut earlier = false;
            for j in 0..=n {
                let last = j.checked_sub(1).map(|i| s[i]);
                cur[j] = match token {
                    Token::Char(c) => last == Some(*c) && prev[j - 1],
                    Token::One { slash } => last.is_some_and(|c| *slash || c != '/') && prev[j - 1],
                    Token::Class { negated, ranges } => {
                        last.is_some_and(|c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                            && prev[j - 1]
                    }
                    Token::Run { slash } => prev[j] || (last.is_some_and(|c| *slash || c != '/') && cur[j - 1]),
                    Token::Dirs => prev[j] || (last == Some('/') && earlier),
                };
                earlier |= prev[j];
            }
            std::mem::swap(&mut cur, &mut prev);
        }
        prev
    }

    #[test]
    fn bit_parallel_matching_agrees_with_one_position_at_a_time() {
        // Texts long enough to cross 64-bit words several times, over an
        // alphabet small enough that patterns often match.
        let mut seed = 0x5eed_u64;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        let pattern_atoms = ["a", "b", "/", "*", "**", "**/", "?", "[ab]", "[^a]", "a/", "*/"];
        let text_chars = ['a', 'b', '/', 'c'];
        let mut matched = 0;
        for round in 0..4000 {
            let pattern: String = (0..1 + next(8)).map(|_| pattern_atoms[next(pattern_atoms.len())]).collect();
            let text: Vec<char> =
                (0..next(if round % 4 == 0 { 300 } else { 70 })).map(|_| text_chars[next(4)]).collect();
            for syntax in [Docker, Helm, Go, Wildcard] {
                let Ok(compiled) = Pattern::new(&pattern, syntax) else { continue };
                let want = reference_prefixes(&compiled, &text);
                let got = compiled.matched_prefixes(&text);
                for (j, &expected) in want.iter().enumerate() {
                    let actual = got.as_ref().is_some_and(|g| g.contains(j));
                    assert_eq!(actual, expected, "{syntax:?} {pattern:?} on {:?}[..{j}]", String::from_iter(&text));
                }
                matched += usize::from(want[text.len()]);
            }
        }
        assert!(matched > 500, "the random cases rarely match ({matched}): the comparison proves little");
    }

    #[test]
    fn long_patterns_stay_fast() {
        let pattern = "*a".repeat(200);
        let text = "a".repeat(199) + "b";
        for syntax in [Go, Docker, Helm, Wildcard] {
            assert!(!Pattern::new(&pattern, syntax).expect("valid").matches(&text));
        }
    }
}
