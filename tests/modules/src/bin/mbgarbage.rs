//! Answers with long multi-byte text that is not a response: a JSON string
//! of CJK characters, which the host's JSON parser quotes in its error.
fn main() {
    println!("\"{}\"", "日本語のテキスト".repeat(200));
}
