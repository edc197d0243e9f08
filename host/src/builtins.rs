//! The builtin step modules, compiled to wasm32-wasip1 at build time and
//! embedded in the binary (see `host/build.rs`), each with its artifact
//! precompiled for the machine that built the binary.

/// One embedded builtin.
pub struct Builtin {
    /// The name a Kubefile or pipeline file uses (`builtin:NAME`).
    pub name: &'static str,
    /// The module as wasm.
    pub wasm: &'static [u8],
    /// The digest of `wasm` and its precompiled artifact (`None` in a
    /// cross-compiled binary, or one built with
    /// `SEALBOX_PRECOMPILE_BUILTINS=0`).
    pub precompiled: Option<(&'static str, &'static [u8])>,
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The wasm bytes of the builtin called `name` (`pack`, `render`, …).
pub fn get(name: &str) -> Option<&'static [u8]> {
    EMBEDDED.iter().find(|b| b.name == name).map(|b| b.wasm)
}

/// The digest (`sha256:…`) of the builtin called `name`, known without
/// loading it: taken from the build when the binary carries its artifact.
pub fn digest(name: &str) -> Option<String> {
    let b = EMBEDDED.iter().find(|b| b.name == name)?;
    Some(match b.precompiled {
        Some((digest, _)) => digest.to_string(),
        None => crate::sandbox::sha256_digest(b.wasm),
    })
}

/// The names of every builtin, for help texts and errors.
pub fn names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|b| b.name)
}

/// The artifact precompiled at build time for the module whose wasm has
/// `digest`, if it is a builtin. Matching by digest, not by name, means any
/// load of those exact bytes (a builtin named in a pipeline file, or the
/// same module given as a file) gets it, and nothing else can.
pub fn precompiled(digest: &str) -> Option<&'static [u8]> {
    EMBEDDED.iter().filter_map(|b| b.precompiled).find(|(d, _)| *d == digest).map(|(_, artifact)| artifact)
}
