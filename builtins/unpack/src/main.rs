//! The wasm entry point of the `unpack` step: unpacks the archive named by
//! `config.archive` (a path under `/in`) into `/out` and answers with the
//! listing (see the library docs).

use std::path::Path;

use sealbox_guest::{INPUT_DIR, OUTPUT_DIR, Request, Response};
use sealbox_unpack::{Limits, UnpackError, unpack};

/// The rule an answer carries when the archive expands past the ratio
/// guard, so that the host can name the flag that allows it.
const RATIO_RULE: &str = "add-ratio";

sealbox_guest::module_metadata!(
    r#"{"name":"unpack","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

fn step(req: Request) -> Result<Response, Box<dyn std::error::Error>> {
    let Some(name) = req.config.get("archive").and_then(|a| a.as_str()) else {
        return Ok(Response::failure("config.archive (the archive's path under /in) is missing"));
    };
    let mut limits = Limits::default();
    let number = |key: &str| req.config.get(key).and_then(|m| m.as_u64());
    if let Some(max) = number("maxBytes") {
        limits.max_bytes = max;
    }
    limits.max_ratio = number("maxRatio").unwrap_or(0);
    limits.ratio_threshold = number("ratioThreshold").unwrap_or(0);
    let archive = std::fs::File::open(Path::new(INPUT_DIR).join(name)).map_err(|e| format!("opening {name}: {e}"))?;
    limits.archive_bytes = archive.metadata().map_err(|e| format!("reading {name}: {e}"))?.len();
    let unpacked = match unpack(archive, Path::new(OUTPUT_DIR), limits) {
        Ok(unpacked) => unpacked,
        Err(e) => {
            let mut failure = Response::failure(format!("{name}: {e}"));
            if matches!(e, UnpackError::Expands { .. }) {
                for d in &mut failure.diagnostics {
                    d.rule = Some(RATIO_RULE.into());
                }
            }
            return Ok(failure);
        }
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
