//! Looking at the build context without trusting it: every access goes
//! through a `cap_std::fs::Dir`, symlinks are followed by hand so that one
//! pointing out of the context is refused rather than clamped, and names are
//! never assumed to be UTF-8.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use cap_std::fs::Dir;
use sealbox_formats::glob::{Pattern, Syntax, has_go_meta};

/// Symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// What a resolved context path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    /// A fifo, socket or device.
    Special,
}

/// A context path with every symlink resolved inside the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Relative to the context root, without symlinks; empty for the root itself.
    pub path: PathBuf,
    pub kind: Kind,
}

/// Why a context path could not be used.
#[derive(Debug)]
pub(crate) enum ContextError {
    /// Absolute, `..` above the root, or a symlink leading out.
    Outside,
    NotFound,
    NoMatch,
    BadPattern,
    Io(PathBuf, io::Error),
}

/// The components of a source path after `.` and `..` are applied lexically
/// (as Go's `filepath.Clean` does); refused if absolute or above the root.
pub(crate) fn normalize(source: &str) -> Result<Vec<String>, ContextError> {
    if source.starts_with('/') {
        return Err(ContextError::Outside);
    }
    let mut parts: Vec<String> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or(ContextError::Outside)?;
            }
            name => parts.push(name.to_owned()),
        }
    }
    Ok(parts)
}

/// Resolves a context-relative path, following symlinks only while they stay in the context.
pub(crate) fn resolve(ctx: &Dir, path: &Path) -> Result<Resolved, ContextError> {
    let mut todo: VecDeque<OsString> = VecDeque::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => todo.push_back(name.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => todo.push_back(OsString::from("..")),
            Component::RootDir | Component::Prefix(_) => return Err(ContextError::Outside),
        }
    }
    let mut done = PathBuf::new();
    let mut kind = Kind::Dir;
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            // `done` holds real directories only, so dropping its last one is the parent.
            if !done.pop() {
                return Err(ContextError::Outside);
            }
            kind = Kind::Dir;
            continue;
        }
        let candidate = done.join(&name);
        let meta = match ctx.symlink_metadata(&candidate) {
            Ok(meta) => meta,
            Err(e) if is_not_found(&e) => return Err(ContextError::NotFound),
            Err(e) => return Err(ContextError::Io(candidate, e)),
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                let e = io::Error::other("too many levels of symbolic links");
                return Err(ContextError::Io(candidate, e));
            }
            let target = ctx.read_link_contents(&candidate).map_err(|e| ContextError::Io(candidate.clone(), e))?;
            let mut spliced = VecDeque::new();
            for component in target.components() {
                match component {
                    Component::Normal(n) => spliced.push_back(n.to_owned()),
                    Component::CurDir => {}
                    Component::ParentDir => spliced.push_back(OsString::from("..")),
                    Component::RootDir | Component::Prefix(_) => return Err(ContextError::Outside),
                }
            }
            spliced.extend(todo);
            todo = spliced;
            continue;
        }
        kind = if meta.is_dir() {
            Kind::Dir
        } else if meta.is_file() {
            Kind::File
        } else {
            Kind::Special
        };
        if kind != Kind::Dir && !todo.is_empty() {
            return Err(ContextError::NotFound);
        }
        done = candidate;
    }
    Ok(Resolved { path: done, kind })
}

fn is_not_found(e: &io::Error) -> bool {
    // ENOTDIR: a path through a regular file names nothing.
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20)
}

/// Every context path matching `parts` (one pattern per component), sorted: as matched, and resolved.
pub(crate) fn glob(ctx: &Dir, parts: &[String]) -> Result<Vec<(PathBuf, Resolved)>, ContextError> {
    // Every pattern is checked before any directory is listed, as Go does.
    let mut patterns = Vec::with_capacity(parts.len());
    for part in parts {
        let pattern = if has_go_meta(part) {
            Some(Pattern::new(part, Syntax::Go).map_err(|_| ContextError::BadPattern)?)
        } else {
            None
        };
        patterns.push(pattern);
    }
    let mut prefixes: Vec<PathBuf> = vec![PathBuf::new()];
    for (part, pattern) in parts.iter().zip(&patterns) {
        let mut next = Vec::new();
        for prefix in &prefixes {
            let Some(pattern) = pattern else {
                next.push(prefix.join(part));
                continue;
            };
            let dir = match resolve(ctx, prefix) {
                Ok(r) if r.kind == Kind::Dir => r,
                Ok(_) | Err(ContextError::NotFound) => continue,
                Err(e) => return Err(e),
            };
            let mut names: Vec<OsString> = list(ctx, &dir.path)?.into_iter().map(|(n, _)| n).collect();
            names.sort();
            for name in names {
                if let Some(name_str) = name.to_str() {
                    if pattern.matches(name_str) {
                        next.push(prefix.join(&name));
                    }
                } else if wildcard_match_os(part, &name) {
                    next.push(prefix.join(&name));
                }
            }
        }
        prefixes = next;
    }
    let mut found = Vec::new();
    for path in prefixes {
        match resolve(ctx, &path) {
            Ok(r) => found.push((path, r)),
            Err(ContextError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    if found.is_empty() {
        return Err(ContextError::NoMatch);
    }
    Ok(found)
}

/// The names in a context directory, unsorted, each with whether it is a directory (not following symlinks).
fn list(ctx: &Dir, dir: &Path) -> Result<Vec<(OsString, bool)>, ContextError> {
    let io_err = |e| ContextError::Io(dir.to_owned(), e);
    let entries = if dir.as_os_str().is_empty() { ctx.entries() } else { ctx.read_dir(dir) };
    let mut names = Vec::new();
    for entry in entries.map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        // The entry's type comes with the listing on Linux, so no path is looked up again.
        let is_dir = entry.file_type().map_err(io_err)?.is_dir();
        names.push((entry.file_name(), is_dir));
    }
    Ok(names)
}

/// A non-UTF-8 name matches only a pattern of `*`s: any other pattern would have to compare characters.
fn wildcard_match_os(pattern: &str, _name: &OsStr) -> bool {
    !pattern.is_empty() && pattern.chars().all(|c| c == '*')
}

/// Every non-directory under a context directory, relative to it, in the order
/// Go's `filepath.Walk` visits them (names sorted, depth first), those whose
/// context path `keep` refuses left out. Symlinks are listed, not followed.
pub(crate) fn walk_files(ctx: &Dir, root: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>, ContextError> {
    let mut files = Vec::new();
    // Directories still being visited, each with its entries left to look at, sorted in reverse.
    let mut stack: Vec<(PathBuf, Vec<(OsString, bool)>)> = Vec::new();
    let mut entries = list(ctx, root)?;
    entries.sort_by(|a, b| b.0.cmp(&a.0));
    stack.push((PathBuf::new(), entries));
    while let Some((dir, entries)) = stack.last_mut() {
        let Some((name, is_dir)) = entries.pop() else {
            stack.pop();
            continue;
        };
        let relative = dir.join(&name);
        if is_dir {
            let mut entries = list(ctx, &root.join(&relative))?;
            entries.sort_by(|a, b| b.0.cmp(&a.0));
            stack.push((relative, entries));
        } else if keep(&root.join(&relative)) {
            files.push(relative);
        }
    }
    Ok(files)
}

/// Whether a directory directly holds an entry of this name (of any type).
pub(crate) fn has_entry(ctx: &Dir, dir: &Path, name: &str) -> Result<bool, ContextError> {
    let path = dir.join(name);
    match ctx.symlink_metadata(&path) {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(ContextError::Io(path, e)),
    }
}

/// The names of the non-directories directly in a context directory.
pub(crate) fn file_names(ctx: &Dir, dir: &Path) -> Result<Vec<OsString>, ContextError> {
    let mut out: Vec<OsString> = list(ctx, dir)?.into_iter().filter(|(_, is_dir)| !is_dir).map(|(n, _)| n).collect();
    out.sort();
    Ok(out)
}

/// Whether a regular file starts like a tar archive, plain or compressed
/// (gzip, bzip2, xz, zstd), which ADD unpacks as buildah does.
pub(crate) fn is_archive(ctx: &Dir, path: &Path) -> Result<bool, ContextError> {
    let io_err = |e| ContextError::Io(path.to_owned(), e);
    let file = ctx.open(path).map_err(io_err)?;
    let mut head = Vec::with_capacity(512);
    file.take(512).read_to_end(&mut head).map_err(io_err)?;
    let compressed = head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let tar = head.len() >= 262 && &head[257..262] == b"ustar";
    Ok(compressed || tar || is_v7_tar_header(&head))
}

/// Whether `head` is a pre-POSIX (v7) tar header, which has no magic: a
/// name and a checksum that matches the header's bytes.
fn is_v7_tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else { return false };
    let field = &block[148..156];
    let digits: String = field.iter().map(|&b| b as char).filter(|c| !matches!(c, ' ' | '\0')).collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else { return false };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(b) })
        .sum();
    block[0] != 0 && !digits.is_empty() && sum == stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    fn context() -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("ctx/sub/deep")).unwrap();
        std::fs::write(root.join("ctx/a.yaml"), "a").unwrap();
        std::fs::write(root.join("ctx/b.yml"), "b").unwrap();
        std::fs::write(root.join("ctx/sub/c.sh"), "c").unwrap();
        std::fs::write(root.join("ctx/sub/deep/d.sh"), "d").unwrap();
        std::fs::write(root.join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("ctx/up")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("ctx/abs")).unwrap();
        std::os::unix::fs::symlink("sub/deep", root.join("ctx/inside")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("ctx/loop")).unwrap();
        let dir = Dir::open_ambient_dir(root.join("ctx"), ambient_authority()).unwrap();
        (tmp, dir)
    }

    #[test]
    fn normalize_refuses_leaving_the_root() {
        assert_eq!(normalize("./a/../b/").unwrap(), vec!["b"]);
        assert!(matches!(normalize("../x"), Err(ContextError::Outside)));
        assert!(matches!(normalize("a/../../x"), Err(ContextError::Outside)));
        assert!(matches!(normalize("/etc/passwd"), Err(ContextError::Outside)));
        assert!(normalize(".").unwrap().is_empty());
    }

    #[test]
    fn resolve_follows_symlinks_inside_only() {
        let (_tmp, ctx) = context();
        let r = resolve(&ctx, Path::new("inside/d.sh")).unwrap();
        assert_eq!((r.path, r.kind), (PathBuf::from("sub/deep/d.sh"), Kind::File));
        assert_eq!(resolve(&ctx, Path::new("")).unwrap().kind, Kind::Dir);
        assert!(matches!(resolve(&ctx, Path::new("up")), Err(ContextError::Outside)));
        assert!(matches!(resolve(&ctx, Path::new("abs")), Err(ContextError::Outside)));
        assert!(matches!(resolve(&ctx, Path::new("nope")), Err(ContextError::NotFound)));
        assert!(matches!(resolve(&ctx, Path::new("a.yaml/x")), Err(ContextError::NotFound)));
        assert!(matches!(resolve(&ctx, Path::new("loop")), Err(ContextError::Io(..))));
    }

    #[test]
    fn glob_matches_like_go() {
        let (_tmp, ctx) = context();
        let parts = normalize("*.y*ml").unwrap();
        let found: Vec<_> = glob(&ctx, &parts).unwrap().into_iter().map(|(_, r)| r.path).collect();
        assert_eq!(found, vec![PathBuf::from("a.yaml"), PathBuf::from("b.yml")]);
        let found = glob(&ctx, &normalize("s?b/*").unwrap()).unwrap();
        assert_eq!(found.len(), 2);
        assert!(matches!(glob(&ctx, &normalize("*.json").unwrap()), Err(ContextError::NoMatch)));
        assert!(matches!(glob(&ctx, &normalize("u[p]").unwrap()), Err(ContextError::Outside)));
    }

    #[test]
    fn walk_lists_files_depth_first_in_name_order() {
        let (_tmp, ctx) = context();
        let files = walk_files(&ctx, Path::new("sub"), &|_| true).unwrap();
        assert_eq!(files, vec![PathBuf::from("c.sh"), PathBuf::from("deep/d.sh")]);
        let all = walk_files(&ctx, Path::new(""), &|p| p != Path::new("loop")).unwrap();
        let names: Vec<_> = all.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.yaml", "abs", "b.yml", "inside", "sub/c.sh", "sub/deep/d.sh", "up"]);
    }

    #[test]
    fn archives_are_sniffed_by_content() {
        let (tmp, ctx) = context();
        std::fs::write(tmp.path().join("ctx/x.tgz"), [0x1f, 0x8b, 8, 0]).unwrap();
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        std::fs::write(tmp.path().join("ctx/x.tar"), tar).unwrap();
        assert!(is_archive(&ctx, Path::new("x.tgz")).unwrap());
        assert!(is_archive(&ctx, Path::new("x.tar")).unwrap());
        assert!(!is_archive(&ctx, Path::new("a.yaml")).unwrap());
        // A v7 header has no magic, only a checksum.
        let mut v7 = tar::Header::new_old();
        v7.set_path("etc/motd").unwrap();
        v7.set_size(0);
        v7.set_cksum();
        std::fs::write(tmp.path().join("ctx/v7.tar"), v7.as_bytes()).unwrap();
        assert!(is_archive(&ctx, Path::new("v7.tar")).unwrap());
        let mut bad = v7.as_bytes().to_vec();
        bad[0] ^= 1;
        std::fs::write(tmp.path().join("ctx/bad.tar"), bad).unwrap();
        assert!(!is_archive(&ctx, Path::new("bad.tar")).unwrap());
    }
}
