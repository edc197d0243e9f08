//! Test helpers: build small trees on disk from `(path, contents)` pairs.

use std::path::Path;

/// A temporary directory filled with files, removed when dropped.
pub struct TempTree {
    dir: tempfile::TempDir,
}

impl TempTree {
    /// Creates the tree; parent directories are made as needed.
    pub fn new(files: &[(&str, &str)]) -> TempTree {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, contents) in files {
            let full = dir.path().join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&full, contents).expect("write");
        }
        TempTree { dir }
    }

    /// The tree's root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
