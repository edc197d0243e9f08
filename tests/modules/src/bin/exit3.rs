//! Exits with status 3 after complaining on stderr.
fn main() {
    eprintln!("something went wrong on purpose");
    std::process::exit(3);
}
