//! One AFL++ binary for every target: `fuzz-afl TARGET` picks the harness
//! (AFL++ passes the target name through: `cargo afl fuzz -i seeds/TARGET
//! -o out -- target/release/fuzz-afl TARGET`). One binary means one
//! instrumented build for all targets.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = sealbox_fuzz::target(&name) else {
        eprintln!(
            "unknown target {name:?}; targets: {}",
            sealbox_fuzz::TARGETS.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
        );
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| target(data));
}
