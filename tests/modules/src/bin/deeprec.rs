//! Recurses without end on the wasm call stack itself (no locals in linear
//! memory), so it is the host's stack bound that must stop it.
#![allow(unconditional_recursion)]

#[inline(never)]
fn down(n: u64) -> u64 {
    std::hint::black_box(down(std::hint::black_box(n) + 1)) + 1
}

fn main() {
    println!("{}", down(0));
}
