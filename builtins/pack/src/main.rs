//! The `pack` builtin's wasm entry point. Its stdout carries the layer's
//! tar stream, so its response goes to `/out/response.json` (the host runs
//! it that way; no module declares this). It carries no `sealbox.module`
//! metadata: it is not a policy or a transform, and only the host runs it.

use std::io::{BufWriter, Write};
use std::path::Path;

use sealbox_guest::{INPUT_DIR, OUTPUT_DIR, Response};

fn main() {
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pack: {e}");
            // Best effort: the host reads the failure from the exit code too.
            let _ = write_response(&Response::failure(e.to_string()));
            1
        }
    };
    std::process::exit(code)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let request = sealbox_guest::read_request()?;
    // Few, large host calls: the layer leaves in 1 MiB writes, not split
    // at newlines as std's line-buffered stdout would.
    let mut out = BufWriter::with_capacity(1 << 20, sealbox_guest::stream_stdout());
    let response = sealbox_pack::handle(&request, Path::new(INPUT_DIR), &mut out)?;
    out.flush()?;
    write_response(&response)?;
    Ok(())
}

fn write_response(response: &Response) -> std::io::Result<()> {
    let mut file = std::fs::File::create(Path::new(OUTPUT_DIR).join("response.json"))?;
    sealbox_guest::write_response(&mut file, response)
}
