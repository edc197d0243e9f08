//! JMESPath as Kyverno evaluates it: the standard language (the `jmespath`
//! crate) plus Kyverno's custom functions, and Kyverno's "Unknown key"
//! error when a plain field chain names a key that is not there.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use jmespath::ast::{Ast, Comparator, KeyValuePair};
use jmespath::{Context, Rcvar, Runtime, Variable};
use serde_json::Value;

use crate::jmes_functions;

/// The fixed "now" and random seed of a build, so results are reproducible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    /// Seconds since the epoch that stand for now (`image.sourceDateEpoch`).
    pub now: i64,
    /// Seed for `random()`.
    pub seed: u64,
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JmesError {
    /// A plain field chain named a key the data does not have.
    NotFound(String),
    /// A syntax error, a function error or a type error.
    Other(String),
}

impl std::fmt::Display for JmesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JmesError::NotFound(k) => write!(f, "Unknown key \"{k}\" in path"),
            JmesError::Other(m) => f.write_str(m),
        }
    }
}

/// A JMESPath runtime with Kyverno's functions registered.
pub struct Jmes {
    runtime: Runtime,
    /// Parsed (and null-guarded) expressions by source text.
    cache: RefCell<HashMap<String, Rc<Ast>>>,
}

/// Expressions cached at most; policies use a few hundred distinct ones.
const CACHE_LIMIT: usize = 4096;

impl Jmes {
    /// A runtime whose time and random functions read `clock`.
    pub fn new(clock: Clock) -> Jmes {
        let mut runtime = Runtime::new();
        runtime.register_builtin_functions();
        jmes_functions::register_all(&mut runtime, clock);
        Jmes { runtime, cache: RefCell::new(HashMap::new()) }
    }

    /// Evaluates `expr` against `data`.
    pub fn search(&self, expr: &str, data: &Value) -> Result<Value, JmesError> {
        let var = to_var(data);
        self.search_var(expr, &var)
    }

    /// Evaluates `expr` against already-converted data.
    pub fn search_var(&self, expr: &str, data: &Rcvar) -> Result<Value, JmesError> {
        let ast = self.compile(expr)?;
        let mut ctx = Context::new(expr, &self.runtime);
        let result = jmespath::interpret(data, &ast, &mut ctx).map_err(|e| JmesError::Other(describe(expr, &e)))?;
        if result.is_null()
            && let Some(missing) = missing_key(&ast, data)
        {
            return Err(JmesError::NotFound(missing));
        }
        Ok(from_var(&result))
    }
}

impl Jmes {
    fn compile(&self, expr: &str) -> Result<Rc<Ast>, JmesError> {
        if let Some(ast) = self.cache.borrow().get(expr) {
            return Ok(ast.clone());
        }
        if let Some(e) = too_nested(expr) {
            return Err(JmesError::Other(e));
        }
        let ast =
            jmespath::parse(expr).map_err(|e| JmesError::Other(format!("invalid JMESPath {expr:?}: {}", e.reason)))?;
        let ast = Rc::new(guard_null(ast));
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(expr.to_string(), ast.clone());
        Ok(ast)
    }
}

/// Deepest bracket nesting accepted; the parser recurses per level.
const MAX_NESTING: usize = 64;
/// Most links (`.`, `|`, `&`, `!`, comparisons and brackets) accepted in one expression.
const MAX_LINKS: usize = 512;

/// Refuses expressions whose nesting would exhaust the parser's stack.
fn too_nested(expr: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    // Chains (`a.b.c`, `a | b`) nest the syntax tree too.
    let mut links = 0usize;
    let mut quote: Option<char> = None;
    for c in expr.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                // A bracket after another (`a[*][*]…`) chains like a `.`.
                links += 1;
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            // `!` and comparisons nest the syntax tree one level each too (`!!!…a`, `a < a < …`).
            (None, '.' | '|' | '&' | '!' | '<' | '>' | '=') => links += 1,
            _ => {}
        }
    }
    (deepest > MAX_NESTING || links > MAX_LINKS || expr.len() > 64 * 1024)
        .then(|| format!("JMESPath expression is too deeply nested or too long ({} bytes)", expr.len()))
}

/// Rewrites `lhs.f(...)` (and `lhs.[..]`, `lhs.{..}`) so a null `lhs`
/// yields null instead of calling `f` with null, as go-jmespath does.
fn guard_null(ast: Ast) -> Ast {
    let b = |a: Box<Ast>| Box::new(guard_null(*a));
    match ast {
        Ast::Subexpr { offset, lhs, rhs } => {
            let rhs = guard_null(*rhs);
            let rhs = match rhs {
                Ast::Function { .. } | Ast::MultiList { .. } | Ast::MultiHash { .. } => Ast::Condition {
                    offset,
                    predicate: Box::new(Ast::Comparison {
                        offset,
                        comparator: Comparator::NotEqual,
                        lhs: Box::new(Ast::Identity { offset }),
                        rhs: Box::new(Ast::Literal { offset, value: Rc::new(Variable::Null) }),
                    }),
                    then: Box::new(rhs),
                },
                other => other,
            };
            Ast::Subexpr { offset, lhs: b(lhs), rhs: Box::new(rhs) }
        }
        Ast::Comparison { offset, comparator, lhs, rhs } => {
            Ast::Comparison { offset, comparator, lhs: b(lhs), rhs: b(rhs) }
        }
        Ast::Condition { offset, predicate, then } => Ast::Condition { offset, predicate: b(predicate), then: b(then) },
        Ast::Expref { offset, ast } => Ast::Expref { offset, ast: b(ast) },
        Ast::Flatten { offset, node } => Ast::Flatten { offset, node: b(node) },
        Ast::Function { offset, name, args } => {
            Ast::Function { offset, name, args: args.into_iter().map(guard_null).collect() }
        }
        Ast::MultiList { offset, elements } => {
            Ast::MultiList { offset, elements: elements.into_iter().map(guard_null).collect() }
        }
        Ast::MultiHash { offset, elements } => Ast::MultiHash {
            offset,
            elements: elements
                .into_iter()
                .map(|kv| KeyValuePair { key: kv.key, value: guard_null(kv.value) })
                .collect(),
        },
        Ast::Not { offset, node } => Ast::Not { offset, node: b(node) },
        Ast::Projection { offset, lhs, rhs } => Ast::Projection { offset, lhs: b(lhs), rhs: b(rhs) },
        Ast::ObjectValues { offset, node } => Ast::ObjectValues { offset, node: b(node) },
        Ast::And { offset, lhs, rhs } => Ast::And { offset, lhs: b(lhs), rhs: b(rhs) },
        Ast::Or { offset, lhs, rhs } => Ast::Or { offset, lhs: b(lhs), rhs: b(rhs) },
        leaf => leaf,
    }
}

fn describe(expr: &str, e: &jmespath::JmespathError) -> String {
    match &e.reason {
        jmespath::ErrorReason::Parse(m) => format!("JMESPath {expr:?}: {m}"),
        jmespath::ErrorReason::Runtime(r) => format!("JMESPath {expr:?}: {r}"),
    }
}

/// For a plain chain of fields and indexes, the first key missing from an
/// object along the way (Kyverno's go-jmespath raises on it).
fn missing_key(ast: &Ast, data: &Rcvar) -> Option<String> {
    let mut steps = Vec::new();
    if !flatten_chain(ast, &mut steps) {
        return None;
    }
    let mut cur = data.clone();
    for step in steps {
        match step {
            Step::Field(name) => match &*cur {
                Variable::Object(m) => match m.get(name) {
                    Some(v) => cur = v.clone(),
                    None => return Some(name.to_string()),
                },
                _ => return None,
            },
            Step::Index(i) => match &*cur {
                Variable::Array(a) => {
                    let idx = if i < 0 { a.len() as i64 + i as i64 } else { i as i64 };
                    match usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                        Some(v) => cur = v.clone(),
                        None => return None,
                    }
                }
                _ => return None,
            },
        }
    }
    None
}

enum Step<'a> {
    Field(&'a str),
    Index(i32),
}

fn flatten_chain<'a>(ast: &'a Ast, out: &mut Vec<Step<'a>>) -> bool {
    match ast {
        Ast::Field { name, .. } => {
            out.push(Step::Field(name));
            true
        }
        Ast::Index { idx, .. } => {
            out.push(Step::Index(*idx));
            true
        }
        Ast::Subexpr { lhs, rhs, .. } => flatten_chain(lhs, out) && flatten_chain(rhs, out),
        _ => false,
    }
}

/// Converts JSON to a JMESPath value.
pub fn to_var(v: &Value) -> Rcvar {
    Rc::new(match v {
        Value::Null => Variable::Null,
        Value::Bool(b) => Variable::Bool(*b),
        Value::Number(n) => Variable::Number(n.clone()),
        Value::String(s) => Variable::String(s.clone()),
        Value::Array(a) => Variable::Array(a.iter().map(to_var).collect()),
        Value::Object(m) => Variable::Object(m.iter().map(|(k, v)| (k.clone(), to_var(v))).collect()),
    })
}

/// Converts a JMESPath value back to JSON (expression references become null).
pub fn from_var(v: &Variable) -> Value {
    match v {
        Variable::Null | Variable::Expref(_) => Value::Null,
        Variable::Bool(b) => Value::Bool(*b),
        Variable::Number(n) => Value::Number(n.clone()),
        Variable::String(s) => Value::String(s.clone()),
        Variable::Array(a) => Value::Array(a.iter().map(|x| from_var(x)).collect()),
        Variable::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), from_var(x))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_raise_only_on_plain_chains() {
        let j = Jmes::new(Clock::default());
        let data = json!({"request": {"object": {"spec": {"a": 1}}}});
        assert_eq!(j.search("request.object.spec.a", &data), Ok(json!(1)));
        assert_eq!(j.search("request.object.spec.b", &data), Err(JmesError::NotFound("b".into())));
        assert_eq!(j.search("request.object.spec.b || 'x'", &data), Ok(json!("x")));
        assert_eq!(j.search("length(request.object.spec.b || '')", &data), Ok(json!(0)));
        assert_eq!(j.search("request.object.metadata.values(@)", &data), Ok(Value::Null));
        assert_eq!(j.search("request.object.spec.c.values(@) || `[]`", &data), Ok(json!([])));
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(j.search(&deep, &data), Err(JmesError::Other(m)) if m.contains("nested")));
        let long = vec!["a"; 20_000].join(".");
        assert!(matches!(j.search(&long, &data), Err(JmesError::Other(m)) if m.contains("nested")));
        // AFL++ found a stack overflow on 14,000 `!` (kyverno_expr target).
        let negated = format!("{}a", "!".repeat(14_000));
        assert!(matches!(j.search(&negated, &data), Err(JmesError::Other(m)) if m.contains("nested")));
        assert_eq!(j.search(&format!("{}a", "!".repeat(500)), &json!({"a": true})), Ok(json!(true)));
    }

    #[test]
    fn every_chain_form_is_capped_before_it_can_overflow_the_stack() {
        let j = Jmes::new(Clock::default());
        let data = json!({"a": [[1]]});
        type Form = fn(usize) -> String;
        let forms: [(&str, Form); 8] = [
            ("projections", |n| format!("a{}", "[*]".repeat(n))),
            ("indexes", |n| format!("a{}", "[0]".repeat(n))),
            ("flattens", |n| format!("a{}", "[]".repeat(n))),
            ("filters", |n| format!("a{}", "[?a]".repeat(n))),
            ("comparisons", |n| vec!["a"; n + 1].join(" < ")),
            ("slices", |n| format!("a{}", "[::1]".repeat(n))),
            ("object projections", |n| format!("a{}", ".*".repeat(n))),
            ("negations", |n| format!("{}a", "!".repeat(n))),
        ];
        for (name, form) in forms {
            // Within the cap (half of it here) the parser's recursion fits a test thread's stack.
            let at_cap = j.search(&form(MAX_LINKS / 2), &data);
            assert!(!matches!(&at_cap, Err(JmesError::Other(m)) if m.contains("nested")), "{name}: {at_cap:?}");
            let over = j.search(&form(10_000), &data);
            assert!(matches!(&over, Err(JmesError::Other(m)) if m.contains("nested")), "{name}: {over:?}");
        }
    }
}
