//! Reads its request and exits 0 without answering.
fn main() {
    let _ = sealbox_guest::read_request();
}
