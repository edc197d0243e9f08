//! Reads the request and answers success: the cheapest possible step.
sealbox_guest::module_metadata!(r#"{"name":"noop","version":"0.1.0","kind":"policy"}"#);

fn main() {
    sealbox_guest::run(|_| Ok(sealbox_guest::Response::success()));
}
