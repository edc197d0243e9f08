//! Blocks inside a host call (a very long sleep), where epochs cannot reach.
fn main() {
    std::thread::sleep(std::time::Duration::from_secs(3600));
}
