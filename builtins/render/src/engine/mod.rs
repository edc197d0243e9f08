//! A Go `text/template` engine over JSON-like [`Value`]s.
//!
//! [`Templates`] is a set of named templates sharing one function map, like
//! Go's `*template.Template`: parse sources into it (each `define`/`block`
//! adds a name), then execute any name with a value and [`Options`].
//!
//! ```
//! use sealbox_render::engine::{Options, Templates, Value};
//!
//! let mut set = Templates::new();
//! set.parse("kubeadm.yml", r#"imageRepository: {{or .RegistryURL "sea.hub:5000"}}"#).unwrap();
//! let out = set.execute("kubeadm.yml", &Value::from_pairs([]), &Options::default()).unwrap();
//! assert_eq!(out, "imageRepository: sea.hub:5000");
//! ```

mod ast;
mod error;
mod exec;
mod funcs;
mod lexer;
mod parser;
mod printf;
mod sprig;
mod value;
mod yaml;

use std::collections::HashMap;
use std::rc::Rc;

pub use error::{Error, ExecError, ExecErrorKind, ParseError, line_col};
pub use exec::{BYTES_PER_STEP, Func, FuncCtx, Limits, MissingKey, Options};
pub use parser::MAX_NESTING;
pub use printf::{quote_go, sprint, sprintf};
pub use sprig::to_json;
pub use value::{NativeFn, Value};
pub use yaml::to_yaml;

use ast::Tree;

/// The functions sealer's own renderer adds to Go's builtins.
pub const SEALER_FUNCS: &[&str] = &["b64enc", "b64dec"];

/// A set of named templates and the functions they may call.
#[derive(Clone)]
pub struct Templates {
    trees: HashMap<String, Rc<Tree>>,
    /// Shared until changed: sets made by [`Templates::new`] cost no copying.
    funcs: Rc<HashMap<String, Func>>,
    delims: (String, String),
}

impl Default for Templates {
    fn default() -> Templates {
        Templates::new()
    }
}

impl Templates {
    /// An empty set with Go's builtins, sealer's `b64enc`/`b64dec` and the
    /// sprig subset.
    pub fn new() -> Templates {
        thread_local! {
            static FULL: Templates = {
                let mut t = Templates::go_only();
                let funcs = Rc::make_mut(&mut t.funcs);
                for (name, func) in sprig::functions() {
                    funcs.insert(name.to_string(), func);
                }
                t
            };
        }
        FULL.with(Templates::clone)
    }

    /// An empty set with exactly what sealer's deploy-time renderer
    /// defines: Go's builtins and [`SEALER_FUNCS`] (sealer's
    /// `pkg/env/env.go`). A template that calls anything else fails to
    /// parse here, as it fails in `sealer run`.
    pub fn sealer() -> Templates {
        thread_local! {
            static SEALER: Templates = {
                let mut t = Templates::go_only();
                let funcs = Rc::make_mut(&mut t.funcs);
                for (name, func) in sprig::functions().into_iter().filter(|(n, _)| SEALER_FUNCS.contains(n)) {
                    funcs.insert(name.to_string(), func);
                }
                t
            };
        }
        SEALER.with(Templates::clone)
    }

    /// An empty set with only Go's builtin functions.
    pub fn go_only() -> Templates {
        thread_local! {
            static GO: Rc<HashMap<String, Func>> =
                Rc::new(funcs::builtins().into_iter().map(|(n, f)| (n.to_string(), f)).collect());
        }
        let funcs = GO.with(Rc::clone);
        Templates { trees: HashMap::new(), funcs, delims: ("{{".into(), "}}".into()) }
    }

    /// Uses other action delimiters for sources parsed from now on.
    pub fn set_delims(&mut self, left: &str, right: &str) -> &mut Templates {
        self.delims = (left.to_string(), right.to_string());
        self
    }

    /// Adds or replaces a function. Functions must be added before parsing
    /// templates that call them.
    pub fn add_func(&mut self, name: &str, func: Func) -> &mut Templates {
        Rc::make_mut(&mut self.funcs).insert(name.to_string(), func);
        self
    }

    /// Adds or replaces a function that only needs its arguments.
    pub fn add_fn(&mut self, name: &str, func: impl Fn(&[Value]) -> Result<Value, String> + 'static) -> &mut Templates {
        self.add_func(name, Rc::new(move |_ctx: &mut FuncCtx<'_, '_>, args: &[Value]| func(args)))
    }

    /// The function of that name, to register it again under another
    /// (sprig's aliases); the special forms (`and`, `or`…) are not here.
    pub fn func(&self, name: &str) -> Option<Func> {
        self.funcs.get(name).cloned()
    }

    /// Whether a function of that name can be called.
    pub fn has_func(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || funcs::SPECIAL_FORMS.contains(&name)
    }

    /// Removes the template `name`, so that parsing an empty source under
    /// that name leaves no template rather than the old one (helm's `tpl`).
    pub fn remove(&mut self, name: &str) {
        self.trees.remove(name);
    }

    /// Parses `text` as the template `name`, adding every template it
    /// defines. A source that only defines templates does not replace an
    /// existing template of its own name.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        let trees = parser::parse(name, text, (&self.delims.0, &self.delims.1), &|n| self.has_func(n))?;
        for tree in trees {
            if tree.is_empty() && self.trees.contains_key(&tree.name) {
                continue;
            }
            self.trees.insert(tree.name.clone(), Rc::new(tree));
        }
        Ok(())
    }

    /// Whether a template of that name exists.
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// The template names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.trees.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Executes the template `name` with `data` as dot and `$`.
    pub fn execute(&self, name: &str, data: &Value, opts: &Options) -> Result<String, ExecError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(ExecError {
                name: name.to_string(),
                template: name.to_string(),
                line: 1,
                column: 1,
                message: format!("no template {name:?} is defined"),
                kind: ExecErrorKind::Other,
            });
        };
        exec::Exec::new(&self.trees, &self.funcs, tree, *opts).run(data)
    }
}

#[cfg(test)]
pub(crate) fn with_func_ctx<R>(f: impl FnOnce(&mut FuncCtx<'_, '_>) -> R) -> R {
    exec::with_func_ctx(f)
}
