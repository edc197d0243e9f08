sealbox_guest::module_metadata!(r#"{"name":"imagelist","version":"0.1.0","kind":"transform"}"#);

fn main() {
    sealbox_guest::run(|_req| Ok(sealbox_guest::Response::failure("imagelist: not built yet")));
}
