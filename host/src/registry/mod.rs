//! Talking to OCI distribution registries (distribution, Harbor, Zot, cloud
//! registries): push and pull images, fetch modules published as OCI
//! artifacts, share the step cache.
//!
//! [`reference`] parses image references, [`auth`] reads and writes
//! credentials in docker's format, [`client`] makes the distribution API
//! calls with retries, [`transfer`] copies images between the store and a
//! registry digest for digest, [`module`] publishes and fetches modules,
//! [`offline`] fetches the container images a cluster image carries.

pub mod auth;
pub mod cache;
pub mod client;
pub mod image_list_auth;
pub mod module;
pub mod offline;
pub mod reference;
mod sources;
#[cfg(test)]
mod test_registry;
pub mod transfer;

pub use client::Options;
pub use reference::Reference;
pub use transfer::{TransferReport, pull, push};
