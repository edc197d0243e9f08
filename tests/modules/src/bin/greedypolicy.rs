//! A policy module whose metadata asks to write output, which no policy
//! step grants: the host must refuse it before it runs.
sealbox_guest::module_metadata!(
    r#"{"name":"greedypolicy","version":"0.1.0","kind":"policy","capabilities":{"writeOutput":true}}"#
);

fn main() {
    sealbox_guest::run(|_| {
        std::fs::write("/out/ran", "greedypolicy ran\n")?;
        Ok(sealbox_guest::Response::failure("greedypolicy ran"))
    });
}
