//! Image references as registries and users write them:
//! `[REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]`.

use std::fmt;

use anyhow::{Result, bail};

use crate::oci::Digest;

/// The registry a reference without a registry part names.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` as the user wrote it (`docker.io` when omitted).
    pub registry: String,
    /// The repository path inside the registry (`team/base`).
    pub repository: String,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The manifest digest, if one was given.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses `reference`. A first path component counts as a registry when
    /// it has a `.` or `:` or is `localhost`, as docker decides; otherwise
    /// the registry is Docker Hub and a one-component repository is under
    /// `library/`.
    pub fn parse(reference: &str) -> Result<Reference> {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, d)) => (rest, Some(Digest::parse(d).map_err(|e| anyhow::anyhow!("{reference:?}: {e}"))?)),
            None => (reference, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if looks_like_registry(first) => (first.to_string(), path),
            _ => (DOCKER_HUB.to_string(), rest),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), Some(tag.to_string())),
            _ => (path.to_string(), None),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty() || registry.is_empty() {
            bail!("{reference:?} is not an image reference: expected [REGISTRY/]REPOSITORY[:TAG][@DIGEST]");
        }
        for component in repository.split('/') {
            let ok = !component.is_empty()
                && component.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && component.as_bytes()[0].is_ascii_alphanumeric();
            if !ok {
                bail!(
                    "{reference:?}: repository component {component:?} must be lowercase letters, digits and ._- \
                     starting with a letter or digit"
                );
            }
        }
        if let Some(tag) = &tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && (tag.as_bytes()[0].is_ascii_alphanumeric() || tag.starts_with('_'));
            if !ok {
                bail!("{reference:?}: tag {tag:?} must be up to 128 letters, digits and ._-");
            }
        }
        Ok(Reference { registry, repository, tag, digest })
    }

    /// Whether `name` names an image in a registry (its first component is
    /// a host) rather than in the local store.
    pub fn is_remote(name: &str) -> bool {
        name.split_once('/').is_some_and(|(first, _)| looks_like_registry(first))
    }

    /// What to ask the registry for: the digest when pinned, else the tag
    /// (`latest` when neither was given).
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The host to connect to: Docker Hub's API host for `docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { "registry-1.docker.io" } else { &self.registry }
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference { tag: Some(tag.into()), digest: None, ..self.clone() }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn looks_like_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_port_repository_tag_and_digest() {
        let r = Reference::parse("127.0.0.1:5000/team/base:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/base", Some("v1"))
        );
        assert_eq!(r.manifest_ref(), "v1");
        let hex = "a".repeat(64);
        let r = Reference::parse(&format!("localhost/x@sha256:{hex}")).unwrap();
        assert_eq!((r.registry.as_str(), r.tag.as_deref()), ("localhost", None));
        assert_eq!(r.manifest_ref(), format!("sha256:{hex}"));
        assert_eq!(r.to_string(), format!("localhost/x@sha256:{hex}"));
    }

    #[test]
    fn docker_hub_defaults() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str()), (DOCKER_HUB, "library/busybox"));
        assert_eq!(r.manifest_ref(), "latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Reference::parse("team/app:1.0").unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str()), (DOCKER_HUB, "team/app"));
    }

    #[test]
    fn remote_or_local() {
        assert!(Reference::is_remote("127.0.0.1:5000/team/base:v1"));
        assert!(Reference::is_remote("registry.example.com/base"));
        assert!(Reference::is_remote("localhost/base"));
        assert!(!Reference::is_remote("kubernetes:v1.22"));
        assert!(!Reference::is_remote("team/base:v1"));
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in ["127.0.0.1:5000/Team/x", "host.io/", "host.io/x:", "host.io/x@sha256:zz", "host.io/x:bad tag"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
