//! End-to-end tests: each runs the real `sealbox` binary on real inputs and
//! checks what it did.

mod build;
mod cli;
mod common;
mod modules;
mod sandbox;
