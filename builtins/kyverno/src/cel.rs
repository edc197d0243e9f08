//! The CEL facade: the one module that knows the `cel` crate. Everything
//! else compiles expressions into [`Program`]s once per policy and
//! evaluates them over JSON through an [`Activation`], so that swapping the
//! interpreter touches this file only.
//!
//! The environment is Kyverno's: the standard library and macros, optional
//! types, cel-go's string, list, math and encoder extensions, and Kyverno's
//! `orValue` compatibility rewrite (`x.orValue(d)` on a value that is not
//! optional yields `x`). JSON integers become CEL `int`, never `uint`.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::ast::{CallExpr, Expr};
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelOptional, CelString};
use cel::common::value::{CowVal, Val};
use cel::objects::Key;
use cel::parser::Macro;
use serde_json::Value as Json;

/// A CEL value produced by evaluation.
pub type CelValue = cel::Value;

/// The CEL environment policies compile against.
#[derive(Clone)]
pub struct CelEnv {
    env: Arc<cel::Env>,
}

/// A compiled expression with its source (for messages).
pub struct Program {
    source: String,
    inner: cel::Program,
}

impl Program {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables (identifiers) the expression reads.
    pub fn variables(&self) -> Vec<String> {
        self.inner.references().variables().into_iter().map(str::to_string).collect()
    }

    /// The functions the expression calls (member calls by bare name).
    pub fn functions(&self) -> Vec<String> {
        self.inner.references().functions().into_iter().map(str::to_string).collect()
    }
}

const OR_VALUE_COMPAT: &str = "__orValueCompat__";

/// The longest expression compiled, in bytes.
pub const MAX_SOURCE: usize = 64 * 1024;
/// The deepest bracket nesting compiled.
pub const MAX_NESTING: usize = 64;
/// The most operators (and member selections) in one expression; the
/// parser and evaluator recurse on operator chains. The library's longest
/// expression has 162.
pub const MAX_OPERATORS: usize = 400;

impl Default for CelEnv {
    fn default() -> Self {
        Self::kyverno()
    }
}

impl CelEnv {
    /// The process-wide environment (built once; environments are immutable).
    pub fn shared() -> &'static CelEnv {
        static ENV: std::sync::OnceLock<CelEnv> = std::sync::OnceLock::new();
        ENV.get_or_init(CelEnv::kyverno)
    }

    /// Kyverno's policy environment (see the module doc).
    pub fn kyverno() -> CelEnv {
        let mut env = cel::Env::stdlib();
        // The extensions and the macro are declared once, here, on a fresh
        // environment: a clash would be a programming error, not input.
        let declared = env
            .add_extension(cel::extensions::strings)
            .and_then(|_| env.add_extension(cel::extensions::lists))
            .and_then(|_| env.add_extension(cel::extensions::math))
            .and_then(|_| env.add_extension(cel::extensions::encoders))
            .and_then(|_| env.add_macro(Macro::receiver("orValue", 1, or_value_macro)))
            .and_then(|_| env.add_macro(Macro::receiver("bind", 3, cel_bind_macro)))
            .and_then(|_| {
                env.add_overload(
                    OR_VALUE_COMPAT,
                    "kyverno_or_value_compat",
                    vec![cel::common::types::DYN_TYPE],
                    or_value_compat,
                )
            });
        let declared = declared.and_then(|_| crate::cel_functions::register(&mut env));
        if let Err(e) = declared {
            unreachable!("the CEL environment declares each function once: {e:?}");
        }
        CelEnv { env: Arc::new(env) }
    }

    /// Compiles `source`; the error names the expression and the position.
    /// Expressions longer than [`MAX_SOURCE`] bytes or nested deeper than
    /// [`MAX_NESTING`] are refused: the parser recurses on nesting.
    pub fn compile(&self, source: &str) -> Result<Program, String> {
        if source.len() > MAX_SOURCE {
            return Err(format!("CEL expression of {} bytes is longer than the limit of {MAX_SOURCE}", source.len()));
        }
        let operators = source.matches(['+', '-', '*', '/', '%', '<', '>', '=', '!', '&', '|', '?', '.']).count();
        if operators > MAX_OPERATORS {
            return Err(format!("CEL expression {:?} has more than {MAX_OPERATORS} operators", head(source, 40)));
        }
        let mut depth = 0usize;
        for c in source.chars() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_NESTING {
                return Err(format!("CEL expression {:?} nests deeper than {MAX_NESTING} levels", head(source, 40)));
            }
        }
        let inner = self.env.compile(source).map_err(|e| compile_error(source, &e))?;
        Ok(Program { source: source.to_string(), inner })
    }
}

/// Parse errors shown in a message; the rest are counted.
const SHOWN_ERRORS: usize = 3;
/// Characters of the source line shown on each side of an error.
const SNIPPET_RADIUS: usize = 40;

/// A compile error in cel-go's shape (`ERROR: <input>:L:C: msg`, the line,
/// a caret), bounded: the `cel` crate's own `Display` repeats the whole
/// line for every error, and the lexer reports every stray character, so a
/// 27 KB line of `$` made a message of 900 MB (a fuzz finding). Here at
/// most [`SHOWN_ERRORS`] errors, each with [`SNIPPET_RADIUS`] characters of
/// its line on either side.
fn compile_error(source: &str, errors: &cel::ParseErrors) -> String {
    let mut out = format!("compiling CEL {:?}:", head(source, 2 * SNIPPET_RADIUS));
    for e in errors.errors.iter().take(SHOWN_ERRORS) {
        let (line, column) = e.pos;
        out.push_str(&format!("\nERROR: <input>:{line}:{column}: {}", head(&e.msg, 2 * SNIPPET_RADIUS)));
        let text = usize::try_from(line - 1).ok().and_then(|l| source.lines().nth(l));
        if let (Some(text), Ok(column)) = (text, usize::try_from(column)) {
            // The caret sits under the column-th character, as in cel-go.
            let at = column.saturating_sub(1);
            let start = at.saturating_sub(SNIPPET_RADIUS);
            let shown: String = text.chars().skip(start).take(2 * SNIPPET_RADIUS + 1).collect();
            let (lead, dots) = if start > 0 { ("...", at - start + 3) } else { ("", at) };
            out.push_str(&format!("\n| {lead}{shown}\n| "));
            out.extend(std::iter::repeat_n('.', dots));
            out.push('^');
        }
    }
    if errors.errors.len() > SHOWN_ERRORS {
        out.push_str(&format!("\n(and {} more errors)", errors.errors.len() - SHOWN_ERRORS));
    }
    out
}

/// The first `max` characters of `text`, with `...` when there are more.
fn head(text: &str, max: usize) -> String {
    let mut head: String = text.chars().take(max).collect();
    if head.len() < text.len() {
        head.push_str("...");
    }
    head
}

/// Kyverno rewrites `x.orValue(y)` into a call that accepts any `x`: here
/// `__orValueCompat__(x).orValue(y)`, which wraps a non-optional `x`.
fn or_value_macro(
    helper: &mut cel::parser::MacroExprHelper<'_>,
    target: &mut Option<cel::IdedExpr>,
    args: &mut Vec<cel::IdedExpr>,
) -> Result<Option<cel::IdedExpr>, cel::ParseError> {
    let Some(t) = target.take() else { return Ok(None) };
    let wrapped =
        helper.next_expr(Expr::Call(CallExpr { func_name: OR_VALUE_COMPAT.into(), target: None, args: vec![t] }));
    Ok(Some(helper.next_expr(Expr::Call(CallExpr {
        func_name: "orValue".into(),
        target: Some(Box::new(wrapped)),
        args: std::mem::take(args),
    }))))
}

/// cel-go's `cel.bind(name, init, expr)`: `expr` with `name` bound to
/// `init`, evaluated once. Expanded as cel-go expands it, into a
/// comprehension over no elements whose accumulator is `name`. Any other
/// receiver's `bind` is left alone.
fn cel_bind_macro(
    helper: &mut cel::parser::MacroExprHelper<'_>,
    target: &mut Option<cel::IdedExpr>,
    args: &mut Vec<cel::IdedExpr>,
) -> Result<Option<cel::IdedExpr>, cel::ParseError> {
    use cel::common::ast::{ComprehensionExpr, ListExpr, LiteralValue};
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(name)) if name == "cel") {
        return Ok(None);
    }
    let [var, init, result]: [cel::IdedExpr; 3] = match std::mem::take(args).try_into() {
        Ok(three) => three,
        Err(_) => return Ok(None),
    };
    let Expr::Ident(name) = &var.expr else {
        return Err(helper.new_error(var.id, "cel.bind() variable name must be a simple identifier"));
    };
    let name = name.clone();
    let iter_range = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let loop_cond = helper.next_expr(Expr::Literal(LiteralValue::Boolean(false.into())));
    let loop_step = helper.next_expr(Expr::Ident(name.clone()));
    Ok(Some(helper.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range,
        iter_var: "#unused".into(),
        iter_var2: None,
        accu_var: name,
        accu_init: init,
        loop_cond,
        loop_step,
        result,
    })))))
}

fn or_value_compat<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, cel::ExecutionError> {
    let this = args.remove(0);
    if this.downcast_ref::<CelOptional>().is_some() {
        return Ok(this);
    }
    Ok(CowVal::owned(CelOptional::of(this.into_owned())))
}

/// The variables of one evaluation. Bind the request-level ones once and
/// evaluate many programs over them.
pub struct Activation {
    /// Variables live in the interpreter's context, built once: evaluating
    /// copies nothing.
    ctx: cel::Context<'static, 'static>,
}

impl Activation {
    /// An empty activation for `env`.
    pub fn new(env: &CelEnv) -> Activation {
        Activation { ctx: cel::Context::with_env(env.env.clone()) }
    }

    /// Binds `name` to a JSON value (integers as `int`).
    pub fn bind_json(&mut self, name: &str, value: &Json) {
        self.bind_val(name, json_to_val(value));
    }

    /// Binds `name` to a CEL value (values with no runtime form are skipped).
    pub fn bind_value(&mut self, name: &str, value: CelValue) {
        if let Ok(val) = Box::<dyn Val>::try_from(value) {
            self.bind_val(name, val);
        }
    }

    /// Binds `name` to a map of already evaluated values (`variables`).
    pub fn bind_map(&mut self, name: &str, entries: &[(String, CelValue)]) {
        let mut map = HashMap::new();
        for (k, v) in entries {
            if let Ok(val) = Box::<dyn Val>::try_from(v.clone()) {
                map.insert(CelMapKey::from(k.clone()), val);
            }
        }
        self.bind_val(name, Box::new(CelMap::from(map)));
    }

    fn bind_val(&mut self, name: &str, val: Box<dyn Val>) {
        self.ctx.add_variable_as_val(name, val);
    }

    /// Evaluates `program`; the error is the interpreter's message.
    pub fn eval(&self, program: &Program) -> Result<CelValue, String> {
        program.inner.execute(&self.ctx).map_err(|e| e.to_string())
    }

    /// Evaluates `program` and requires a boolean.
    pub fn eval_bool(&self, program: &Program) -> Result<bool, String> {
        match self.eval(program)? {
            CelValue::Bool(b) => Ok(b),
            other => Err(format!("expression {:?} gave {}, not a bool", program.source, type_name(&other))),
        }
    }
}

/// The CEL type name of a value, for messages.
pub fn type_name(v: &CelValue) -> String {
    v.type_of().to_string()
}

/// Converts JSON into a CEL value: integers are `int` (or `double` beyond
/// `i64`), never `uint`.
pub fn json_to_val(v: &Json) -> Box<dyn Val> {
    match v {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Box::new(CelInt::from(i)),
            None => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        Json::String(s) => Box::new(CelString::from(s.clone())),
        Json::Array(a) => Box::new(CelList::from(a.iter().map(json_to_val).collect::<Vec<_>>())),
        Json::Object(m) => Box::new(CelMap::from(
            m.iter().map(|(k, v)| (CelMapKey::from(k.clone()), json_to_val(v))).collect::<HashMap<_, _>>(),
        )),
    }
}

/// Converts a CEL value back to JSON (for messages and results); values
/// with no JSON form (bytes, durations, ...) become their text.
pub fn to_json(v: &CelValue) -> Json {
    match v {
        CelValue::Null => Json::Null,
        CelValue::Bool(b) => Json::Bool(*b),
        CelValue::Int(i) => Json::from(*i),
        CelValue::UInt(u) => Json::from(*u),
        CelValue::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        CelValue::String(s) => Json::String(s.to_string()),
        CelValue::List(l) => Json::Array(l.iter().map(to_json).collect()),
        CelValue::Map(m) => Json::Object(
            m.map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Key::String(s) => s.to_string(),
                        Key::Int(i) => i.to_string(),
                        Key::Uint(u) => u.to_string(),
                        Key::Bool(b) => b.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        other => Json::String(format!("{other:?}")),
    }
}

/// The text of a string result, or an error naming the type.
pub fn as_string(v: &CelValue) -> Result<String, String> {
    match v {
        CelValue::String(s) => Ok(s.to_string()),
        other => Err(format!("expected a string, got {}", type_name(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(src: &str, object: Json) -> Result<CelValue, String> {
        let env = CelEnv::kyverno();
        let p = env.compile(src)?;
        let mut a = Activation::new(&env);
        a.bind_json("object", &object);
        a.eval(&p)
    }

    #[test]
    fn json_integers_stay_int() {
        assert_eq!(eval("object.n + 1", json!({"n": 3})), Ok(CelValue::Int(4)));
        assert_eq!(eval("type(object.n) == int", json!({"n": 3})), Ok(CelValue::Bool(true)));
        assert_eq!(eval("object.n == 3.0", json!({"n": 3})), Ok(CelValue::Bool(true)));
    }

    #[test]
    fn optionals_and_the_or_value_compat_rewrite() {
        let o = json!({"spec": {"volumes": [1]}});
        assert_eq!(eval("object.?spec.?x.orValue(7)", o.clone()), Ok(CelValue::Int(7)));
        assert_eq!(eval("size(object.spec.volumes.orValue([]))", o.clone()), Ok(CelValue::Int(1)));
        assert_eq!(eval("object.spec[?'volumes'].hasValue()", o), Ok(CelValue::Bool(true)));
    }

    #[test]
    fn cel_bind_binds_a_name_for_its_expression() {
        assert_eq!(eval("cel.bind(x, object.a * 2, x + x)", json!({"a": 3})), Ok(CelValue::Int(12)));
        assert_eq!(
            eval("cel.bind(xs, object.l, xs.exists(v, v > 2) && size(xs) == 3)", json!({"l": [1, 2, 3]})),
            Ok(CelValue::Bool(true))
        );
        assert!(CelEnv::kyverno().compile("cel.bind(1, 2, 3)").err().unwrap_or_default().contains("identifier"));
    }

    #[test]
    fn missing_keys_are_errors_and_strings_extension_works() {
        assert!(eval("object.a.b", json!({})).is_err());
        assert_eq!(eval("has(object.a)", json!({})), Ok(CelValue::Bool(false)));
        assert_eq!(eval("'a, b'.split(',').map(s, s.trim()).join('-')", json!({})), Ok(CelValue::from("a-b")));
        assert!(CelEnv::kyverno().compile("object.(").err().unwrap_or_default().contains("object.("));
        let deep = format!("{}1{}", "(".repeat(1_000), ")".repeat(1_000));
        assert!(CelEnv::kyverno().compile(&deep).err().unwrap_or_default().contains("nests deeper"));
        // Operator chains recurse too: the limit must hold on a 1 MiB stack.
        let chained = |n: usize| format!("1{}", " + 1".repeat(n));
        let limit = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let env = CelEnv::kyverno();
                let nested = format!("{}1{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
                env.compile(&nested)?;
                let p = env.compile(&chained(MAX_OPERATORS - 1)).map_err(|e| e.to_string())?;
                Activation::new(&env).eval(&p).map(|v| v == CelValue::Int(MAX_OPERATORS as i64))
            })
            .map(|h| h.join());
        assert!(matches!(limit, Ok(Ok(Ok(true)))), "{limit:?}");
        assert!(CelEnv::kyverno().compile(&chained(MAX_OPERATORS + 1)).err().unwrap_or_default().contains("operators"));
    }

    #[test]
    fn compile_errors_name_position_and_show_the_line_with_a_caret() {
        let err = CelEnv::kyverno().compile("object.a ==").err().unwrap_or_default();
        let mut lines = err.lines();
        assert_eq!(lines.next(), Some("compiling CEL \"object.a ==\":"));
        let first = lines.next().unwrap_or_default();
        assert!(first.starts_with("ERROR: <input>:1:"), "{err}");
        assert_eq!(lines.next(), Some("| object.a =="));
        let caret = lines.next().unwrap_or_default();
        let column: usize = first.split(':').nth(3).and_then(|c| c.parse().ok()).unwrap_or(0);
        assert_eq!(caret, format!("| {}^", ".".repeat(column - 1)), "{err}");
    }

    #[test]
    fn compile_errors_of_a_hostile_line_stay_small() {
        // Fuzz finding (kyverno_policy): the lexer reports every `$`, and the
        // `cel` crate's message repeated the whole line for each: 900 MB.
        let line = format!("x && {}{}y", " ".repeat(100), "$".repeat(20_000));
        let err = CelEnv::kyverno().compile(&line).err().unwrap_or_default();
        assert!(err.len() < 2_000, "{} bytes", err.len());
        assert!(err.contains("ERROR: <input>:1:106: Syntax error: token recognition error at: '$'"), "{err}");
        assert!(err.contains("(and 19997 more errors)"), "{err}");
        // A window around the error: 40 characters before it, the caret
        // under it after the `...` that says the line goes on to the left.
        let snippet = format!("| ...{}{}", " ".repeat(40), "$".repeat(41));
        let caret = format!("| {}^", ".".repeat(43));
        assert!(err.contains(&format!("{snippet}\n{caret}\n")), "{err}");
        // A column past u16::MAX: `{:>w$}` would panic.
        let wide = format!("{}x $", " ".repeat(MAX_SOURCE - 3));
        let err = CelEnv::kyverno().compile(&wide).err().unwrap_or_default();
        assert!(err.contains("ERROR: <input>:1:65536: "), "{err}");
        assert!(err.len() < 2_000, "{} bytes", err.len());
    }
}
