//! The `kyverno` builtin step: see the crate documentation for its config and response.
sealbox_guest::module_metadata!(r#"{"name":"kyverno","version":"0.1.0","kind":"policy"}"#);

fn main() {
    sealbox_guest::run(|req| Ok(sealbox_kyverno::step::run(&req, std::path::Path::new(sealbox_guest::INPUT_DIR))));
}
