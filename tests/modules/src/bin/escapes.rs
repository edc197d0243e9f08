//! Prints terminal escape sequences (clear screen, set title, colours) to
//! stderr, then answers success.
fn main() {
    eprint!("\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x1b[0m\r\n");
    sealbox_test_modules::respond(sealbox_guest::Status::Success, serde_json::Value::Null);
}
