//! The wasm entry point: the metadata section and one call into the SDK.
sealbox_guest::module_metadata!(r#"{"name":"rust-require-limits","version":"0.1.0","kind":"policy"}"#);

fn main() {
    sealbox_guest::policy(rust_require_limits::check);
}
