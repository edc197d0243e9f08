//! The `render` builtin step: renders `*.tmpl` files of `/in` into `/out`.
use std::path::Path;

sealbox_guest::module_metadata!(
    r#"{"name":"render","version":"0.1.0","kind":"transform","capabilities":{"env":["*"],"writeOutput":true}}"#
);

fn main() {
    sealbox_guest::run(|req| {
        let input = Path::new(sealbox_guest::INPUT_DIR);
        let output = Path::new(sealbox_guest::OUTPUT_DIR);
        Ok(sealbox_render::walk::run_step(&req, input, output))
    });
}
