//! Text that came from untrusted input, made safe to show and to cut.
//!
//! Module names, file names from the build context, error texts quoting a
//! module's answer: any of it may hold escape sequences that drive the
//! operator's terminal (clear the screen, set the title, hide a line) or
//! bidirectional-override characters that make one text read as another.
//! Everything the host prints that could hold such text goes through
//! [`escape_for_terminal`] (or [`escape_line`] for one-line values) at the
//! point it is printed. Machine output (`--format json`, SARIF) is data,
//! not terminal text: serde escapes control characters there.
//!
//! Text is cut only by [`truncate_at_char_boundary`] or [`shorten`], which
//! never split a UTF-8 character (`String::truncate` and `&s[..n]` panic
//! when they would).

use std::fmt::Write as _;

/// Whether `c` changes the order in which text around it is displayed:
/// the Unicode bidirectional embeddings, overrides and isolates, and the
/// implicit marks (U+061C, U+200E, U+200F). "Trojan source" text uses
/// them to make a line read differently from what it holds.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` must not reach a terminal as is: control characters (C0,
/// DEL, C1: escape sequences start with ESC or the C1 CSI/OSC bytes),
/// bidi controls, and the Unicode line and paragraph separators, which
/// some terminals and log viewers break lines at.
fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || c == '\u{2028}' || c == '\u{2029}'
}

fn push_escaped(out: &mut String, c: char) {
    let n = c as u32;
    // Writing to a String cannot fail.
    let _ = if n <= 0xff { write!(out, "\\x{n:02x}") } else { write!(out, "\\u{{{n:x}}}") };
}

/// Makes bytes safe to print on a terminal or in a CI log: control
/// characters (escape sequences among them) and bidi controls become
/// visible `\x1b` / `\u{202e}` escapes, invalid UTF-8 becomes U+FFFD.
/// Newlines and tabs are kept, so multi-line messages stay readable.
pub fn escape_for_terminal(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if is_unsafe(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// A writer that passes text on as [`escape_for_terminal`] makes it, a
/// line at a time, so untrusted output can be printed while it is still
/// coming. It holds at most one line, and cuts a line longer than
/// [`TerminalSafe::MAX_LINE`] at a character boundary.
pub struct TerminalSafe<W: std::io::Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: std::io::Write> TerminalSafe<W> {
    /// The most bytes held before they are passed on without a newline.
    pub const MAX_LINE: usize = 64 << 10;

    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        TerminalSafe { inner, line: Vec::new() }
    }

    /// Passes on what is held (an unfinished last line) and returns the
    /// writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        let rest = std::mem::take(&mut self.line);
        self.inner.write_all(escape_for_terminal(&rest).as_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn pass_on(&mut self, upto: usize) -> std::io::Result<()> {
        let text = escape_for_terminal(&self.line[..upto]);
        self.line.drain(..upto);
        self.inner.write_all(text.as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        if let Some(last) = self.line.iter().rposition(|b| *b == b'\n') {
            self.pass_on(last + 1)?;
        }
        if self.line.len() > Self::MAX_LINE {
            // Cut before an unfinished character, never inside one.
            let valid = match std::str::from_utf8(&self.line) {
                Ok(_) => self.line.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => self.line.len(),
            };
            self.pass_on(valid)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Like [`escape_for_terminal`] for a value that must stay on one line (a
/// module name, a file name): newlines and tabs are escaped too, so the
/// value cannot start a line of its own that looks like the host's.
pub fn escape_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) { push_escaped(&mut out, c) } else { out.push(c) }
    }
    out
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on
/// a character boundary. Never panics.
pub fn truncate_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    // A UTF-8 character is at most 4 bytes, so a boundary is at most 3
    // bytes back; index 0 always is one.
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut to at most `max_bytes` bytes on a character boundary, with
/// `…` appended when something was cut (the result may then be up to 3
/// bytes longer than `max_bytes`).
pub fn shorten(text: &str, max_bytes: usize) -> String {
    let kept = truncate_at_char_boundary(text, max_bytes);
    if kept.len() == text.len() { text.to_string() } else { format!("{kept}…") }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_stream_is_escaped_as_the_whole_text_would_be() {
        use std::io::Write;
        let text = "a\x1b[31m red\nsplit é here \u{202e} and more\nlast".as_bytes();
        // Every split point, one inside the two-byte é among them.
        for cut in 0..text.len() {
            let mut w = TerminalSafe::new(Vec::new());
            w.write_all(&text[..cut]).expect("write");
            w.write_all(&text[cut..]).expect("write");
            let out = w.finish().expect("finish");
            assert_eq!(String::from_utf8(out).expect("utf8"), escape_for_terminal(text), "cut at {cut}");
        }
        // A line that never ends is passed on, not held.
        let mut w = TerminalSafe::new(Vec::new());
        w.write_all(&vec![b'x'; TerminalSafe::<Vec<u8>>::MAX_LINE + 10]).expect("write");
        assert!(w.line.is_empty());
    }

    #[test]
    fn escapes_control_characters_and_keeps_lines() {
        assert_eq!(escape_for_terminal(b"ok\x1b[31mred\x07\n"), "ok\\x1b[31mred\\x07\n");
        assert_eq!(escape_for_terminal(b"a\tb\r\n"), "a\tb\\x0d\n");
        assert_eq!(escape_for_terminal(b"nul\0del\x7f"), "nul\\x00del\\x7f");
        assert_eq!(escape_for_terminal(b"\xff"), "\u{fffd}");
    }

    #[test]
    fn escapes_csi_and_osc_in_both_encodings() {
        // 7-bit: ESC [ and ESC ] ... BEL / ESC \.
        assert_eq!(escape_for_terminal(b"\x1b[2J\x1b]0;pwned\x07"), "\\x1b[2J\\x1b]0;pwned\\x07");
        assert_eq!(escape_for_terminal(b"\x1b]8;;http://x\x1b\\link"), "\\x1b]8;;http://x\\x1b\\link");
        // 8-bit C1 controls, as UTF-8: CSI U+009B and OSC U+009D.
        assert_eq!(escape_for_terminal("\u{9b}2J\u{9d}0;t\u{9c}".as_bytes()), "\\x9b2J\\x9d0;t\\x9c");
    }

    #[test]
    fn escapes_bidi_controls_and_line_separators() {
        let trojan = "access\u{202e}txt.exe\u{202c} \u{2066}x\u{2069}\u{200f}\u{061c}";
        assert_eq!(
            escape_for_terminal(trojan.as_bytes()),
            "access\\u{202e}txt.exe\\u{202c} \\u{2066}x\\u{2069}\\u{200f}\\u{61c}"
        );
        assert_eq!(escape_line("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
        // Ordinary non-ASCII text is left alone.
        assert_eq!(escape_for_terminal("héllo wörld 日本 🦀 שלום".as_bytes()), "héllo wörld 日本 🦀 שלום");
    }

    #[test]
    fn escape_line_keeps_a_value_on_one_line() {
        assert_eq!(escape_line("evil\nerror: fake\tx\x1b[0m"), "evil\\x0aerror: fake\\x09x\\x1b[0m");
        assert_eq!(escape_line("plain-name_1.0"), "plain-name_1.0");
    }

    #[test]
    fn truncation_falls_on_a_character_boundary() {
        let s = "aé日🦀"; // 1 + 2 + 3 + 4 bytes
        let cuts: Vec<&str> = (0..=11).map(|n| truncate_at_char_boundary(s, n)).collect();
        assert_eq!(cuts, ["", "a", "a", "aé", "aé", "aé", "aé日", "aé日", "aé日", "aé日", "aé日🦀", "aé日🦀"]);
        assert_eq!(truncate_at_char_boundary("", 0), "");
    }

    #[test]
    fn shorten_marks_a_cut() {
        assert_eq!(shorten("日本語", 9), "日本語");
        assert_eq!(shorten("日本語", 8), "日本…");
        assert_eq!(shorten("日本語", 2), "…");
    }

    proptest! {
        #[test]
        fn escaped_text_never_holds_a_control(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let shown = escape_for_terminal(&bytes);
            prop_assert!(!shown.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'));
            let line = escape_line(&String::from_utf8_lossy(&bytes));
            prop_assert!(!line.chars().any(is_unsafe));
        }

        #[test]
        fn escaping_leaves_safe_text_alone_and_marks_the_rest(text in "(?s).{0,64}") {
            let line = escape_line(&text);
            prop_assert!(!line.chars().any(is_unsafe));
            if text.chars().any(is_unsafe) {
                prop_assert!(line.contains('\\'));
            } else {
                prop_assert_eq!(&line, &text);
            }
        }

        #[test]
        fn cutting_any_text_anywhere_keeps_the_longest_prefix(text in "(?s).{0,64}", max in 0usize..300) {
            let cut = truncate_at_char_boundary(&text, max);
            prop_assert!(cut.len() <= max && text.starts_with(cut));
            // Nothing more fits: the next character would pass `max`.
            if let Some(next) = text[cut.len()..].chars().next() {
                prop_assert!(cut.len() + next.len_utf8() > max);
            }
            let short = shorten(&text, max);
            prop_assert!(short.len() <= max + '…'.len_utf8());
        }
    }
}
