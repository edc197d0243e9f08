//! Container image references: parsing and normalisation with the grammar and
//! rules of distribution's `reference.ParseNormalizedNamed`, so that `nginx`
//! becomes `docker.io/library/nginx` as sealer records it
//! ([`Reference::sealer_name`]), and `docker.io/library/nginx:latest` where
//! images are compared or pulled ([`Reference::normalized`]).
//!
//! The grammar, as distribution documents it:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] remote-name
//! domain           := host [':' port-number]
//! host             := domain-name | '[' IPv6address ']'
//! domain-name      := domain-component ['.' domain-component]*
//! domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! remote-name      := path-component ['/' path-component]*
//! path-component   := [a-z0-9]+ (separator [a-z0-9]+)*
//! separator        := [_.] | '__' | '-'+
//! tag              := [\w][\w.-]{0,127}
//! digest           := algorithm ':' hex      (sha256, sha384 or sha512)
//! ```
//!
//! The parser is hand-written rather than a regex so that each rejection can
//! say which component is wrong.

use std::fmt;

/// The registry that names without a domain belong to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's legacy name, folded into [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a name without tag or digest stands for.
pub const DEFAULT_TAG: &str = "latest";
/// The longest repository path (without domain) distribution accepts.
const PATH_MAX: usize = 255;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// The registry, for example `docker.io` or `registry.local:5000`.
    pub domain: String,
    /// The repository path inside the registry, for example `library/nginx`.
    pub path: String,
    /// The tag as written, if any.
    pub tag: Option<String>,
    /// The digest as written (`sha256:…`), if any.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The string is empty.
    Empty,
    /// A 64-hex-digit string, which docker reads as an image ID, not a name.
    Identifier,
    /// The repository name has upper-case letters.
    Uppercase(String),
    /// The repository path is longer than 255 characters (distribution's
    /// current rule; older releases counted the domain too).
    NameTooLong(usize),
    /// The domain part (before the first `/`) is not a host with optional port.
    InvalidDomain(String),
    /// A path component breaks the `[a-z0-9]+(separator[a-z0-9]+)*` rule.
    InvalidPathComponent(String),
    /// The tag breaks `[\w][\w.-]{0,127}`.
    InvalidTag(String),
    /// The digest is malformed.
    InvalidDigest(String),
    /// The digest's algorithm is well formed but not one of sha256/384/512.
    UnsupportedDigest(String),
    /// The digest's hex part has the wrong length for its algorithm.
    InvalidDigestLength(String),
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferenceError::Empty => write!(f, "empty reference"),
            ReferenceError::Identifier => write!(f, "a 64-byte hexadecimal string is an image ID, not a name"),
            ReferenceError::Uppercase(n) => write!(f, "repository name {n:?} must be lowercase"),
            ReferenceError::NameTooLong(n) => {
                write!(f, "repository name is {n} characters, more than {PATH_MAX}")
            }
            ReferenceError::InvalidDomain(d) => write!(f, "invalid registry domain {d:?}"),
            ReferenceError::InvalidPathComponent(c) => write!(f, "invalid repository path component {c:?}"),
            ReferenceError::InvalidTag(t) => write!(f, "invalid tag {t:?}"),
            ReferenceError::InvalidDigest(d) => write!(f, "invalid digest {d:?}"),
            ReferenceError::UnsupportedDigest(d) => write!(f, "unsupported digest algorithm in {d:?}"),
            ReferenceError::InvalidDigestLength(d) => write!(f, "digest {d:?} has the wrong length"),
        }
    }
}

impl std::error::Error for ReferenceError {}

impl Reference {
    /// Parses `s` the way `reference.ParseNormalizedNamed` does: familiar
    /// names get the `docker.io` domain and, for single-component names, the
    /// `library/` namespace. The tag and digest are kept as written; see
    /// [`Reference::normalized`] for the defaulted `latest` tag.
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if is_identifier(s) {
            return Err(ReferenceError::Identifier);
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = remainder.split(':').next().unwrap_or(remainder.as_str());
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase(remote.to_string()));
        }
        Reference::parse(&format!("{domain}/{remainder}"))
    }

    /// Parses a fully qualified reference (`domain/path[:tag][@digest]`),
    /// like distribution's `reference.Parse` but requiring a domain.
    fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let (name_and_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        let last_slash = name_and_tag.rfind('/').unwrap_or(0);
        let (name, tag) = match name_and_tag.rfind(':') {
            Some(i) if i > last_slash => (&name_and_tag[..i], Some(&name_and_tag[i + 1..])),
            _ => (name_and_tag, None),
        };
        let (domain, path) = name.split_once('/').ok_or(ReferenceError::Empty)?;
        if !is_domain_and_port(domain) {
            return Err(ReferenceError::InvalidDomain(domain.to_string()));
        }
        if path.is_empty() {
            return Err(ReferenceError::InvalidPathComponent(String::new()));
        }
        for component in path.split('/') {
            if !is_path_component(component) {
                if is_path_component(&component.to_lowercase()) {
                    return Err(ReferenceError::Uppercase(path.to_string()));
                }
                return Err(ReferenceError::InvalidPathComponent(component.to_string()));
            }
        }
        if path.len() > PATH_MAX {
            return Err(ReferenceError::NameTooLong(path.len()));
        }
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return Err(ReferenceError::InvalidTag(tag.to_string()));
        }
        if let Some(digest) = digest {
            validate_digest(digest)?;
        }
        Ok(Reference {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// The repository name, `domain/path`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Whether the reference names neither a tag nor a digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// Whether the reference floats: no digest, and the tag is `latest` or
    /// missing (which means `latest`).
    pub fn is_floating_latest(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|t| t == DEFAULT_TAG)
    }

    /// The string sealer records in `sealer.image.container.images`, as
    /// `ParseNormalizedNamed(s).String()` prints it: the full name, then the
    /// tag and digest as written, with no `latest` added.
    pub fn sealer_name(&self) -> String {
        let mut out = self.name();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// The normalised string: the full name, the tag (`latest` when neither a
    /// tag nor a digest was given) and the digest, as
    /// `reference.TagNameOnly(ParseNormalizedNamed(s)).String()` prints it.
    pub fn normalized(&self) -> String {
        let mut out = self.name();
        if self.is_name_only() {
            out.push(':');
            out.push_str(DEFAULT_TAG);
        }
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}

/// Whether `name` starts with an explicit registry domain (`localhost/…`,
/// `reg.io/…`, `host:5000/…`), by the rule of [`Reference::parse_normalized`];
/// a name without one is a Docker Hub name (or, for sealbox, a local one).
pub fn has_domain(name: &str) -> bool {
    name.split_once('/').is_some_and(|(first, _)| is_domain_name(first))
}

/// distribution's `splitDockerDomain` test for the first component.
fn is_domain_name(first: &str) -> bool {
    first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first
}

/// Splits a familiar name into domain and remainder, as distribution's
/// `splitDockerDomain`: the first component is a domain when it is
/// `localhost`, contains `.` or `:`, or has upper-case letters.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, rest)) = name.split_once('/') else {
        return (DEFAULT_DOMAIN.to_string(), format!("{OFFICIAL_REPO_PREFIX}{name}"));
    };
    let (domain, mut remainder) = if maybe_domain == "localhost" {
        (maybe_domain.to_string(), rest.to_string())
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN.to_string(), rest.to_string())
    } else if is_domain_name(maybe_domain) {
        (maybe_domain.to_string(), rest.to_string())
    } else {
        (DEFAULT_DOMAIN.to_string(), name.to_string())
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// `[a-f0-9]{64}`: an image ID.
fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'))
}

/// `host(:port)?` where host is a domain name or a bracketed IPv6 address.
fn is_domain_and_port(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else { return false };
        let inner = &rest[..end];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(port) => (None, Some(port)),
            None if after.is_empty() => (None, None),
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(s), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    match host {
        None => true,
        Some(host) => !host.is_empty() && host.split('.').all(is_domain_component),
    }
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// `[a-z0-9]+((?:[._]|__|-+)[a-z0-9]+)*`.
fn is_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        debug_assert!(i > sep_start);
    }
}

/// `[\w][\w.-]{0,127}`.
fn is_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = t.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            word(*first) && rest.len() <= 127 && rest.iter().all(|b| word(*b) || matches!(b, b'.' | b'-'))
        }
        None => false,
    }
}

/// Checks a digest the way go-digest's `Digest.Validate` does for the
/// algorithms distribution registers.
fn validate_digest(d: &str) -> Result<(), ReferenceError> {
    let invalid = || ReferenceError::InvalidDigest(d.to_string());
    let (algorithm, encoded) = d.split_once(':').ok_or_else(invalid)?;
    if !is_digest_algorithm(algorithm) || encoded.len() < 32 || !encoded.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let hex_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::UnsupportedDigest(d.to_string())),
    };
    if encoded.len() != hex_len {
        return Err(ReferenceError::InvalidDigestLength(d.to_string()));
    }
    if !encoded.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9')) {
        return Err(invalid());
    }
    Ok(())
}

/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`.
fn is_digest_algorithm(a: &str) -> bool {
    !a.is_empty()
        && a.split(['-', '_', '+', '.']).all(|part| {
            let b = part.as_bytes();
            !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|c| c.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    //! Vectors re-expressed from distribution/reference's `reference_test.go`
    //! (`TestReferenceParse`) and `normalize_test.go`
    //! (`TestValidateReferenceName`, `TestValidateRemoteName`,
    //! `TestParseRepositoryInfo`, `TestNormalizedSplitHostname`,
    //! `TestParseAnyReference`, `TestParseReferenceWithTagAndDigest`), run
    //! through the normalising parser.

    use super::*;

    const SHA256_F: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    fn norm(s: &str) -> Result<String, ReferenceError> {
        Reference::parse_normalized(s).map(|r| r.normalized())
    }

    #[test]
    fn normalises_familiar_and_qualified_names() {
        let sha512 = format!("sha512:{}", "f".repeat(128));
        let cases: Vec<(String, String)> = vec![
            ("nginx".into(), "docker.io/library/nginx:latest".into()),
            ("nginx:alpine".into(), "docker.io/library/nginx:alpine".into()),
            ("test_com".into(), "docker.io/library/test_com:latest".into()),
            ("test.com:tag".into(), "docker.io/library/test.com:tag".into()),
            ("test.com:5000".into(), "docker.io/library/test.com:5000".into()),
            ("test.com/repo:tag".into(), "test.com/repo:tag".into()),
            ("test:5000/repo".into(), "test:5000/repo:latest".into()),
            ("test:5000/repo:tag".into(), "test:5000/repo:tag".into()),
            (format!("test:5000/repo@{SHA256_F}"), format!("test:5000/repo@{SHA256_F}")),
            (format!("test:5000/repo:tag@{SHA256_F}"), format!("test:5000/repo:tag@{SHA256_F}")),
            ("lowercase:Uppercase".into(), "docker.io/library/lowercase:Uppercase".into()),
            ("sub-dom1.foo.com/bar/baz/quux:some-long-tag".into(), "sub-dom1.foo.com/bar/baz/quux:some-long-tag".into()),
            ("b.gcr.io/test.example.com/my-app:test.example.com".into(), "b.gcr.io/test.example.com/my-app:test.example.com".into()),
            ("xn--n3h.com/myimage:xn--n3h.com".into(), "xn--n3h.com/myimage:xn--n3h.com".into()),
            (format!("xn--7o8h.com/myimage:xn--7o8h.com@{sha512}"), format!("xn--7o8h.com/myimage:xn--7o8h.com@{sha512}")),
            ("foo_bar.com:8080".into(), "docker.io/library/foo_bar.com:8080".into()),
            ("foo/foo_bar.com:8080".into(), "docker.io/foo/foo_bar.com:8080".into()),
            ("192.168.1.1".into(), "docker.io/library/192.168.1.1:latest".into()),
            ("192.168.1.1:5000".into(), "docker.io/library/192.168.1.1:5000".into()),
            ("192.168.1.1/repo".into(), "192.168.1.1/repo:latest".into()),
            ("192.168.1.1:5000/repo:5050".into(), "192.168.1.1:5000/repo:5050".into()),
            ("[2001:db8::1]/repo".into(), "[2001:db8::1]/repo:latest".into()),
            ("[2001:db8:1:2:3:4:5:6]/repo:tag".into(), "[2001:db8:1:2:3:4:5:6]/repo:tag".into()),
            ("[2001:db8::1]:5000/repo:tag".into(), "[2001:db8::1]:5000/repo:tag".into()),
            (format!("[2001:db8::1]:5000/repo:tag@{SHA256_F}"), format!("[2001:db8::1]:5000/repo:tag@{SHA256_F}")),
            ("[::1]:5000/repo".into(), "[::1]:5000/repo:latest".into()),
            ("docker.io/foo".into(), "docker.io/library/foo:latest".into()),
            ("index.docker.io/fooo/bar".into(), "docker.io/fooo/bar:latest".into()),
            ("library/foo/bar".into(), "docker.io/library/foo/bar:latest".into()),
            ("store/foo/bar".into(), "docker.io/store/foo/bar:latest".into()),
            ("Foo/bar".into(), "Foo/bar:latest".into()),
            ("FOO/bar".into(), "FOO/bar:latest".into()),
            ("localhost/foo".into(), "localhost/foo:latest".into()),
            ("127.0.0.1:8000/private/moonbase".into(), "127.0.0.1:8000/private/moonbase:latest".into()),
            ("docker---rules/docker".into(), "docker.io/docker---rules/docker:latest".into()),
            ("dock__er/docker".into(), "docker.io/dock__er/docker:latest".into()),
            (
                "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa".into(),
                "docker.io/library/busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa".into(),
            ),
            (
                "redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c".into(),
                "docker.io/library/redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c".into(),
            ),
            (
                "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9".into(),
                "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest".into(),
            ),
            (
                "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a".into(),
                "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest".into(),
            ),
            (
                format!("{}a:tag-puts-this-over-max", "a/".repeat(127)),
                format!("docker.io/{}a:tag-puts-this-over-max", "a/".repeat(127)),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(norm(&input).as_deref(), Ok(want.as_str()), "input {input:?}");
        }
    }

    #[test]
    fn splits_domain_and_path() {
        let cases = [
            ("test.com/foo", "test.com", "foo"),
            ("test_com/foo", "docker.io", "test_com/foo"),
            ("docker/migrator", "docker.io", "docker/migrator"),
            ("test.com:8080/foo", "test.com:8080", "foo"),
            ("test-com:8080/foo", "test-com:8080", "foo"),
            ("foo", "docker.io", "library/foo"),
            ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
            ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
            ("example.com:8000/privatebasee", "example.com:8000", "privatebasee"),
        ];
        for (input, domain, path) in cases {
            let r = Reference::parse_normalized(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((r.domain.as_str(), r.path.as_str()), (domain, path), "input {input:?}");
        }
    }

    #[test]
    fn rejects_what_distribution_rejects() {
        let long_namespace =
            format!("{}/docker", ["this_is_not_a_valid_namespace_because_its_length_is_over_255"; 5].join("_"));
        let cases: Vec<(String, ReferenceError)> = vec![
            ("".into(), ReferenceError::Empty),
            (":justtag".into(), ReferenceError::InvalidPathComponent(String::new())),
            (format!("@{SHA256_F}"), ReferenceError::InvalidPathComponent(String::new())),
            (
                "repo@sha256:ffffffffffffffffffffffffffffffffff".into(),
                ReferenceError::InvalidDigestLength("sha256:ffffffffffffffffffffffffffffffffff".into()),
            ),
            (
                format!("validname@invaliddigest:{}", "f".repeat(64)),
                ReferenceError::UnsupportedDigest(format!("invaliddigest:{}", "f".repeat(64))),
            ),
            ("Uppercase:tag".into(), ReferenceError::Uppercase("library/Uppercase".into())),
            ("test:5000/Uppercase/lowercase:tag".into(), ReferenceError::Uppercase("Uppercase/lowercase".into())),
            ("docker/Docker".into(), ReferenceError::Uppercase("docker/Docker".into())),
            ("aa/asdf$$^/aa".into(), ReferenceError::InvalidPathComponent("asdf$$^".into())),
            ("[2001:db8::1]".into(), ReferenceError::InvalidPathComponent("[2001:db8:".into())),
            (format!("{}a:tag", "a/".repeat(128)), ReferenceError::NameTooLong(257)),
            ("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a".into(), ReferenceError::Identifier),
            (long_namespace.clone(), ReferenceError::NameTooLong(long_namespace.len())),
        ];
        for (input, want) in cases {
            assert_eq!(norm(&input), Err(want), "input {input:?}");
        }
        let invalid = [
            "https://github.com/docker/docker",
            "-docker",
            "-docker/docker",
            "-docker.io/docker/docker",
            "docker///docker",
            "docker.io/docker/Docker",
            "docker.io/docker///docker",
            "[fc00::1]",
            "[fc00::1]:5000",
            "fc00::1:5000/debian",
            "[fe80::1%eth0]:5000/debian",
            "[fe80::1%@invalidzone]:5000/repo",
            "[2001:db8:3:4::192.0.2.33]:5000/debian",
            "[2001:db8::1]:5000",
            "[2001:db8::1]:tag",
            "docker-/docker",
            "-docker-/docker",
            "____/____",
            "_docker/_docker",
            "dock..er/docker",
            "dock_.er/docker",
            "dock-.er/docker",
            "docker/",
            "nginx:-bad",
            "nginx:",
            "nginx@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        ];
        for input in invalid {
            assert!(norm(input).is_err(), "{input:?} should be invalid, got {:?}", norm(input));
        }
    }

    #[test]
    fn never_mistakes_chart_leftovers_for_images() {
        for input in ["string", "parameter.image"] {
            // These parse as Docker Hub names; the extractor rejects them by
            // context (see extract.rs), the parser alone cannot.
            assert!(norm(input).is_ok());
        }
        for input in ["{{ .Values.image }}", "repo:{{ .Values.tag }}", "<no value>", " nginx", "nginx:1.0 ", "a b"] {
            assert!(norm(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn explicit_domains_and_the_rules_the_host_copy_had_wrong() {
        // (name, whether it names a registry, source)
        let domains = [
            ("127.0.0.1:5000/team/base:v1", true, "distribution splitDockerDomain: a ':' marks a domain"),
            ("registry.example.com/base", true, "splitDockerDomain: a '.' marks a domain"),
            ("localhost/base", true, "splitDockerDomain: localhost"),
            ("kubernetes:v1.22", false, "no '/': a Docker Hub name"),
            ("team/base:v1", false, "splitDockerDomain: a Docker Hub namespace"),
            (
                "Foo/bar",
                true,
                "splitDockerDomain: an upper-case first component is a domain (the host copy said Docker Hub)",
            ),
        ];
        for (name, remote, source) in domains {
            assert_eq!(has_domain(name), remote, "{name} ({source})");
        }
        // The host's copy kept `index.docker.io` and took `a..b` as a path
        // component; docker folds the one and refuses the other.
        assert_eq!(norm("index.docker.io/nginx").as_deref(), Ok("docker.io/library/nginx:latest"));
        assert!(matches!(norm("team/a..b"), Err(ReferenceError::InvalidPathComponent(_))));
        assert!(matches!(norm("team/-a"), Err(ReferenceError::InvalidPathComponent(_))));
    }

    #[test]
    fn flags_floating_references() {
        let floating = |s: &str| Reference::parse_normalized(s).map(|r| r.is_floating_latest());
        assert_eq!(floating("nginx"), Ok(true));
        assert_eq!(floating("nginx:latest"), Ok(true));
        assert_eq!(floating("nginx:1.25"), Ok(false));
        assert_eq!(floating(&format!("nginx:latest@{SHA256_F}")), Ok(false));
        assert_eq!(floating(&format!("nginx@{SHA256_F}")), Ok(false));
    }
}
