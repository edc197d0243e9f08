//! The builtin step modules, compiled to wasm32-wasip1 at build time and
//! embedded in the binary (see `host/build.rs`).

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The wasm bytes of the builtin called `name` (`pack`, `render`, …).
pub fn get(name: &str) -> Option<&'static [u8]> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// The names of every builtin, for help texts and errors.
pub fn names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|(n, _)| *n)
}
