//! Shared bits of the test modules.

use sealbox_guest::{Response, Status};

/// Prints a response whose `data` is `data`, and exits 0.
pub fn respond(status: Status, data: serde_json::Value) -> ! {
    let mut r = Response::success();
    r.status = status;
    r.data = data;
    sealbox_guest::write_response(&mut std::io::stdout(), &r).expect("stdout");
    std::process::exit(0)
}

/// Reads the request so the host sees stdin consumed, and returns its config.
pub fn config() -> serde_json::Value {
    sealbox_guest::read_request().map(|r| r.config).unwrap_or_default()
}
