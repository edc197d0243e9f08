#![deny(missing_docs)]
//! The `render` builtin: renders sealer-style `*.tmpl` files with Go
//! `text/template` semantics.
//!
//! - [`engine`]: the template engine (also used by other builtins, e.g.
//!   for Helm charts).
//! - [`walk`]: the render step over an image tree (`/in` → `/out`).

pub mod engine;
pub mod walk;
