//! Untrusted directory trees: listing them ([`walk`]), judging their links
//! ([`resolve_link`]) and writing into them ([`TreeWriter`]), never leaving
//! them.
//!
//! Build contexts, module outputs, base layers and cached outputs are
//! hostile by assumption, and so is every tree the host builds from them
//! (the analysis tree, the staged rootfs, ADD staging, the rendered-files
//! layer). The rest of the host reads such trees only through a
//! [`cap_std::fs::Dir`] and writes into them only through a [`TreeWriter`]:
//! never through `std::fs` with a path string, and never through a link.

mod resolve;
mod walk;
mod writer;

pub use resolve::{LinkVerdict, MAX_LINK_HOPS, resolve_link};
pub use walk::{FileStat, FileStats, Hardlinks, TreeError, WalkOptions, walk, walk_with_stats};
pub use writer::{Existing, IMPLICIT_DIR_MODE, PERMISSION_BITS, TreeWriter};

use std::io;

use cap_std::fs::Dir;

/// Opens the regular file `path` under `dir` for reading; a symlink at
/// `path` is an error, never followed (cap-std keeps `..` and links in the
/// parents inside `dir`).
pub fn open_nofollow(dir: &Dir, path: &str) -> io::Result<cap_std::fs::File> {
    use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
    let mut opts = cap_std::fs::OpenOptions::new();
    opts.read(true).follow(FollowSymlinks::No);
    dir.open_with(path, &opts)
}

#[cfg(test)]
mod tests;
