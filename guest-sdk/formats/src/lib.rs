//! The formats that the host and the step modules both read, each with one
//! implementation and one test table, so that a manifest, an image
//! reference or a pattern means the same thing wherever sealbox looks at it.
//!
//! Builds for the host and for `wasm32-wasip1`; no I/O lives here: every
//! function takes text and returns values or an error naming line and cause.

pub mod glob;
pub mod layout;
pub mod reference;
pub mod table;
pub mod time;
pub mod yaml;
