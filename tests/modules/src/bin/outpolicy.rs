//! A policy that tries to write to its `/out`, which a policy step is not
//! given: passes with a warning saying why the write failed, and fails the
//! build if the write worked.
sealbox_guest::module_metadata!(r#"{"name":"outpolicy","version":"0.1.0","kind":"policy"}"#);

use sealbox_guest::{Diagnostic, Response};

fn main() {
    sealbox_guest::run(|_| {
        Ok(match std::fs::write("/out/filler", vec![b'x'; 1 << 20]) {
            Ok(()) => Response::failure("wrote 1 MiB to /out"),
            Err(e) => Response::success().with_diagnostics(vec![Diagnostic::warning(format!("no /out to fill: {e}"))]),
        })
    });
}
