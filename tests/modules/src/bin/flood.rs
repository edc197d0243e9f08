//! Writes to stdout without end.
use std::io::Write;

fn main() {
    let chunk = vec![b'x'; 1 << 16];
    let mut out = std::io::stdout();
    loop {
        if out.write_all(&chunk).is_err() {
            std::process::exit(9);
        }
    }
}
