//! Archive member names made into plain relative image paths.

/// Why a member name cannot be placed in the image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the name is not UTF-8")]
    NotUtf8,
    #[error("it climbs out of the destination with `..`")]
    Escapes,
    #[error("it is an overlay whiteout (`.wh.`), which would delete files of earlier layers")]
    Whiteout,
    #[error("it contains a NUL byte")]
    Nul,
}

/// The member name `raw` as a `/`-separated path relative to the ADD's
/// destination: leading `/` and `./` dropped, `.` and `..` resolved the way
/// GNU tar and buildah place members. `None` for the root itself.
pub fn normalise(raw: &[u8]) -> Result<Option<String>, PathError> {
    let name = std::str::from_utf8(raw).map_err(|_| PathError::NotUtf8)?;
    if name.contains('\0') {
        return Err(PathError::Nul);
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or(PathError::Escapes)?;
            }
            p if p.starts_with(".wh.") => return Err(PathError::Whiteout),
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// The parent directories of `path`, outermost first.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_leading_slashes_and_dots() {
        assert_eq!(normalise(b"./etc/hosts").unwrap().as_deref(), Some("etc/hosts"));
        assert_eq!(normalise(b"/etc//hosts/").unwrap().as_deref(), Some("etc/hosts"));
        assert_eq!(normalise(b"a/b/../c").unwrap().as_deref(), Some("a/c"));
        assert_eq!(normalise(b"./").unwrap(), None);
    }

    #[test]
    fn refuses_escapes_whiteouts_and_bad_names() {
        assert_eq!(normalise(b"../etc/passwd"), Err(PathError::Escapes));
        assert_eq!(normalise(b"a/../../b"), Err(PathError::Escapes));
        assert_eq!(normalise(b"opt/.wh.config"), Err(PathError::Whiteout));
        assert_eq!(normalise(b"opt/.wh..wh..opq"), Err(PathError::Whiteout));
        assert_eq!(normalise(&[b'a', 0xff]), Err(PathError::NotUtf8));
    }

    #[test]
    fn lists_ancestors_outermost_first() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert!(ancestors("a").next().is_none());
    }
}
