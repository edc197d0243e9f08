//! Answers with a response whose status is terminal escape sequences
//! (clear screen, set title): valid JSON that the host's parser refuses
//! and quotes, raw, in its error.
fn main() {
    println!(r#"{{"apiVersion": "sealbox.dev/step/v1", "status": "\u001b[2J\u001b]0;pwned\u0007\u202egnp.exe"}}"#);
}
