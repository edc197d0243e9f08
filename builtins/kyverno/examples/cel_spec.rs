//! cel-spec conformance over `$SEALBOX_SHARED/cel-spec` (the "simple"
//! textproto tests; default `../shared` next to the repository), through
//! the kyverno builtin's CEL facade. Per file it counts the applicable
//! tests (no protobuf messages, type checking or containers) that pass and
//! fail; with `--floors FILE` it prints `score celspec.FILE.pass N` lines
//! and exits 1 when one is below its floor or has none. `--failures`
//! lists each failing test.
//!
//! Usage: `cargo run --release --example cel_spec -p sealbox-kyverno [-- --floors conformance/floors.txt] [--failures]`

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use cel::objects::{Key, Map};
use sealbox_kyverno::cel::{Activation, CelEnv, CelValue};
use sealbox_kyverno::floors;

/// The files scored: cel-spec's core files plus the extensions Kyverno's
/// environment has. Files about protobuf messages are left out.
const FILES: &[&str] = &[
    "basic",
    "comparisons",
    "conversions",
    "fields",
    "fp_math",
    "integer_math",
    "lists",
    "logic",
    "macros",
    "optionals",
    "string",
    "string_ext",
    "timestamps",
    "encoders_ext",
    "math_ext",
    "bindings_ext",
    "plumbing",
    "parse",
];

/// The core files, whose applicable tests should pass at 95 % or more.
const CORE: &[&str] = &[
    "basic",
    "comparisons",
    "conversions",
    "fields",
    "fp_math",
    "integer_math",
    "lists",
    "logic",
    "macros",
    "optionals",
    "string",
    "string_ext",
    "timestamps",
];

/// A textproto field value.
#[derive(Debug, Clone)]
enum Field {
    Scalar(String),
    /// A quoted string: its text (lossy) and its bytes.
    Quoted(String, Vec<u8>),
    Message(Vec<(String, Field)>),
}

impl Field {
    fn get(&self, name: &str) -> Option<&Field> {
        match self {
            Field::Message(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, f)| f),
            _ => None,
        }
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        let fields: &[(String, Field)] = match self {
            Field::Message(f) => f,
            _ => &[],
        };
        fields.iter().filter(move |(n, _)| n == name).map(|(_, f)| f)
    }

    fn text(&self) -> Option<&str> {
        match self {
            Field::Scalar(s) | Field::Quoted(s, _) => Some(s),
            Field::Message(_) => None,
        }
    }
}

/// A reader for the textproto subset the test files use: fields, nested
/// messages (`{}` or `<>`), repeated `[..]` lists, strings with escapes
/// (adjacent ones concatenated), numbers and identifiers, `#` comments.
struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn skip(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'#' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                c if c.is_ascii_whitespace() || c == b',' || c == b';' => self.i += 1,
                _ => break,
            }
        }
    }

    fn message(&mut self, close: Option<u8>) -> Result<Vec<(String, Field)>, String> {
        let mut out = Vec::new();
        loop {
            self.skip();
            match (self.s.get(self.i), close) {
                (None, None) => return Ok(out),
                (None, Some(_)) => return Err("unexpected end of file".into()),
                (Some(c), Some(end)) if *c == end => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {}
            }
            let start = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || b"_.[]/".contains(&self.s[self.i]))
            {
                if self.s[self.i] == b'[' && self.i > start {
                    break;
                }
                self.i += 1;
            }
            let name = String::from_utf8_lossy(&self.s[start..self.i]).to_string();
            if name.is_empty() {
                return Err(format!("expected a field name at byte {}", self.i));
            }
            self.skip();
            if self.s.get(self.i) == Some(&b':') {
                self.i += 1;
                self.skip();
            }
            match self.s.get(self.i) {
                Some(b'[') => {
                    self.i += 1;
                    loop {
                        self.skip();
                        if self.s.get(self.i) == Some(&b']') {
                            self.i += 1;
                            break;
                        }
                        let v = self.value()?;
                        out.push((name.clone(), v));
                    }
                }
                _ => {
                    let v = self.value()?;
                    out.push((name, v));
                }
            }
        }
    }

    fn value(&mut self) -> Result<Field, String> {
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                Ok(Field::Message(self.message(Some(b'}'))?))
            }
            Some(b'<') => {
                self.i += 1;
                Ok(Field::Message(self.message(Some(b'>'))?))
            }
            Some(b'"') | Some(b'\'') => {
                let mut bytes = Vec::new();
                while let Some(q @ (b'"' | b'\'')) = self.s.get(self.i).copied() {
                    self.i += 1;
                    self.string(q, &mut bytes)?;
                    self.skip();
                }
                Ok(Field::Quoted(String::from_utf8_lossy(&bytes).to_string(), bytes))
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len()
                    && !self.s[self.i].is_ascii_whitespace()
                    && !b",;}>]#".contains(&self.s[self.i])
                {
                    self.i += 1;
                }
                Ok(Field::Scalar(String::from_utf8_lossy(&self.s[start..self.i]).to_string()))
            }
            None => Err("unexpected end of file".into()),
        }
    }

    fn string(&mut self, quote: u8, out: &mut Vec<u8>) -> Result<(), String> {
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            if c == quote {
                return Ok(());
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let e = *self.s.get(self.i).ok_or("unterminated escape")?;
            self.i += 1;
            match e {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(7),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'v' => out.push(11),
                b'x' => {
                    let hex: String = self.s[self.i..]
                        .iter()
                        .take(2)
                        .take_while(|c| c.is_ascii_hexdigit())
                        .map(|c| *c as char)
                        .collect();
                    self.i += hex.len();
                    out.push(u8::from_str_radix(&hex, 16).map_err(|_| "bad \\x escape")?);
                }
                b'0'..=b'7' => {
                    let mut n = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.s.get(self.i) {
                            Some(d @ b'0'..=b'7') => {
                                n = n * 8 + u32::from(d - b'0');
                                self.i += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push(n as u8);
                }
                b'u' | b'U' => {
                    let len = if e == b'u' { 4 } else { 8 };
                    let hex = std::str::from_utf8(self.s.get(self.i..self.i + len).ok_or("short unicode escape")?)
                        .map_err(|_| "bad unicode escape")?;
                    self.i += len;
                    let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).ok_or("bad unicode escape")?;
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                other => out.push(other),
            }
        }
    }
}

/// A `cel.expr.Value` as a CEL value; `None` for what the harness does not
/// model (messages, enums, types).
fn expected(v: &Field) -> Option<CelValue> {
    let scalar = |k: &str| v.get(k).and_then(Field::text);
    if let Some(s) = scalar("int64_value") {
        return s.parse().ok().map(CelValue::Int);
    }
    if let Some(s) = scalar("uint64_value") {
        return s.parse().ok().map(CelValue::UInt);
    }
    if let Some(s) = scalar("double_value") {
        let f = match s {
            "inf" | "infinity" => f64::INFINITY,
            "-inf" | "-infinity" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            s => s.trim_end_matches(['f', 'F']).parse().ok()?,
        };
        return Some(CelValue::Float(f));
    }
    if let Some(s) = scalar("string_value") {
        return Some(CelValue::String(Arc::new(s.to_string())));
    }
    if let Some(f) = v.get("bytes_value") {
        return match f {
            Field::Quoted(_, bytes) => Some(CelValue::Bytes(Arc::new(bytes.clone()))),
            _ => None,
        };
    }
    if let Some(s) = scalar("bool_value") {
        return Some(CelValue::Bool(s == "true"));
    }
    if v.get("null_value").is_some() {
        return Some(CelValue::Null);
    }
    if let Some(l) = v.get("list_value") {
        return l.all("values").map(expected).collect::<Option<Vec<_>>>().map(|x| CelValue::List(Arc::new(x)));
    }
    if let Some(m) = v.get("map_value") {
        let mut map = HashMap::new();
        for e in m.all("entries") {
            let key = match expected(e.get("key")?)? {
                CelValue::Int(i) => Key::Int(i),
                CelValue::UInt(u) => Key::Uint(u),
                CelValue::Bool(b) => Key::Bool(b),
                CelValue::String(s) => Key::String(s),
                _ => return None,
            };
            map.insert(key, expected(e.get("value")?)?);
        }
        return Some(CelValue::Map(Map { map: Arc::new(map) }));
    }
    None
}

/// Type-exact structural equality (NaN equals NaN).
fn same(a: &CelValue, b: &CelValue) -> bool {
    match (a, b) {
        (CelValue::Float(x), CelValue::Float(y)) => (x.is_nan() && y.is_nan()) || x == y,
        (CelValue::List(x), CelValue::List(y)) => x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q)),
        (CelValue::Map(x), CelValue::Map(y)) => {
            x.map.len() == y.map.len() && x.map.iter().all(|(k, v)| y.map.get(k).is_some_and(|w| same(v, w)))
        }
        _ => std::mem::discriminant(a) == std::mem::discriminant(b) && a == b,
    }
}

enum Outcome {
    Pass,
    Fail(String),
    NotApplicable,
}

fn run_test(env: &CelEnv, t: &Field) -> Outcome {
    let expr = t.get("expr").and_then(Field::text).unwrap_or("");
    let proto = |s: &str| s.contains("TestAllTypes") || s.contains("google.protobuf") || s.contains("cel.expr");
    let flagged = ["disable_macros", "check_only", "container", "type_env", "typed_result", "unknown", "any_unknowns"]
        .iter()
        .any(|k| t.get(k).is_some());
    if flagged || proto(expr) {
        return Outcome::NotApplicable;
    }
    let mut act = Activation::new(env);
    for b in t.all("bindings") {
        let (Some(name), Some(v)) = (b.get("key").and_then(Field::text), b.get("value").and_then(|v| v.get("value")))
        else {
            return Outcome::NotApplicable;
        };
        let Some(val) = expected(v) else { return Outcome::NotApplicable };
        act.bind_value(name, val);
    }
    let want_error = t.get("eval_error").is_some() || t.get("any_eval_errors").is_some();
    let want = match t.get("value") {
        Some(v) => match expected(v) {
            Some(w) => Some(w),
            None => return Outcome::NotApplicable,
        },
        None if want_error => None,
        None => Some(CelValue::Bool(true)),
    };
    let got = env.compile(expr).and_then(|p| act.eval(&p));
    match (got, want) {
        (Err(_), None) => Outcome::Pass,
        (Ok(v), None) => Outcome::Fail(format!("{expr}: want an error, got {v:?}")),
        (Err(e), Some(w)) => Outcome::Fail(format!("{expr}: want {w:?}, got error {e}")),
        (Ok(v), Some(w)) if same(&v, &w) => Outcome::Pass,
        (Ok(v), Some(w)) => Outcome::Fail(format!("{expr}: want {w:?}, got {v:?}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list_failures = args.iter().any(|a| a == "--failures");
    let floors = args.iter().position(|a| a == "--floors").map(|i| {
        let path = args.get(i + 1).unwrap_or_else(|| {
            eprintln!("--floors needs a file");
            std::process::exit(2);
        });
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("reading {path}: {e}");
            std::process::exit(2);
        });
        floors::parse(&text).unwrap_or_else(|e| {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        })
    });
    let base = std::env::var("SEALBOX_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = base.join("cel-spec/tests/simple/testdata");
    if !dir.is_dir() {
        eprintln!("SKIPPED: {} not found; set SEALBOX_SHARED", dir.display());
        std::process::exit(2);
    }
    let env = CelEnv::kyverno();
    let mut scores = Vec::new();
    let (mut core_pass, mut core_total) = (0, 0);
    println!("{:<16} {:>6} {:>6} {:>15}", "file", "pass", "fail", "not applicable");
    for file in FILES {
        let path = dir.join(format!("{file}.textproto"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        });
        let doc = match (Reader { s: text.as_bytes(), i: 0 }).message(None) {
            Ok(d) => Field::Message(d),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                std::process::exit(2);
            }
        };
        let (mut pass, mut fail, mut na) = (0usize, 0usize, 0usize);
        for section in doc.all("section") {
            for t in section.all("test") {
                match run_test(&env, t) {
                    Outcome::Pass => pass += 1,
                    Outcome::NotApplicable => na += 1,
                    Outcome::Fail(why) => {
                        fail += 1;
                        if list_failures {
                            let name = t.get("name").and_then(Field::text).unwrap_or("");
                            println!("  FAIL {file}/{name}: {why}");
                        }
                    }
                }
            }
        }
        println!("{file:<16} {pass:>6} {fail:>6} {na:>15}");
        if CORE.contains(file) {
            core_pass += pass;
            core_total += pass + fail;
        }
        scores.push((format!("celspec.{file}.pass"), pass as u64));
    }
    let pct = if core_total == 0 { 0.0 } else { 100.0 * core_pass as f64 / core_total as f64 };
    println!("core files: {core_pass}/{core_total} applicable tests pass ({pct:.1}%)");
    if let Some(floors) = floors {
        for (k, v) in &scores {
            println!("score {k} {v}");
        }
        let broken = floors::violations(&floors, "celspec.", &scores);
        for b in &broken {
            println!("FLOOR BROKEN: {b}");
        }
        if !broken.is_empty() {
            std::process::exit(1);
        }
    }
}
