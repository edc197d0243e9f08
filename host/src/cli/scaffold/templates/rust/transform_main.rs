//! The wasm entry point: the metadata section and one call into the SDK.
sealbox_guest::module_metadata!(
    r#"{"name":"{{name}}","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

fn main() {
    sealbox_guest::transform({{crate}}::step);
}
