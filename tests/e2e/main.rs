//! End-to-end tests: each runs the real `sealbox` binary on real inputs and
//! checks what it did.

mod common;
mod sandbox;
