//! The rules for image names in the store: the grammar of the
//! `org.opencontainers.image.ref.name` annotation. Only the check lives
//! here; parsing and normalising registry references is
//! `crate::registry::reference`'s job.

use crate::oci::error::{Error, Result};

/// Checks `name` against the grammar of `org.opencontainers.image.ref.name`
/// (components of alphanumerics joined by `-._:@+` or `--`, separated by
/// `/`), the same check `skopeo` applies to `oci:DIR:NAME`.
pub fn validate_ref_name(name: &str) -> Result<()> {
    let bad = || Error::Invalid(format!("invalid image name {name:?}: use letters, digits and -._:@+/"));
    for component in name.split('/') {
        let bytes = component.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else { return Err(bad()) };
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err(bad());
        }
        let mut run = 0;
        for &b in bytes {
            if b.is_ascii_alphanumeric() {
                run = 0;
            } else if b"-._:@+".contains(&b) {
                run += 1;
                // Two separators in a row only as `--`.
                if run > 2 || (run == 2 && b != b'-') {
                    return Err(bad());
                }
            } else {
                return Err(bad());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_are_refused() {
        for good in ["a", "a:b", "docker.io/library/nginx:1.25", "x--y", "a@sha256:00", "a+b", "A0.b_c"] {
            assert!(validate_ref_name(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", ":a", "a:", "a..b", "a b", "a\nb", "../x", "a/../b", "ä", "a---b"] {
            assert!(validate_ref_name(bad).is_err(), "{bad:?}");
        }
    }
}
