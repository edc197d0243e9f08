//! The wasm entry point of the `unpack` step: unpacks the archive named by
//! `config.archive` (a path under `/in`) into `/out` and answers with the
//! listing (see the library docs).

use std::path::Path;

use sealbox_guest::{INPUT_DIR, OUTPUT_DIR, Request, Response};
use sealbox_unpack::{Limits, unpack};

sealbox_guest::module_metadata!(
    r#"{"name":"unpack","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

fn step(req: Request) -> Result<Response, Box<dyn std::error::Error>> {
    let Some(name) = req.config.get("archive").and_then(|a| a.as_str()) else {
        return Ok(Response::failure("config.archive (the archive's path under /in) is missing"));
    };
    let mut limits = Limits::default();
    if let Some(max) = req.config.get("maxBytes").and_then(|m| m.as_u64()) {
        limits.max_bytes = max;
    }
    let archive = std::fs::File::open(Path::new(INPUT_DIR).join(name)).map_err(|e| format!("opening {name}: {e}"))?;
    let unpacked = match unpack(archive, Path::new(OUTPUT_DIR), limits) {
        Ok(unpacked) => unpacked,
        Err(e) => return Ok(Response::failure(format!("{name}: {e}"))),
    };
    let mut response = Response::success();
    response.data = serde_json::json!({
        "compression": unpacked.compression.name(),
        "entries": unpacked.entries,
    });
    Ok(response)
}

fn main() {
    sealbox_guest::run(step);
}
