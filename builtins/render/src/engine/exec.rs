//! Executes parsed trees against a [`Value`], following Go's `exec.go`:
//! pipelines feed the previous command's result as the last argument,
//! `and`/`or` short-circuit, `if`/`with`/`range` scope their variables,
//! `template` starts a fresh variable stack. Three limits bound hostile
//! templates: nesting depth (template calls and control structures),
//! output size and evaluation steps.

use std::collections::HashMap;
use std::fmt::Display;
use std::rc::Rc;

use super::ast::{Arg, Command, Control, Node, Pipe, Tree};
use super::error::{ExecError, ExecErrorKind, line_col};
use super::value::{Value, write_go};

/// sprig's functions that change their first (map) argument in place.
const MUTATING_FUNCS: [&str; 6] = ["set", "unset", "merge", "mergeOverwrite", "mustMerge", "mustMergeOverwrite"];

/// A template function: gets a context (to run other templates, for
/// Helm-style `include`) and the evaluated arguments.
pub type Func = Rc<dyn Fn(&mut FuncCtx<'_, '_>, &[Value]) -> Result<Value, String>>;

/// What happens when a template looks up a key that the data lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// A missing key may be tested or defaulted, but printing it (where Go
    /// prints `<no value>`) is an error naming the key.
    #[default]
    ErrorOnPrint,
    /// Go's default (`missingkey=default`): prints `<no value>`.
    GoDefault,
    /// Go's `missingkey=error`: any lookup of a missing key fails.
    Error,
}

/// Bounds on one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of template calls plus control structures.
    pub max_depth: usize,
    /// Bytes of output (counted across nested `include`s too).
    pub max_output: usize,
    /// Nodes walked, loop iterations, and every [`BYTES_PER_STEP`] bytes of
    /// text a function returns.
    pub max_steps: u64,
}

/// Text a function returns costs one step per this many bytes, so that a
/// loop whose every iteration builds a large string (`printf "%.9999999d"`
/// in a `range`) runs out of steps as soon as its work is large, not after
/// as many iterations as a loop of cheap ones.
pub const BYTES_PER_STEP: usize = 16;

impl Default for Limits {
    /// 1000 levels (Go allows 100000, but wasm's stack is small), 64 MiB of
    /// output and 50 million steps.
    fn default() -> Limits {
        Limits { max_depth: 1000, max_output: 64 << 20, max_steps: 50_000_000 }
    }
}

/// How to execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// What a missing key does.
    pub missing_key: MissingKey,
    /// Bounds on the execution.
    pub limits: Limits,
}

/// Control flow out of a list of nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

type XResult<T> = Result<T, ExecError>;

/// The executor's state for one `execute` call.
pub(crate) struct Exec<'a> {
    trees: &'a HashMap<String, Rc<Tree>>,
    funcs: &'a HashMap<String, Func>,
    opts: Options,
    out: String,
    written: usize,
    vars: Vec<(String, Value)>,
    depth: usize,
    steps: u64,
    tree: &'a Tree,
    /// The last map key found missing (or null), with where it was looked up;
    /// names the key when a `<no value>` would be printed.
    last_missing: Option<(String, usize)>,
}

/// What a template function can do besides computing on its arguments.
pub struct FuncCtx<'e, 'a> {
    exec: &'e mut Exec<'a>,
}

impl FuncCtx<'_, '_> {
    /// Executes the named template with `data` and returns its output
    /// (Helm's `include`). Shares this execution's limits.
    pub fn execute_template(&mut self, name: &str, data: &Value) -> Result<String, String> {
        let exec = &mut *self.exec;
        let trees = exec.trees;
        let Some(tree) = trees.get(name) else {
            return Err(format!("no such template {name:?}"));
        };
        let saved_out = std::mem::take(&mut exec.out);
        let result = exec.call_template(tree, data.clone(), 0);
        let out = std::mem::replace(&mut exec.out, saved_out);
        result.map(|_| out).map_err(|e| e.to_string())
    }

    /// Whether a template of that name exists.
    pub fn has_template(&self, name: &str) -> bool {
        self.exec.trees.contains_key(name)
    }
}

impl<'a> Exec<'a> {
    pub(crate) fn new(
        trees: &'a HashMap<String, Rc<Tree>>,
        funcs: &'a HashMap<String, Func>,
        tree: &'a Tree,
        opts: Options,
    ) -> Exec<'a> {
        Exec {
            trees,
            funcs,
            opts,
            out: String::new(),
            written: 0,
            vars: Vec::new(),
            depth: 0,
            steps: 0,
            tree,
            last_missing: None,
        }
    }

    /// Runs `tree` with `data` as dot and `$`; returns the output.
    pub(crate) fn run(mut self, data: &Value) -> XResult<String> {
        let tree = self.tree;
        self.call_template(tree, data.clone(), 0)?;
        Ok(self.out)
    }

    fn error_at(&self, pos: usize, kind: ExecErrorKind, message: String) -> ExecError {
        let (line, column) = line_col(&self.tree.source.text, pos);
        ExecError { name: self.tree.source.name.clone(), template: self.tree.name.clone(), line, column, message, kind }
    }

    /// An error with Go's context: `executing "T" at <node>: msg`.
    fn fail(&self, pos: usize, at: &dyn Display, msg: impl Display) -> ExecError {
        let message = if self.tree.name == self.tree.source.name {
            format!("at <{at}>: {msg}")
        } else {
            format!("executing {:?} at <{at}>: {msg}", self.tree.name)
        };
        self.error_at(pos, ExecErrorKind::Other, message)
    }

    fn limit(&self, pos: usize, msg: String) -> ExecError {
        let message = if self.tree.name == self.tree.source.name {
            msg
        } else {
            format!("executing {:?}: {msg}", self.tree.name)
        };
        self.error_at(pos, ExecErrorKind::Limit, message)
    }

    fn step(&mut self, pos: usize) -> XResult<()> {
        self.charge(pos, 1)
    }

    fn charge(&mut self, pos: usize, steps: u64) -> XResult<()> {
        self.steps = self.steps.saturating_add(steps);
        if self.steps > self.opts.limits.max_steps {
            return Err(self.limit(pos, format!("exceeded maximum of {} evaluation steps", self.opts.limits.max_steps)));
        }
        Ok(())
    }

    fn write(&mut self, s: &str, pos: usize) -> XResult<()> {
        self.written += s.len();
        if self.written > self.opts.limits.max_output {
            return Err(self.limit(pos, format!("output exceeds the limit of {} bytes", self.opts.limits.max_output)));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn enter(&mut self, pos: usize) -> XResult<()> {
        if self.depth >= self.opts.limits.max_depth {
            return Err(self.limit(pos, format!("exceeded maximum template depth ({})", self.opts.limits.max_depth)));
        }
        self.depth += 1;
        Ok(())
    }

    /// Walks `tree` with a fresh variable stack (`$` = dot).
    fn call_template(&mut self, tree: &'a Tree, dot: Value, pos: usize) -> XResult<()> {
        self.enter(pos)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), dot.clone())]);
        let saved_tree = std::mem::replace(&mut self.tree, tree);
        let result = self.walk(&dot, &tree.root);
        self.tree = saved_tree;
        self.vars = saved_vars;
        self.depth -= 1;
        result.map(|_| ())
    }

    fn walk(&mut self, dot: &Value, list: &'a [Node]) -> XResult<Flow> {
        for node in list {
            let flow = self.walk_node(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_node(&mut self, dot: &Value, node: &'a Node) -> XResult<Flow> {
        match node {
            Node::Text(s) => {
                self.step(0)?;
                self.write(s, 0)?;
            }
            Node::Action(pipe) => {
                self.step(pipe.pos)?;
                self.last_missing = None;
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print(pipe, v)?;
                }
            }
            Node::If(c) => return self.walk_if_with(dot, c, false),
            Node::With(c) => return self.walk_if_with(dot, c, true),
            Node::Range(c) => return self.walk_range(dot, c),
            Node::Template { pos, name, pipe } => {
                self.step(*pos)?;
                let Some(tree) = self.trees.get(name) else {
                    return Err(self.fail(*pos, &format!("template {name:?}"), format!("no such template {name:?}")));
                };
                let tree: &'a Tree = tree;
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Null,
                };
                if self.depth >= self.opts.limits.max_depth {
                    return Err(self.limit(
                        *pos,
                        format!("exceeded maximum template depth ({}) calling {name:?}", self.opts.limits.max_depth),
                    ));
                }
                self.call_template(tree, new_dot, *pos)?;
            }
            Node::Break(pos) => {
                self.step(*pos)?;
                return Ok(Flow::Break);
            }
            Node::Continue(pos) => {
                self.step(*pos)?;
                return Ok(Flow::Continue);
            }
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, pipe: &Pipe, v: Value) -> XResult<()> {
        match v {
            Value::Null => match self.opts.missing_key {
                MissingKey::ErrorOnPrint => {
                    let (key, pos) = match self.last_missing.take() {
                        Some((key, pos)) => (Some(key), pos),
                        None => (None, pipe.pos),
                    };
                    let message = match &key {
                        Some(k) => format!("no value for key {k:?}"),
                        None => format!("no value for {pipe}"),
                    };
                    Err(self.error_at(pos, ExecErrorKind::NoValue(key), message))
                }
                MissingKey::GoDefault | MissingKey::Error => self.write("<no value>", pipe.pos),
            },
            Value::Func(_) => Err(self.fail(pipe.pos, pipe, "can't print value of type func")),
            Value::String(s) => self.write(&s, pipe.pos),
            other => {
                let mut s = String::new();
                write_go(&mut s, &other);
                self.write(&s, pipe.pos)
            }
        }
    }

    fn walk_if_with(&mut self, dot: &Value, c: &'a Control, is_with: bool) -> XResult<Flow> {
        self.step(c.pos)?;
        self.enter(c.pos)?;
        let mark = self.vars.len();
        let result = (|| {
            let val = self.eval_pipeline(dot, &c.pipe)?;
            if val.is_true() {
                if is_with { self.walk(&val, &c.list) } else { self.walk(dot, &c.list) }
            } else if let Some(list) = &c.else_list {
                self.walk(dot, list)
            } else {
                Ok(Flow::Normal)
            }
        })();
        self.vars.truncate(mark);
        self.depth -= 1;
        result
    }

    fn walk_range(&mut self, dot: &Value, c: &'a Control) -> XResult<Flow> {
        self.step(c.pos)?;
        self.enter(c.pos)?;
        let mark = self.vars.len();
        let result = self.range_body(dot, c);
        self.vars.truncate(mark);
        self.depth -= 1;
        result.map(|_| Flow::Normal)
    }

    fn range_body(&mut self, dot: &Value, c: &'a Control) -> XResult<()> {
        let val = self.eval_pipeline(dot, &c.pipe)?;
        let ran = match &val {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if self.iteration(c, Value::Int(i as i64), item.clone())? == Flow::Break {
                        break;
                    }
                }
                !items.is_empty()
            }
            Value::Map(m) => {
                for (k, item) in m.iter() {
                    if self.iteration(c, Value::String(k.clone()), item.clone())? == Flow::Break {
                        break;
                    }
                }
                !m.is_empty()
            }
            Value::Int(n) => {
                if c.pipe.decl.len() > 1 {
                    return Err(self.fail(
                        c.pos,
                        &c.pipe,
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                for i in 0..*n {
                    if self.iteration(c, Value::Int(i), Value::Int(i))? == Flow::Break {
                        break;
                    }
                }
                *n > 0
            }
            Value::Null => false,
            other => {
                return Err(self.fail(c.pos, &c.pipe, format!("range can't iterate over {}", other.to_go_string())));
            }
        };
        if !ran && let Some(list) = &c.else_list {
            self.walk(dot, list)?;
        }
        Ok(())
    }

    fn iteration(&mut self, c: &'a Control, index: Value, elem: Value) -> XResult<Flow> {
        self.step(c.pos)?;
        let decl = &c.pipe.decl;
        let top = self.vars.len();
        if !decl.is_empty() {
            if c.pipe.is_assign {
                let v = if decl.len() > 1 { index.clone() } else { elem.clone() };
                self.set_var(&decl[0], v, c.pos)?;
            } else {
                self.vars[top - 1].1 = elem.clone();
            }
        }
        if decl.len() > 1 {
            if c.pipe.is_assign {
                self.set_var(&decl[1], elem.clone(), c.pos)?;
            } else {
                self.vars[top - 2].1 = index;
            }
        }
        let mark = self.vars.len();
        let flow = self.walk(&elem, &c.list);
        self.vars.truncate(mark);
        flow
    }

    /// Assigns to the innermost variable of that name (Go checks this at
    /// execution, not at parse time).
    fn set_var(&mut self, name: &str, v: Value, pos: usize) -> XResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.fail(pos, &name, format!("undefined variable: {name}"))),
        }
    }

    fn var_value(&self, name: &str, pos: usize) -> XResult<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.fail(pos, &name, format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> XResult<Value> {
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone(), pipe.pos)?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Value>) -> XResult<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.fail(args[0].pos(), &args[0], format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Command, fin: Option<Value>) -> XResult<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => self.eval_field_chain(dot.clone(), first, idents, &cmd.args, fin),
            Arg::Chain { .. } => self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Identifier(pos, name) => self.eval_function(dot, *pos, name, cmd, &cmd.args, fin),
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                self.nested_pipeline(dot, p)
            }
            Arg::Variable { pos, name, idents } => {
                let v = self.var_value(name, *pos)?;
                if idents.is_empty() {
                    self.not_a_function(&cmd.args, &fin)?;
                    return Ok(v);
                }
                self.eval_field_chain(v, first, idents, &cmd.args, fin)
            }
            _ => {
                self.not_a_function(&cmd.args, &fin)?;
                match first {
                    Arg::Nil(pos) => Err(self.fail(*pos, first, "nil is not a command")),
                    other => self.eval_arg(dot, other),
                }
            }
        }
    }

    fn nested_pipeline(&mut self, dot: &Value, p: &'a Pipe) -> XResult<Value> {
        self.enter(p.pos)?;
        let r = self.eval_pipeline(dot, p);
        self.depth -= 1;
        r
    }

    fn eval_chain(&mut self, dot: &Value, chain: &'a Arg, args: &'a [Arg], fin: Option<Value>) -> XResult<Value> {
        let Arg::Chain { node, fields, .. } = chain else {
            return self.eval_arg(dot, chain);
        };
        if let Arg::Nil(pos) = node.as_ref() {
            return Err(self.fail(*pos, chain, format!("indirection through explicit nil in {chain}")));
        }
        let receiver = self.eval_arg(dot, node)?;
        self.eval_field_chain(receiver, chain, fields, args, fin)
    }

    fn eval_field_chain(
        &mut self,
        receiver: Value,
        node: &Arg,
        idents: &[String],
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> XResult<Value> {
        let n = idents.len();
        let mut recv = receiver;
        for ident in &idents[..n - 1] {
            recv = self.eval_field(ident, node, &[], None, recv)?;
        }
        self.eval_field(&idents[n - 1], node, args, fin, recv)
    }

    fn eval_field(
        &mut self,
        name: &str,
        node: &Arg,
        args: &[Arg],
        fin: Option<Value>,
        receiver: Value,
    ) -> XResult<Value> {
        let pos = node.pos();
        match receiver {
            Value::Null => {
                if self.opts.missing_key == MissingKey::Error {
                    return Err(self.fail(pos, node, format!("nil data; no entry for key {name:?}")));
                }
                // In `.A.B` with A missing, A stays the key to blame.
                if self.last_missing.is_none() {
                    self.last_missing = Some((name.to_string(), pos));
                }
                Ok(Value::Null)
            }
            Value::Map(m) => {
                if args.len() > 1 || fin.is_some() {
                    return Err(self.fail(pos, node, format!("{name} is not a method but has arguments")));
                }
                match m.get(name) {
                    Some(v) => {
                        if matches!(v, Value::Null) {
                            self.last_missing = Some((name.to_string(), pos));
                        }
                        Ok(v.clone())
                    }
                    None => {
                        if self.opts.missing_key == MissingKey::Error {
                            return Err(self.fail(pos, node, format!("map has no entry for key {name:?}")));
                        }
                        self.last_missing = Some((name.to_string(), pos));
                        Ok(Value::Null)
                    }
                }
            }
            other => Err(self.fail(pos, node, format!("can't evaluate field {name} in type {}", other.type_name()))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        at: &dyn Display,
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> XResult<Value> {
        let rest = &args[1..];
        if name == "and" || name == "or" {
            if rest.is_empty() && fin.is_none() {
                return Err(self.fail(pos, at, format!("wrong number of args for {name}: want at least 1 got 0")));
            }
            let want = name == "or";
            let mut v = Value::Null;
            for a in rest {
                v = self.eval_arg(dot, a)?;
                if v.is_true() == want {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(rest.len() + 1);
        for a in rest {
            argv.push(self.eval_arg(dot, a)?);
        }
        if let Some(f) = fin {
            argv.push(f);
        }
        if name == "call" {
            return self.call_builtin(pos, at, rest, argv);
        }
        let Some(func) = self.funcs.get(name) else {
            return Err(self.fail(pos, at, format!("{name:?} is not a defined function")));
        };
        let func = func.clone();
        let result = func(&mut FuncCtx { exec: self }, &argv);
        let value = result.map_err(|e| self.fail(pos, at, format!("error calling {name}: {e}")))?;
        if let Value::String(text) = &value {
            self.charge(pos, (text.len() / BYTES_PER_STEP) as u64)?;
        }
        if MUTATING_FUNCS.contains(&name)
            && let (Some(Arg::Variable { pos, name: var, idents }), Value::Map(_)) = (rest.first(), &value)
        {
            self.rebind(var, idents, value.clone(), *pos)?;
        }
        Ok(value)
    }

    /// Values are immutable here, so a sprig function that changes its map
    /// argument in place in Go returns the changed map instead; when that
    /// argument is a variable (`$_ := set $labels "k" "v"`, or a path under
    /// one, `set $.Values.x …`), the variable takes the changed map, so the
    /// rest of the template sees the change as it would in Go.
    fn rebind(&mut self, var: &str, idents: &[String], value: Value, pos: usize) -> XResult<()> {
        fn with_path(base: &Value, path: &[String], value: Value) -> Value {
            let Some((first, rest)) = path.split_first() else { return value };
            let Value::Map(m) = base else { return base.clone() };
            let Some(child) = m.get(first) else { return base.clone() };
            let mut m = (**m).clone();
            let new_child = with_path(child, rest, value);
            m.insert(first.clone(), new_child);
            Value::map(m)
        }
        let current = self.var_value(var, pos)?;
        self.set_var(var, with_path(&current, idents, value), pos)
    }

    fn call_builtin(&mut self, pos: usize, at: &dyn Display, rest: &[Arg], argv: Vec<Value>) -> XResult<Value> {
        let Some(first) = argv.first() else {
            return Err(self.fail(pos, at, "wrong number of args for call: want at least 1 got 0"));
        };
        let what = rest.first().map_or_else(|| "pipeline value".to_string(), |a| a.to_string());
        match first {
            Value::Func(f) => (f.0)(&argv[1..]).map_err(|e| self.fail(pos, at, format!("error calling call: {e}"))),
            Value::Null => Err(self.fail(pos, at, "error calling call: call of nil")),
            other => Err(self.fail(
                pos,
                at,
                format!("error calling call: non-function {what} of type {}", other.type_name()),
            )),
        }
    }

    fn eval_arg(&mut self, dot: &Value, arg: &'a Arg) -> XResult<Value> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Null),
            Arg::Field { idents, .. } => {
                self.eval_field_chain(dot.clone(), arg, idents, std::slice::from_ref(arg), None)
            }
            Arg::Variable { pos, name, idents } => {
                let v = self.var_value(name, *pos)?;
                if idents.is_empty() {
                    return Ok(v);
                }
                self.eval_field_chain(v, arg, idents, std::slice::from_ref(arg), None)
            }
            Arg::Pipe(p) => self.nested_pipeline(dot, p),
            Arg::Identifier(pos, name) => self.eval_function(dot, *pos, name, arg, std::slice::from_ref(arg), None),
            Arg::Chain { .. } => self.eval_chain(dot, arg, std::slice::from_ref(arg), None),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Number { pos, value, .. } => value.clone().map_err(|e| self.fail(*pos, arg, e)),
            Arg::Str { value, .. } => Ok(Value::String(value.clone())),
        }
    }
}

/// Runs `f` with a context that has no templates (for testing functions).
#[cfg(test)]
pub(crate) fn with_func_ctx<R>(f: impl FnOnce(&mut FuncCtx<'_, '_>) -> R) -> R {
    let trees = HashMap::new();
    let funcs = HashMap::new();
    let source = Rc::new(super::ast::Source { name: "test".into(), text: String::new() });
    let tree = Tree { name: "test".into(), source, root: Vec::new() };
    let mut exec = Exec::new(&trees, &funcs, &tree, Options::default());
    f(&mut FuncCtx { exec: &mut exec })
}
