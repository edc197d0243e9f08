//! Answers with something that is not a response.
fn main() {
    println!("{{\"this is\": not json");
}
