//! OCI images: the spec types, the local store, layer writing and export.
//!
//! [`store::Store`] is an OCI image layout on disk that sealbox builds into
//! (its parts in `store/`: index handling, blob writing, locking, fsck, gc
//! and image-name rules, a file each); [`layer::LayerWriter`] turns a
//! packer's tar stream into a layer blob in it; [`export`] writes images out
//! as `oci:`, `oci-archive:` and `docker-archive:`; [`distribution_layout`]
//! writes images as a registry's filesystem storage (sealer's `registry/`). Nothing here knows about
//! Kubefiles, builds or registries' network protocol.

pub mod digest;
pub mod distribution_layout;
pub mod error;
pub mod export;
pub mod layer;
pub mod layout;
pub mod spec;
pub mod store;
pub mod tar_writer;
#[cfg(test)]
mod testutil;

pub use digest::Digest;
pub use error::{Error, Result};
pub use export::{ExportTarget, export};
pub use layer::{LayerDescriptor, LayerWriter};
pub use layout::Layout;
pub use spec::{Compression, Descriptor, ImageConfig, Index, Manifest, Platform};
pub use store::Store;
