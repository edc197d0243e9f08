//! Image references as registries and users write them:
//! `[REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]`.

use std::fmt;

use anyhow::Result;
use sealbox_formats::reference as formats;

use crate::oci::Digest;

/// The registry a reference without a registry part names.
pub const DOCKER_HUB: &str = formats::DEFAULT_DOMAIN;

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
    /// Parses `reference` by distribution's grammar with docker's
    /// normalisation (`sealbox_formats::reference`): a name without a
    /// registry is on Docker Hub, a single-component one under `library/`.
    pub fn parse(reference: &str) -> Result<Reference> {
        let parsed = formats::Reference::parse_normalized(reference).map_err(|e| {
            anyhow::anyhow!("{reference:?} is not an image reference ([REGISTRY/]REPOSITORY[:TAG][@DIGEST]): {e}")
        })?;
        let digest = match &parsed.digest {
            Some(d) => Some(Digest::parse(d).map_err(|e| anyhow::anyhow!("{reference:?}: {e}"))?),
            None => None,
        };
        Ok(Reference { registry: parsed.domain, repository: parsed.path, tag: parsed.tag, digest })
    }

    /// Whether `name` names a registry (`reg.io/…`, `host:5000/…`,
    /// `localhost/…`) rather than an image in the local store.
    pub fn is_remote(name: &str) -> bool {
        formats::has_domain(name)
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
