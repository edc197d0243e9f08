//! Builds [`Tree`]s from tokens with Go's grammar and Go's parse-time
//! checks: undefined variables and functions, `break`/`continue` outside
//! `range`, `define` only at the top level, and a bound on nesting depth.

use std::rc::Rc;

use super::ast::{Arg, Command, Control, Node, Pipe, Source, Tree};
use super::error::ParseError;
use super::lexer::{Keyword, Span, Tok, Token, lex};
use super::printf::quote_go;
use super::value::Value;

/// How deeply parentheses and control structures may nest. Go allows
/// 10000; the parser and executor recurse per level, and wasm's stack is
/// small, so we stop much earlier.
pub const MAX_NESTING: usize = 200;

/// Parses `text` (named `name`) into its main tree and any `define`d or
/// `block` trees, in source order. `has_func` says whether a function name
/// exists (Go rejects unknown functions at parse time).
pub fn parse(
    name: &str,
    text: &str,
    delims: (&str, &str),
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, ParseError> {
    let source = Rc::new(Source { name: name.to_string(), text: text.to_string() });
    let result = (|| {
        let lexed = lex(text, delims.0, delims.1)?;
        let mut p = Parser {
            tokens: lexed.tokens,
            strings: lexed.strings,
            i: 0,
            src: &source,
            vars: vec!["$".to_string()],
            range_depth: 0,
            depth: 0,
            has_func,
            defs: Vec::new(),
        };
        let root = p.top_level()?;
        let mut trees = vec![Tree { name: name.to_string(), source: source.clone(), root }];
        trees.append(&mut p.defs);
        Ok(trees)
    })();
    result.map_err(|mut e: ParseError| {
        e.name = name.to_string();
        e
    })
}

struct Parser<'a> {
    tokens: Vec<Token>,
    strings: Vec<String>,
    i: usize,
    src: &'a Rc<Source>,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    has_func: &'a dyn Fn(&str) -> bool,
    defs: Vec<Tree>,
}

/// What ended an item list.
enum ListEnd {
    End,
    /// `{{else}}`; when followed by `if`/`with`, that keyword is left pending.
    Else(usize),
}

type PResult<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError::at(&self.src.text, pos, msg))
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.i.min(self.tokens.len() - 1)]
    }

    /// The source text of a span, owned.
    fn text(&self, span: Span) -> String {
        span.of(&self.src.text).to_string()
    }

    fn next(&mut self) -> Token {
        let t = *self.peek();
        if self.i < self.tokens.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn skip_space(&mut self) {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> &Token {
        self.skip_space();
        self.peek()
    }

    fn describe(&self, tok: &Tok) -> String {
        let src = &self.src.text;
        match *tok {
            Tok::Text(_) => "text".into(),
            Tok::LeftDelim => "<left delim>".into(),
            Tok::RightDelim => "<right delim>".into(),
            Tok::Space => "space".into(),
            Tok::Bool(b) => format!("{b:?}"),
            Tok::Char(c) => format!("{:?}", c),
            Tok::Number(n) => format!("number {:?}", n.of(src)),
            Tok::Str(i) => format!("string {}", quote_go(&self.strings[i])),
            Tok::Identifier(s) => format!("{:?}", s.of(src)),
            Tok::Keyword(k) => format!("<{}>", format!("{k:?}").to_lowercase()),
            Tok::Field(f) => format!("\".{}\"", f.of(src)),
            Tok::Variable(v) => format!("{:?}", v.of(src)),
            Tok::Dot => "\".\"".into(),
            Tok::Nil => "nil".into(),
            Tok::Declare => "\":=\"".into(),
            Tok::Assign => "\"=\"".into(),
            Tok::Pipe => "\"|\"".into(),
            Tok::LeftParen => "\"(\"".into(),
            Tok::RightParen => "\")\"".into(),
            Tok::Char0(c) => format!("{:?}", c.to_string()),
            Tok::Eof => "EOF".into(),
        }
    }

    fn unexpected<T>(&self, t: &Token, context: &str) -> PResult<T> {
        self.err(t.pos, format!("unexpected {} in {context}", self.describe(&t.tok)))
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(pos, format!("max expression depth exceeded ({MAX_NESTING})"));
        }
        Ok(())
    }

    fn top_level(&mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            match &self.peek().tok {
                Tok::Eof => return Ok(list),
                Tok::LeftDelim => {
                    let save = self.i;
                    let delim = self.next();
                    if self.peek_non_space().tok == Tok::Keyword(Keyword::Define) {
                        self.next();
                        self.definition(delim.pos)?;
                        continue;
                    }
                    self.i = save;
                }
                _ => {}
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End(pos) => return self.err(pos, "unexpected {{end}}"),
                Item::Else(pos) => return self.err(pos, "unexpected {{else}}"),
            }
        }
    }

    /// `{{define "name"}} list {{end}}`, the `define` already consumed.
    fn definition(&mut self, pos: usize) -> PResult<()> {
        let tok = self.next_non_space();
        let name = self.template_name(&tok, "define clause")?;
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return self.unexpected(&t, "define clause");
        }
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if let ListEnd::Else(p) = end {
            return self.err(p, "unexpected {{else}} in define clause");
        }
        self.add_def(pos, Tree { name, source: self.src.clone(), root: list })
    }

    /// Records a definition; two non-empty definitions of one name in one
    /// source are an error, as in Go.
    fn add_def(&mut self, pos: usize, tree: Tree) -> PResult<()> {
        if let Some(i) = self.defs.iter().position(|d| d.name == tree.name) {
            if !self.defs[i].is_empty() && !tree.is_empty() {
                return self.err(pos, format!("template: multiple definition of template {:?}", tree.name));
            }
            if !tree.is_empty() {
                self.defs[i] = tree;
            }
            return Ok(());
        }
        self.defs.push(tree);
        Ok(())
    }

    fn template_name(&self, tok: &Token, context: &str) -> PResult<String> {
        match &tok.tok {
            Tok::Str(i) => Ok(self.strings[*i].clone()),
            _ => self.unexpected(tok, context),
        }
    }

    /// Nodes up to an `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, ListEnd)> {
        let mut list = Vec::new();
        loop {
            if self.peek_non_space().tok == Tok::Eof {
                let pos = self.peek().pos;
                return self.err(pos, "unexpected EOF");
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End(_) => return Ok((list, ListEnd::End)),
                Item::Else(p) => return Ok((list, ListEnd::Else(p))),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Text(s) => Ok(Item::Node(Node::Text(self.text(s)))),
            Tok::LeftDelim => self.action(),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        let pos = t.pos;
        match t.tok {
            Tok::Keyword(Keyword::Block) => self.block(pos).map(Item::Node),
            Tok::Keyword(Keyword::Break) => self.loop_control(pos, "break").map(|_| Item::Node(Node::Break(pos))),
            Tok::Keyword(Keyword::Continue) => {
                self.loop_control(pos, "continue").map(|_| Item::Node(Node::Continue(pos)))
            }
            Tok::Keyword(Keyword::Else) => self.else_control(pos),
            Tok::Keyword(Keyword::End) => {
                self.expect_right_delim("end")?;
                Ok(Item::End(pos))
            }
            Tok::Keyword(Keyword::If) => self.control(pos, "if").map(|c| Item::Node(Node::If(c))),
            Tok::Keyword(Keyword::Range) => self.control(pos, "range").map(|c| Item::Node(Node::Range(c))),
            Tok::Keyword(Keyword::With) => self.control(pos, "with").map(|c| Item::Node(Node::With(c))),
            Tok::Keyword(Keyword::Template) => self.template(pos).map(Item::Node),
            Tok::Keyword(Keyword::Define) => self.err(pos, "unexpected <define> in command"),
            _ => {
                self.i -= 1;
                let pipe = self.pipeline("command", Tok::RightDelim)?;
                Ok(Item::Node(Node::Action(pipe)))
            }
        }
    }

    fn expect_right_delim(&mut self, context: &str) -> PResult<()> {
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return self.unexpected(&t, context);
        }
        Ok(())
    }

    fn loop_control(&mut self, pos: usize, word: &str) -> PResult<()> {
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return self.err(t.pos, format!("unexpected {} in {{{{{word}}}}}", self.describe(&t.tok)));
        }
        if self.range_depth == 0 {
            return self.err(pos, format!("{{{{{word}}}}} outside {{{{range}}}}"));
        }
        Ok(())
    }

    fn else_control(&mut self, pos: usize) -> PResult<Item> {
        let peek = self.peek_non_space().tok;
        if matches!(peek, Tok::Keyword(Keyword::If) | Tok::Keyword(Keyword::With)) {
            // `else if`/`else with`: leave the keyword for the enclosing control.
            return Ok(Item::Else(pos));
        }
        self.expect_right_delim("else")?;
        Ok(Item::Else(pos))
    }

    fn control(&mut self, pos: usize, context: &str) -> PResult<Control> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(pos, format!("max control structure depth exceeded ({MAX_NESTING})"));
        }
        let vars_mark = self.vars.len();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let ListEnd::Else(_) = end {
            let chained = match (&self.peek_non_space().tok, context) {
                (Tok::Keyword(Keyword::If), "if") => Some("if"),
                (Tok::Keyword(Keyword::With), "with") => Some("with"),
                _ => None,
            };
            if let Some(kind) = chained {
                // {{if a}}_{{else if b}}_{{end}} is {{if a}}_{{else}}{{if b}}_{{end}}{{end}}.
                let kw = self.next();
                let inner = self.control(kw.pos, kind)?;
                let node = if kind == "if" { Node::If(inner) } else { Node::With(inner) };
                else_list = Some(vec![node]);
            } else {
                if matches!(self.peek_non_space().tok, Tok::Keyword(Keyword::If) | Tok::Keyword(Keyword::With)) {
                    let t = *self.peek();
                    return self.unexpected(&t, context);
                }
                let (list, end) = self.item_list()?;
                if let ListEnd::Else(p) = end {
                    return self.err(p, "expected end; found {{else}}");
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(vars_mark);
        self.depth -= 1;
        Ok(Control { pos, pipe, list, else_list })
    }

    fn template(&mut self, pos: usize) -> PResult<Node> {
        let tok = self.next_non_space();
        let name = self.template_name(&tok, "template clause")?;
        let pipe = if self.peek_non_space().tok == Tok::RightDelim {
            self.next();
            None
        } else {
            Some(self.pipeline("template clause", Tok::RightDelim)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block(&mut self, pos: usize) -> PResult<Node> {
        let tok = self.next_non_space();
        let name = self.template_name(&tok, "block clause")?;
        let pipe = self.pipeline("block clause", Tok::RightDelim)?;
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(pos, format!("max control structure depth exceeded ({MAX_NESTING})"));
        }
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::take(&mut self.range_depth);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        self.range_depth = saved_range;
        if let ListEnd::Else(p) = end {
            return self.err(p, "unexpected {{else}} in block clause");
        }
        self.depth -= 1;
        self.add_def(pos, Tree { name: name.clone(), source: self.src.clone(), root: list })?;
        Ok(Node::Template { pos, name, pipe: Some(pipe) })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe { pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        // Declarations: `$x :=`, `$x =`, `$i, $v :=`.
        loop {
            let save = self.i;
            let Tok::Variable(name) = self.peek_non_space().tok else { break };
            let name = self.text(name);
            let vpos = self.peek().pos;
            self.next();
            let after_var = self.peek().tok;
            match self.peek_non_space().tok {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = self.peek().tok == Tok::Assign;
                    self.next();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    break;
                }
                Tok::Char0(',') => {
                    self.next();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().tok {
                            Tok::Variable(_) | Tok::RightDelim | Tok::RightParen => continue,
                            _ => return self.err(vpos, "range can only initialize variables"),
                        }
                    }
                    return self.err(vpos, format!("too many declarations in {context}"));
                }
                _ if after_var == Tok::Space => {
                    self.i = save;
                    break;
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            if t.tok == end {
                self.check_pipeline(&pipe, context, t.pos)?;
                return Ok(pipe);
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Identifier(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.i -= 1;
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str, pos: usize) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.err(pos, format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(c.args[0], Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number { .. } | Arg::Str { .. }) {
                return self.err(c.pos, format!("non executable command in pipeline stage {}", i + 1));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command { pos, args: Vec::new() };
        loop {
            self.skip_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.i -= 1,
                Tok::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.err(pos, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else { return Ok(None) };
        if !matches!(self.peek().tok, Tok::Field(_)) {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while let Tok::Field(f) = self.peek().tok {
            fields.push(self.text(f));
            self.next();
        }
        Ok(Some(match node {
            Arg::Field { pos, mut idents } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { pos, name, mut idents } => {
                idents.extend(fields);
                Arg::Variable { pos, name, idents }
            }
            Arg::Bool(..) | Arg::Str { .. } | Arg::Number { .. } | Arg::Nil(_) | Arg::Dot(_) => {
                return self.err(chain_pos, format!("unexpected . after term {:?}", node.to_string()));
            }
            other => Arg::Chain { pos: other.pos(), node: Box::new(other), fields },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.tok {
            Tok::Identifier(name) => {
                let name = self.text(name);
                if !(self.has_func)(&name) {
                    return self.err(pos, format!("function {name:?} not defined"));
                }
                Arg::Identifier(pos, name)
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Variable(name) => {
                let name = self.text(name);
                if !self.vars.contains(&name) {
                    return self.err(pos, format!("undefined variable {name:?}"));
                }
                Arg::Variable { pos, name, idents: Vec::new() }
            }
            Tok::Field(f) => Arg::Field { pos, idents: vec![self.text(f)] },
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::Char(c) => {
                let end = self.tokens[self.i].pos;
                let text = self.src.text[pos..end].trim_end().to_string();
                Arg::Number { pos, text, value: Ok(Value::Int(c as i64)) }
            }
            Tok::Number(text) => {
                let text = self.text(text);
                let value = number_value(&text);
                if let Err(e) = &value
                    && e.starts_with("illegal")
                {
                    return self.err(pos, e.clone());
                }
                Arg::Number { pos, text, value }
            }
            Tok::LeftParen => {
                self.enter(pos)?;
                let p = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                self.depth -= 1;
                Arg::Pipe(Box::new(p))
            }
            Tok::Str(i) => {
                let end = self.tokens[self.i].pos;
                let quoted = self.src.text[pos..end].trim_end().to_string();
                Arg::Str { pos, quoted, value: self.strings[i].clone() }
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }
}

enum Item {
    Node(Node),
    End(usize),
    Else(usize),
}

/// The value of a number literal as Go's `idealConstant` picks it for an
/// `interface{}` argument: float when written with `.`/exponent (and not a
/// hex integer), else int. `Err("illegal...")` is a parse error, other
/// errors surface when the constant is evaluated (Go: "overflows int").
fn number_value(text: &str) -> Result<Value, String> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, &clean[..]),
    };
    let lower = body.to_ascii_lowercase();
    let is_hex = lower.starts_with("0x");
    let floaty = if is_hex { lower.contains('p') } else { lower.contains(['.', 'e']) };
    if floaty {
        let f = if is_hex { parse_hex_float(&lower[2..]) } else { lower.parse::<f64>().ok() };
        return match f {
            Some(f) => Ok(Value::Float(if neg { -f } else { f })),
            None => Err(format!("illegal number syntax: {text:?}")),
        };
    }
    let (radix, digits) = if is_hex {
        (16, &lower[2..])
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, &lower[..])
    };
    if digits.is_empty() {
        return Err(format!("illegal number syntax: {text:?}"));
    }
    match u128::from_str_radix(digits, radix) {
        Ok(u) => {
            let v = if neg { -(u as i128) } else { u as i128 };
            i64::try_from(v).map(Value::Int).map_err(|_| format!("{text} overflows int"))
        }
        Err(_) if digits.len() > 30 && digits.chars().all(|c| c.is_digit(radix)) => {
            Err(format!("{text} overflows int"))
        }
        Err(_) => Err(format!("illegal number syntax: {text:?}")),
    }
}

/// Parses the part of a hex float after `0x` (`1.ep+2`).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(src: &str) -> String {
        parse("t", src, ("{{", "}}"), &|n| n == "printf").unwrap_err().to_string()
    }

    #[test]
    fn numbers_follow_go() {
        assert_eq!(number_value("0377"), Ok(Value::Int(255)));
        assert_eq!(number_value("0b_1_0_1"), Ok(Value::Int(5)));
        assert_eq!(number_value("0xEF"), Ok(Value::Int(239)));
        assert_eq!(number_value("+0x1.ep+2"), Ok(Value::Float(7.5)));
        assert_eq!(number_value("1e1"), Ok(Value::Float(10.0)));
        assert!(number_value("0x8000000000000000").unwrap_err().contains("overflows int"));
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(parse_err("{{$x}}"), "t:1:3: undefined variable \"$x\"");
        assert_eq!(parse_err("a\n {{nope 1}}"), "t:2:4: function \"nope\" not defined");
        assert_eq!(parse_err("{{if true}}{{break}}{{end}}"), "t:1:14: {{break}} outside {{range}}");
        assert_eq!(parse_err("{{if true}}x"), "t:1:13: unexpected EOF");
        assert_eq!(parse_err("{{.X | 3}}"), "t:1:8: non executable command in pipeline stage 2");
    }

    #[test]
    fn bounds_nesting() {
        let deep = format!("{{{{{}1{}}}}}", "(".repeat(500), ")".repeat(500));
        assert!(parse_err(&deep).contains("max expression depth exceeded"));
    }

    #[test]
    fn collects_definitions() {
        let trees =
            parse("main", "a{{define \"x\"}}X{{end}}{{block \"y\" .}}Y{{end}}", ("{{", "}}"), &|_| true).unwrap();
        let names: Vec<_> = trees.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["main", "x", "y"]);
    }
}
