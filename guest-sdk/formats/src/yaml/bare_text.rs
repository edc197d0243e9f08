//! Streams with no YAML syntax in them: only ASCII letters, digits, spaces
//! and line feeds. YAML reads such a text as at most one document holding
//! one plain scalar, its lines folded (one line break becomes a space, `n`
//! empty lines become `n` line breaks, blanks around lines dropped), so it
//! is loaded here without the event parser.
//!
//! Why: libyaml's scanner takes every character through its buffer one at a
//! time, about 30 MB/s compiled to wasm. A large text file under
//! `manifests/` (a README, a license, generated prose) cost the image search
//! a core-second per 30 MB for a document that can name no image. Without
//! an indicator character (`:`, `-`, `#`, quotes, brackets…), a tab, a
//! carriage return or a control character, none of the scanner's other
//! paths can be taken, which the tests check against the event parser.

use super::events::Mark;
use super::{Document, Node, NodeValue, line_col, resolve_plain};

/// Whether `bytes` are only those a bare text may hold (ASCII letters,
/// digits, spaces and line feeds). Such a stream is at most one plain
/// scalar, with no keys, items, anchors or tags: a reader after fields may
/// skip it unparsed. Each byte is judged alone, so a stream read in pieces
/// is bare when every piece is.
pub fn is_bare(bytes: &[u8]) -> bool {
    // Whole chunks without an early exit, so the check vectorises; a
    // structured file still stops at its first chunk.
    bytes.chunks(256).all(|chunk| {
        chunk.iter().fold(true, |bare, &b| bare & (b.is_ascii_alphanumeric() | (b == b' ') | (b == b'\n')))
    })
}

/// The documents of `text` when it is a bare text (`None` otherwise): none
/// for blank text or a scalar that resolves to null (dropped as the loader
/// drops null documents), else one.
pub(super) fn documents(text: &str) -> Option<Option<Document>> {
    if !is_bare(text.as_bytes()) {
        return None;
    }
    let mut folded = String::with_capacity(text.len());
    let mut start = None;
    // Line breaks since the last line with content.
    let mut breaks = 0usize;
    for (index, line) in text.split('\n').enumerate() {
        if start.is_some() && index > 0 {
            breaks += 1;
        }
        let content = line.trim_matches(' ');
        if content.is_empty() {
            continue;
        }
        match start {
            None => {
                let column = line.len() - line.trim_start_matches(' ').len();
                start = Some((index, column));
            }
            Some(_) if breaks == 1 => folded.push(' '),
            Some(_) => folded.extend(std::iter::repeat_n('\n', breaks - 1)),
        }
        folded.push_str(content);
        breaks = 0;
    }
    let Some((line, column)) = start else { return Some(None) };
    let value = resolve_plain(&folded);
    if value.is_null() {
        return Some(None);
    }
    let written = (!value.is_string()).then_some(folded);
    let (line, column) = line_col(Mark { line: line as u64, column: column as u64, index: 0 });
    let root = Node { line, column, value: NodeValue::Scalar(value), written };
    Some(Some(Document { index: 0, root }))
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::super::{Limits, Loader};
    use super::*;

    /// What the event parser makes of `text`.
    fn parsed(text: &str) -> Result<Vec<Document>, super::super::Error> {
        let mut docs = Vec::new();
        Loader::new(text, Limits::default())?.stream(false, &mut |doc| {
            docs.push(doc);
            ControlFlow::Continue(())
        })?;
        Ok(docs)
    }

    fn assert_same(text: &str) {
        let bare = documents(text).unwrap_or_else(|| panic!("{text:?} is bare text"));
        let parsed = parsed(text).unwrap_or_else(|e| panic!("{text:?}: the event parser refused it: {e}"));
        assert_eq!(bare.into_iter().collect::<Vec<_>>(), parsed, "{text:?}");
    }

    #[test]
    fn folds_lines_as_the_event_parser_does() {
        for text in [
            "",
            "\n\n  \n",
            "word",
            "  two  words  \n",
            "a\nb",
            "a\n\nb",
            "a\n\n\n   b  \n  c\n\n",
            "\n\n   indented start\nthen\n\n\nmore",
            "yes",
            "0755",
            "1\n2",
            "null",
            "Null\n",
            "12 monkeys",
        ] {
            assert_same(text);
        }
        // A line longer than libyaml's 1024-character simple key window.
        assert_same(&format!("{}\nx\n", "word ".repeat(400)));
    }

    #[test]
    fn random_bare_texts_load_as_the_event_parser_loads_them() {
        // Few letters so that words like `no`, `on`, `0x1` and `1e0` come
        // up; spaces and line feeds to exercise folding.
        const ALPHABET: &[u8] = b"noyes01x9E  \n\n\n";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let text: String = (0..len).map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize] as char).collect();
            assert_same(&text);
        }
    }

    #[test]
    fn any_other_byte_goes_to_the_event_parser() {
        for text in ["a: b", "- a", "# c", "a\tb", "a\r\nb", "...", "é", "a,b", "\u{feff}a", "a\u{85}b", "%YAML"] {
            assert_eq!(documents(text), None, "{text:?}");
        }
    }
}
