//! What a wasm file is, read without running it: core module or component,
//! its digest, its `sealbox.module` metadata and its imports.

use sealbox_guest::{METADATA_SECTION, ModuleMetadata};
use sha2::{Digest, Sha256};
use wasmparser::{Parser, Payload};

/// The two binary formats a step module may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryKind {
    /// A wasm32-wasip1 core module exporting `_start`.
    Core,
    /// A wasm32-wasip2 command component exporting `wasi:cli/run`.
    Component,
}

/// A module's bytes and what can be read off them.
#[derive(Debug, Clone)]
pub struct ModuleBinary {
    pub bytes: Vec<u8>,
    pub kind: BinaryKind,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// The metadata section, if the module has one.
    pub metadata: Option<ModuleMetadata>,
}

/// Why a file is not a usable module.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("not a WebAssembly module or component (bad magic number)")]
    NotWasm,
    #[error("malformed WebAssembly: {0}")]
    Malformed(String),
    #[error("its `sealbox.module` metadata is not valid: {0}")]
    BadMetadata(String),
    #[error("it has more than one `sealbox.module` section")]
    DuplicateMetadata,
}

impl ModuleBinary {
    /// Reads the kind, digest and metadata of `bytes`.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, BinaryError> {
        let kind = if Parser::is_component(&bytes) {
            BinaryKind::Component
        } else if Parser::is_core_wasm(&bytes) {
            BinaryKind::Core
        } else {
            return Err(BinaryError::NotWasm);
        };
        let metadata = match find_metadata(&bytes)? {
            Some(raw) => Some(serde_json::from_slice(raw).map_err(|e| BinaryError::BadMetadata(e.to_string()))?),
            None => None,
        };
        let digest = sha256_digest(&bytes);
        Ok(ModuleBinary { bytes, kind, digest, metadata })
    }

    /// The module's imports, as `module::name` for core modules and as
    /// interface names for components, in file order.
    pub fn imports(&self) -> Result<Vec<String>, BinaryError> {
        let mut out = Vec::new();
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(&self.bytes) {
            match payload.map_err(|e| BinaryError::Malformed(e.to_string()))? {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ImportSection(reader) if depth == 0 => {
                    for import in reader.into_imports() {
                        let import = import.map_err(|e| BinaryError::Malformed(e.to_string()))?;
                        out.push(format!("{}::{}", import.module, import.name));
                    }
                }
                Payload::ComponentImportSection(reader) if depth == 0 => {
                    for import in reader {
                        let import = import.map_err(|e| BinaryError::Malformed(e.to_string()))?;
                        out.push(import.name.name.to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Finds the `sealbox.module` custom section anywhere in the binary: at the
/// top level (where `sealbox module annotate` puts it) or inside a nested core
/// module (where a Rust wasip2 build leaves the SDK's section).
fn find_metadata(bytes: &[u8]) -> Result<Option<&[u8]>, BinaryError> {
    let mut found = None;
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::CustomSection(section) = payload.map_err(|e| BinaryError::Malformed(e.to_string()))?
            && section.name() == METADATA_SECTION
        {
            if found.is_some() {
                return Err(BinaryError::DuplicateMetadata);
            }
            found = Some(section.data());
        }
    }
    Ok(found)
}

/// Returns `bytes` with a top-level `sealbox.module` custom section holding
/// `metadata` appended. Custom sections may follow every other section in
/// both core modules and components, so appending keeps the binary valid.
pub fn with_metadata(bytes: &[u8], metadata: &ModuleMetadata) -> Result<Vec<u8>, BinaryError> {
    if find_metadata(bytes)?.is_some() {
        return Err(BinaryError::DuplicateMetadata);
    }
    let payload = serde_json::to_vec(metadata).map_err(|e| BinaryError::BadMetadata(e.to_string()))?;
    let mut name = Vec::new();
    leb128(&mut name, METADATA_SECTION.len() as u64);
    name.extend_from_slice(METADATA_SECTION.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    leb128(&mut out, (name.len() + payload.len()) as u64);
    out.extend_from_slice(&name);
    out.extend_from_slice(&payload);
    Ok(out)
}

fn leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbox_guest::{Capabilities, ModuleKind};

    const EMPTY_CORE: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn rejects_non_wasm() {
        assert!(matches!(ModuleBinary::parse(b"#!/bin/sh".to_vec()), Err(BinaryError::NotWasm)));
    }

    #[test]
    fn metadata_round_trips_through_annotate() {
        let meta = ModuleMetadata {
            name: "x".into(),
            version: "1.0.0".into(),
            kind: ModuleKind::Policy,
            capabilities: Capabilities::default(),
            min_host_version: None,
        };
        let annotated = with_metadata(EMPTY_CORE, &meta).unwrap();
        let parsed = ModuleBinary::parse(annotated.clone()).unwrap();
        assert_eq!(parsed.kind, BinaryKind::Core);
        assert_eq!(parsed.metadata, Some(meta.clone()));
        assert!(matches!(with_metadata(&annotated, &meta), Err(BinaryError::DuplicateMetadata)));
        wasmparser::Validator::new().validate_all(&annotated).unwrap();
    }
}
