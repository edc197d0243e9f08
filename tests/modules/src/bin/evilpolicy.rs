//! A policy whose findings carry terminal escape sequences and a bidi
//! override in their message, file and rule: one error, one warning.
sealbox_guest::module_metadata!(r#"{"name":"evilpolicy","version":"0.1.0","kind":"policy"}"#);

use sealbox_guest::{Diagnostic, Response, Status};

fn main() {
    sealbox_guest::run(|_| {
        let mut error = Diagnostic::error("denied\x1b[2J\x1b]0;pwned\x07").at("x\x1b[31m.yaml", Some(1), None);
        error.rule = Some("r\u{202e}ule".into());
        let warning = Diagnostic::warning("careful\x1b[8mhidden\x1b[0m");
        Ok(Response { status: Status::Failure, ..Response::success() }.with_diagnostics(vec![error, warning]))
    });
}
