//! End-to-end tests: each runs the real `sealbox` binary on real inputs and
//! checks what it did.

mod add;
mod build;
mod charts;
mod cli;
mod common;
mod confine;
mod containment;
mod languages;
mod module_test;
mod modules;
mod offline_images;
mod pipeline;
mod registry;
mod reliability;
mod reproducible;
mod sandbox;
mod sealer;
mod sealer_corpus;
