//! sealbox: builds sealer-style cluster images in which every build step runs
//! as a capability-restricted WASI module.
//!
//! Data flows one way: [`kubefile`] parses a Kubefile into a plan, the
//! pipeline runs each step of it in the [`sandbox`] over a staged tree, the
//! host checks what the step wrote, and [`oci`] stores the resulting layers
//! and image. Before a build runs anything, [`confine`] restricts the host
//! process itself to the paths the build needs.

pub mod builtins;
pub mod cli;
pub mod confine;
pub mod kubefile;
pub mod oci;
pub mod pipeline;
pub mod registry;
pub mod sandbox;
pub mod text;
pub mod tree;

#[cfg(test)]
mod untrusted_input_tests;
