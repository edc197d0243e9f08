//! One table of YAML cases. Each names where its expectation comes from:
//! go-yaml v2's resolver (`resolve.go`) as `sigs.k8s.io/yaml` uses it, the
//! API server's strict decoding, or what `kubectl apply` accepts.

use serde_json::{Value, json};

use super::*;

/// What a case's text must load to.
enum Expect {
    /// The documents as JSON.
    Json(Value),
    /// An error whose message contains this, on this line.
    Error(&'static str, u32),
}

/// (case, source of the expectation, text, expectation)
fn table() -> Vec<(&'static str, &'static str, String, Expect)> {
    use Expect::{Error as Err, Json};
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
    }
    vec![
        (
            "YAML 1.1 booleans",
            "go-yaml v2 resolve.go: y/yes/on/true and n/no/off/false in three casings",
            "a: yes\nb: On\nc: n\nd: OFF\ne: True\nf: 'yes'\ng: yess\n".into(),
            Json(json!([{"a": true, "b": true, "c": false, "d": false, "e": true, "f": "yes", "g": "yess"}])),
        ),
        (
            "YAML 1.1 integers",
            "go-yaml v2: strconv.ParseInt(s, 0, 64) after dropping `_`: leading 0 is octal, 0x/0o/0b prefixes",
            "mode: 0755\nhex: 0x1F\nbin: 0b101\no: 0o17\nu: 1_000\nneg: -12\nplus: +3\nbig: 18446744073709551615\nnine: 09\n".into(),
            Json(json!([{"mode": 493, "hex": 31, "bin": 5, "o": 15, "u": 1000, "neg": -12, "plus": 3,
                         "big": 18446744073709551615u64, "nine": 9}])),
        ),
        (
            "floats after the JSON round trip",
            "sigs.k8s.io/yaml: go-yaml float64 marshalled by encoding/json (1.0 -> 1, 1e3 -> 1000)",
            "a: 1.0\nb: 2.5\nc: 1e3\nd: .5\ne: 1.20\nf: .inf\ng: 1.2.3\nh: 1e\n".into(),
            Json(json!([{"a": 1, "b": 2.5, "c": 1000, "d": 0.5, "e": 1.2, "f": ".inf", "g": "1.2.3", "h": "1e"}])),
        ),
        (
            "nulls, quoting and tags",
            "go-yaml v2: ~/null/empty are null; quoted scalars and !!str are strings; !!int must fit",
            "a: ~\nb:\nc: \"null\"\nd: !!str 12\ne: !!int \"7\"\nf: \"0755\"\n".into(),
            Json(json!([{"a": null, "b": null, "c": "null", "d": "12", "e": 7, "f": "0755"}])),
        ),
        ("a tag that does not fit", "go-yaml v2: cannot decode !!int `x`", "a: !!int x\n".into(), Err("as !!int", 1)),
        (
            "non-string keys",
            "sigs.k8s.io/yaml: keys become their JSON spelling",
            "1: a\ntrue: b\n1.5: c\n".into(),
            Json(json!([{"1": "a", "true": "b", "1.5": "c"}])),
        ),
        (
            "a collection as a key",
            "go-yaml v2: invalid map key (a map or slice cannot key a Go map)",
            "a: 1\n? [x, y]\n: 2\n".into(),
            Err("cannot be a mapping key", 2),
        ),
        (
            "nested complex keys",
            "found by AFL++ (yaml target, 2026-12-04): each level once escaped the key below it again, doubling it",
            format!("{}x: 1\n", "? ".repeat(40)),
            Err("cannot be a mapping key", 1),
        ),
        (
            "merge keys",
            "YAML 1.1 merge type, as go-yaml applies it: explicit keys win, earlier merged maps win",
            "base: &b {x: 1, z: 2}\nother: &o {x: 9, w: 4}\nd:\n  <<: [*b, *o]\n  z: 3\n".into(),
            Json(json!([{"base": {"x": 1, "z": 2}, "other": {"x": 9, "w": 4}, "d": {"z": 3, "x": 1, "w": 4}}])),
        ),
        (
            "a merge of a scalar",
            "go-yaml v2: map merge requires map or sequence of maps",
            "a: &s 1\nb:\n  <<: *s\n".into(),
            Err("merge key", 3),
        ),
        (
            "duplicate keys",
            "API server strict decoding: `mapping key \"a\" already defined`",
            "a: 1\nb: 2\na: 3\n".into(),
            Err("duplicate key \"a\"", 3),
        ),
        (
            "quoted scalar continued at the key's indentation",
            "go-yaml (libyaml's scanner) and kubectl accept it; real CRD descriptions are written so",
            "spec:\n  description: \"a long\n  text\"\n  other: 'x\n  y'\n".into(),
            Json(json!([{"spec": {"description": "a long text", "other": "x y"}}])),
        ),
        (
            "multi-document streams",
            "kubectl: empty documents and a document of only null are skipped",
            "a: 1\n---\n---\n~\n---\nb: |\n  ---\n  x\n".into(),
            Json(json!([{"a": 1}, {"b": "---\nx\n"}])),
        ),
        (
            "a byte order mark and CRLF line ends",
            "go-yaml (libyaml's reader) skips a leading BOM and reads \\r\\n as a line break",
            "\u{feff}a: 1\r\nb: 2\r\n".into(),
            Json(json!([{"a": 1, "b": 2}])),
        ),
        ("alias bomb", "billion laughs: 10^9 nodes are refused once past the cap (at a5, 10^6), not built", bomb, Err("aliases expanded", 6)),
        ("deep nesting", "stack safety: nesting is capped", "[".repeat(100_000), Err("nesting deeper", 1)),
        ("unknown alias", "go-yaml: unknown anchor referenced", "a: *nope\n".into(), Err("unknown anchor", 1)),
        ("broken flow", "go-yaml: did not find expected ',' or ']'", "a: 1\nb: [1,\n".into(), Err("", 3)),
    ]
}

#[test]
fn yaml_reads_as_kubernetes_does() {
    for (case, source, text, expect) in table() {
        let got = load_json(&text);
        match (expect, got) {
            (Expect::Json(want), Ok(docs)) => assert_eq!(Value::Array(docs), want, "{case} ({source})"),
            (Expect::Error(part, line), Err(e)) => {
                assert!(e.message.contains(part), "{case} ({source}): {e}");
                assert_eq!(e.line, line, "{case} ({source}): {e}");
            }
            (Expect::Json(want), Err(e)) => panic!("{case} ({source}): wanted {want}, got error {e}"),
            (Expect::Error(part, _), Ok(docs)) => panic!("{case} ({source}): wanted error {part:?}, got {docs:?}"),
        }
    }
}

#[test]
fn nodes_keep_lines_and_text_as_written() {
    let docs =
        load("a: 1\n---\n---\n# note\nkind: Pod\nspec:\n  tag: 1.20\n  alias: &v x\n  again: *v\n").expect("yaml");
    assert_eq!(docs.iter().map(|d| (d.index, d.line())).collect::<Vec<_>>(), [(0, 1), (2, 5)]);
    let spec = docs[1].root.get("spec").expect("spec");
    assert_eq!(spec.line, 7);
    let tag = spec.get("tag").expect("tag");
    assert_eq!((tag.line, tag.to_json(), tag.text(), tag.as_str()), (7, json!(1.2), Some("1.20"), None));
    assert_eq!(
        spec.get("again").map(|n| (n.line, n.as_str())),
        Some((9, Some("x"))),
        "an alias points where it is used"
    );
}

#[test]
fn limits_are_configurable() {
    let small = Limits { max_bytes: 8, ..Limits::default() };
    assert!(load_with("a: 1234567890\n", small).expect_err("too big").message.contains("bytes"));
    let shallow = Limits { max_depth: 2, ..Limits::default() };
    assert!(load_with("a: {b: {c: 1}}\n", shallow).is_err());
    assert!(load_with("a: {b: 1}\n", shallow).is_ok());
}

#[test]
fn truncated_and_damaged_input_is_an_error_not_a_panic() {
    // Inputs that made other libyaml ports panic, then every prefix and
    // every one-character deletion of a stream using most of YAML's syntax.
    for text in ["a: |\n  x", "a: >\n  x", "- |\n  a\n  b", "a: \"x\\", "[!!str2, x]", "\"\\", "!<", "%TAG !"] {
        let _ = load(text);
    }
    let sample = "%YAML 1.1\n%TAG !e! tag:e.com,2000:\n---\na: |+\n  x\n\n  y\nb: >-2\n   z\n  w\n\
                  c: \"esc \\x41 \\u263A \\\n  cont\"\nd: 'it''s\n  more'\n? complex\n: value\n\
                  e: &x [1, {f: g}, !!str 2, !e!t h]\nf: *x\ng: !<tag:yaml.org,2002:int> 3\n<<: {m: 1}\n...\n\
                  --- |\n  lit\n--- >\n fold\n- a\n-   - b\n    - c\n? - k\n: - v\nh: \"\\\r\n\"\ni: |\r\n  crlf\r\n";
    let mut loaded = 0;
    for (i, c) in sample.char_indices() {
        let dropped = format!("{}{}", &sample[..i], &sample[i + c.len_utf8()..]);
        loaded += usize::from(load(&sample[..i]).is_ok()) + usize::from(load(&dropped).is_ok());
    }
    assert!(loaded > 0, "some variants are still YAML");
}

#[test]
fn documents_one_at_a_time_are_the_documents_of_the_stream() {
    let text = "a: 1\n---\n---\nb: &x [1, 2]\nc: *x\n---\n~\n---\nd: yes\n";
    let mut seen = vec![];
    for_each_document(text, Limits::default(), &mut |d| {
        seen.push(d);
        std::ops::ControlFlow::Continue(())
    })
    .expect("yaml");
    assert_eq!(seen, load(text).expect("yaml"));
    // The node cap counts per document: a stream of small documents may
    // hold more nodes in all than one document may.
    let many = "a: [1, 2, 3]\n---\n".repeat(10);
    let limits = Limits { max_nodes: 10, ..Limits::default() };
    assert!(load_with(&many, limits).is_err());
    let mut count = 0;
    for_each_document(&many, limits, &mut |_| {
        count += 1;
        std::ops::ControlFlow::Continue(())
    })
    .expect("each document is under the cap");
    assert_eq!(count, 10);
    // What aliases stand for counts over the whole stream, against the cap
    // and 4 nodes a byte read: documents sharing a few anchors each pass
    // however many there are (80 nodes from aliases in 320 bytes here)...
    let shared = "a: &a [1, 2, 3]\nb: [*a, *a]\n---\n".repeat(10);
    let limits = Limits { max_nodes: 20, ..Limits::default() };
    for_each_document(&shared, limits, &mut |_| std::ops::ControlFlow::Continue(())).expect("a few aliases a document");
    // ...while small bombs, each under the cap (744 nodes, 728 from aliases,
    // in 91 bytes), are refused together, in the third document.
    let bomb = "a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b]\n---\n";
    let limits = Limits { max_nodes: 1000, ..Limits::default() };
    for_each_document(bomb, limits, &mut |_| std::ops::ControlFlow::Continue(())).expect("one bomb is under the cap");
    let mut before = 0;
    let err = for_each_document(&bomb.repeat(10), limits, &mut |_| {
        before += 1;
        std::ops::ControlFlow::Continue(())
    })
    .expect_err("the bombs add up");
    assert!(
        err.message
            .contains("aliases stand for more nodes than a stream may expand to (1000, and 4 for each byte read)"),
        "{err}"
    );
    assert_eq!((before, err.document), (2, 2), "{err}");
    // Break stops the walk, and an error after the stop is not reached.
    let mut first = 0;
    for_each_document("a: 1\n---\nb: [\n", Limits::default(), &mut |_| {
        first += 1;
        std::ops::ControlFlow::Break(())
    })
    .expect("stopped before the broken document");
    assert_eq!(first, 1);
}

/// A reader handing out its bytes a few at a time, as a pipe might.
struct Trickle<'a>(&'a [u8], usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn read_all(text: &[u8], chunk: usize, limits: Limits) -> Result<Vec<Document>, Error> {
    let mut docs = vec![];
    for_each_document_in(&mut Trickle(text, chunk), limits, &mut |d| {
        docs.push(d);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(docs)
}

#[test]
fn a_reader_gives_what_the_whole_text_gives() {
    // Every case of the table, read 1, 7 and 4096 bytes at a time: the same
    // documents, or an error on the same line.
    for (name, _, text, _) in table() {
        if name == "alias bomb" {
            continue; // its cap is per stream in `load`, per document here
        }
        let whole = load(&text);
        for chunk in [1, 7, 4096] {
            let read = read_all(text.as_bytes(), chunk, Limits::default());
            match (&whole, &read) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}, {chunk} bytes at a time"),
                (Err(a), Err(b)) => assert_eq!(a.line, b.line, "{name}: {a} / {b}"),
                _ => panic!("{name}, {chunk} bytes at a time: {whole:?} vs {read:?}"),
            }
        }
    }
    let limits = Limits { max_bytes: 10, ..Limits::default() };
    let err = read_all(b"a: 1\nb: 2\nc: 3\n", 4, limits).expect_err("over max_bytes");
    assert!(err.message.contains("longer than its limit"), "{err}");

    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let err = for_each_document_in(&mut Broken, Limits::default(), &mut |_| std::ops::ControlFlow::Continue(()))
        .expect_err("a read error");
    assert!(err.message.contains("disk on fire"), "{err}");
}
