//! A transform that tries to write outside its `/out` (`/out/../x`, `/x`,
//! `/in/x`, a deep `..` path) and writes one file it may write,
//! `ok.yaml`. Each attempt that worked is reported as a warning
//! `escaped PATH`; the test checks there is none and that the layer holds
//! only the granted sub-path's `ok.yaml`.
sealbox_guest::module_metadata!(
    r#"{"name":"escaper","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

use sealbox_guest::{Diagnostic, Response};

fn main() {
    sealbox_guest::run(|_| {
        let mut diagnostics = Vec::new();
        for path in ["/out/../escaped", "/escaped", "/in/escaped", "/out/a/../../../escaped", "../escaped"] {
            if std::fs::write(path, "escaped\n").is_ok() {
                diagnostics.push(Diagnostic::warning(format!("escaped {path}")));
            }
        }
        std::fs::write("/out/ok.yaml", "kind: Ok\n")?;
        Ok(Response::success().with_diagnostics(diagnostics))
    });
}
