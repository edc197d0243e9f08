//! The `kyverno` builtin: a Kyverno-compatible policy engine (see the crate README section below).
pub mod anchor;
pub mod conditions;
pub mod duration;
pub mod gofmt;
pub mod pattern;
pub mod quantity;
pub mod validate;
pub mod wildcard;
pub mod yaml;
