//! The `kyverno` builtin step: see the crate documentation for its config and response.
use std::io::{BufWriter, Write};
use std::path::Path;

use sealbox_guest::{INPUT_DIR, OUTPUT_DIR, Response};

sealbox_guest::module_metadata!(r#"{"name":"kyverno","version":"0.1.0","kind":"policy"}"#);

fn main() {
    let request = match sealbox_guest::read_request() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if request.config.get("stream").and_then(|s| s.as_bool()) != Some(true) {
        let response = sealbox_kyverno::step::run(&request, Path::new(INPUT_DIR));
        if let Err(e) = sealbox_guest::write_response(&mut std::io::stdout().lock(), &response) {
            eprintln!("kyverno: writing the response: {e}");
            std::process::exit(1);
        }
        return;
    }
    // Streaming: the report leaves on stdout as it is written, so the
    // response goes to /out/response.json (the host reads it there).
    let mut out = BufWriter::with_capacity(64 << 10, sealbox_guest::stream_stdout());
    let mut response = sealbox_kyverno::step::run_streaming(&request, Path::new(INPUT_DIR), &mut out);
    if let Err(e) = out.flush() {
        response = Response::failure(format!("kyverno: writing the report: {e}"));
    }
    let written = std::fs::File::create(Path::new(OUTPUT_DIR).join("response.json"))
        .and_then(|mut file| sealbox_guest::write_response(&mut file, &response));
    if let Err(e) = written {
        eprintln!("kyverno: writing the response: {e}");
        std::process::exit(1);
    }
}
