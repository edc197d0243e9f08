//! Gives the wasm module a stack large enough for the executor's depth
//! limit (wasm32-wasip1 defaults to 1 MiB).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-bins=-zstack-size=8388608");
    }
}
