//! The `kyverno` builtin: a Kyverno-compatible policy engine.
pub mod anchor;
pub mod conditions;
pub mod context;
pub mod duration;
pub mod gofmt;
pub mod jmes;
pub mod jmes_functions;
pub mod pattern;
pub mod quantity;
pub mod timeutil;
pub mod validate;
pub mod variables;
pub mod wildcard;
pub mod yaml;
