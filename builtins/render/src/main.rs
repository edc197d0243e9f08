sealbox_guest::module_metadata!(r#"{"name":"render","version":"0.1.0","kind":"transform"}"#);

fn main() {
    sealbox_guest::run(|_req| Ok(sealbox_guest::Response::failure("render: not built yet")));
}
