//! A transform whose metadata asks for 4 GiB of memory, more than a
//! `RUN --module` step grants: the host must refuse it without running it.
sealbox_guest::module_metadata!(
    r#"{"name":"bigmem","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true,"memoryMib":4096}}"#
);

fn main() {
    sealbox_guest::run(|_| {
        std::fs::write("/out/ran", "bigmem ran\n")?;
        Ok(sealbox_guest::Response::success())
    });
}
