//! Bad input gets an error, never a panic: random sequences of template
//! fragments (deterministic, seeded) are parsed and executed under small
//! limits.

use sealbox_render::engine::{Limits, MissingKey, Options, Templates, Value};
use serde_json::json;

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    ".",
    ".A",
    ".B.C",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    ",",
    "\"s\"",
    "`r`",
    "'c'",
    "'",
    "\"",
    "`",
    "1",
    "-2",
    "0x1F",
    "1e3",
    "0x1.p1",
    "1_000",
    "9999999999999999999999",
    "true",
    "nil",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "\"t\"",
    "printf",
    "\"%d %s %v %q %x %5.2f %*d %-8s %U\"",
    "index",
    "slice",
    "len",
    "and",
    "or",
    "not",
    "eq",
    "lt",
    "call",
    "html",
    "js",
    "urlquery",
    "print",
    "println",
    "default",
    "quote",
    "toYaml",
    "toJson",
    "b64dec",
    "split",
    "nindent",
    "required",
    "ternary",
    "/*",
    "*/",
    "é",
    "日本",
    "\u{0}",
    "{{/* c */}}",
    "{{.A}}",
    "{{range .L}}",
    "{{end}}",
    "{{if .M}}",
    "{{else}}",
    "{{else if .A}}",
    "{{with $y := .M}}",
    "{{template \"t\" .}}",
    "{{define \"t\"}}",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn random_templates_never_panic() {
    let data = Value::from(&json!({"A": "a", "B": {"C": 3}, "L": [1, "x", null, {"k": 1.5}], "M": {"z": true}}));
    let limits = Limits { max_depth: 60, max_output: 1 << 16, max_steps: 20_000 };
    let mut rng = Lcg(20261126);
    let (mut parsed, mut executed) = (0, 0);
    for _ in 0..100_000 {
        let n = 1 + rng.next() % 24;
        let src: String = (0..n).map(|_| FRAGMENTS[rng.next() % FRAGMENTS.len()]).collect();
        let mut set = Templates::new();
        if set.parse("f", &src).is_err() {
            continue;
        }
        parsed += 1;
        for mode in [MissingKey::ErrorOnPrint, MissingKey::GoDefault, MissingKey::Error] {
            if set.execute("f", &data, &Options { missing_key: mode, limits }).is_ok() {
                executed += 1;
            }
        }
    }
    eprintln!("{parsed} parsed, {executed} executions succeeded");
    // The generator must reach the executor, or the test proves little.
    assert!(parsed > 10_000, "only {parsed} templates parsed");
    assert!(executed > 10_000, "only {executed} executions succeeded");
}
