//! The OCI distribution API calls sealbox makes, for one repository: blob
//! existence, upload (with cross-repository mount), download, manifests.
//!
//! Written on `ureq` rather than the `oci-client` crate: oci-client has no
//! retry of 5xx and connection errors, and would bring an async HTTP stack
//! (reqwest, hyper, h2) into a program whose store and pipeline are
//! synchronous. The calls are few and small (see the distribution spec's
//! "pull", "push" and "content discovery" sections).
//!
//! Transport: HTTPS with Mozilla's roots by default, a CA file's
//! certificates instead with `ca_file`, no verification with
//! `tls_verify = false`, plain HTTP only with `insecure`; never a fallback
//! from one to another.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ureq::http::{self, Response};
use ureq::{Agent, Body, SendBody};

use super::auth::{self, Credentials};
use super::reference::Reference;
use crate::oci::{Descriptor, Digest};

/// Media types a manifest request accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// The largest manifest read into memory (the distribution spec's limit).
const MAX_MANIFEST: u64 = 4 << 20;

/// How a command reaches registries: transport security, credentials and
/// parallelism. The same for every command that talks to a registry.
#[derive(Debug, Clone)]
pub struct Options {
    /// Plain HTTP. Only when asked: never a fallback.
    pub insecure: bool,
    /// Verify the registry's TLS certificate.
    pub tls_verify: bool,
    /// Trust the certificates of this PEM file instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// The credentials file (`$REGISTRY_AUTH_FILE` / `--authfile`).
    pub auth_file: Option<PathBuf>,
    /// Blobs transferred at once.
    pub jobs: usize,
    /// Attempts of one call on a 5xx or a broken connection.
    pub attempts: u32,
    /// Credentials given for a build (sealer's image list with auth), by
    /// registry host; they win over the auth files'.
    pub credentials: std::collections::BTreeMap<String, Credentials>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            insecure: false,
            tls_verify: true,
            ca_file: None,
            auth_file: None,
            jobs: 4,
            attempts: 5,
            credentials: Default::default(),
        }
    }
}

/// Whether a push may need to write to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

/// A connection to one repository of one registry.
pub struct Client {
    agent: Agent,
    base: String,
    registry: String,
    repository: String,
    scopes: Vec<String>,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
    attempts: u32,
}

#[derive(Clone)]
enum AuthState {
    Anonymous,
    Basic,
    Bearer(String),
}

/// The body of a request, replayable for retries.
pub enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// A file's whole content, reopened on each attempt.
    File(&'a std::path::Path),
}

/// One failed attempt: worth another try (5xx, broken connection) or not.
enum Failure {
    Transient(anyhow::Error),
    Final(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Final(e)
    }
}

impl Client {
    /// A client for `reference`'s repository, with the credentials the auth
    /// files hold for its registry. Does not connect yet.
    pub fn new(reference: &Reference, options: &Options, access: Access) -> Result<Client> {
        let mut tls = ureq::tls::TlsConfig::builder().disable_verification(!options.tls_verify);
        if let Some(ca) = &options.ca_file {
            let pem = std::fs::read(ca).with_context(|| format!("reading --ca-file {}", ca.display()))?;
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                if let ureq::tls::PemItem::Certificate(c) =
                    item.with_context(|| format!("--ca-file {}: not PEM", ca.display()))?
                {
                    certs.push(c);
                }
            }
            if certs.is_empty() {
                bail!("--ca-file {}: no certificate in it", ca.display());
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .https_only(!options.insecure)
            .tls_config(tls.build())
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(concat!("sealbox/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(options.jobs.max(1) * 2)
            .build()
            .into();
        let scheme = if options.insecure { "http" } else { "https" };
        let actions = match access {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        };
        let credentials = match options.credentials.get(&reference.registry) {
            Some(c) => Some(c.clone()),
            None => auth::find(&auth::search_path(options.auth_file.as_deref()), &reference.registry)?,
        };
        Ok(Client {
            agent,
            base: format!("{scheme}://{}", reference.api_host()),
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            scopes: vec![format!("repository:{}:{actions}", reference.repository)],
            credentials,
            auth: Mutex::new(AuthState::Anonymous),
            attempts: options.attempts.max(1),
        })
    }

    /// Also asks for pull access to `repository` (a mount source) when a
    /// token is fetched.
    pub fn add_pull_scope(&mut self, repository: &str) {
        let scope = format!("repository:{repository}:pull");
        if !self.scopes.contains(&scope) {
            self.scopes.push(scope);
        }
    }

    /// The repository this client talks to.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Checks the registry answers and authenticates, so the transfers that
    /// follow carry credentials from their first request.
    pub fn ping(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        self.retry("reach the registry", || {
            let resp = self.send("GET", &url, &[], &Payload::Empty)?;
            match resp.status().as_u16() {
                200..=299 => Ok(()),
                404 => Err(Failure::Final(anyhow!("{} does not serve the OCI distribution API at /v2/", self.base))),
                s => Err(status_failure(s, "GET /v2/", resp)),
            }
        })
    }

    /// Whether the repository has the blob `digest`.
    pub fn blob_exists(&self, digest: &Digest) -> Result<bool> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        self.retry(&format!("check blob {digest}"), || {
            let resp = self.send("HEAD", &url, &[], &Payload::Empty)?;
            match resp.status().as_u16() {
                200..=299 => Ok(true),
                404 => Ok(false),
                s => Err(status_failure(s, "HEAD blob", resp)),
            }
        })
    }

    /// Uploads `desc`'s bytes from `payload` unless a mount from
    /// `mount_from` (another repository of this registry) succeeds. Returns
    /// whether the blob was mounted. The registry checks the digest.
    pub fn upload_blob(&self, desc: &Descriptor, payload: &Payload<'_>, mount_from: Option<&str>) -> Result<bool> {
        let digest = &desc.digest;
        self.retry(&format!("upload blob {digest}"), || {
            let mut url = format!("{}/v2/{}/blobs/uploads/", self.base, self.repository);
            if let Some(from) = mount_from {
                url.push_str(&format!("?mount={digest}&from={}", encode(from)));
            }
            let resp = self.send("POST", &url, &[], &Payload::Empty)?;
            let location = match resp.status().as_u16() {
                201 => return Ok(true),
                202 => header(&resp, "location")
                    .ok_or_else(|| Failure::Final(anyhow!("the registry started an upload without a Location")))?,
                s => return Err(status_failure(s, "start blob upload", resp)),
            };
            let mut put = self.resolve_location(&location);
            put.push(if put.contains('?') { '&' } else { '?' });
            put.push_str(&format!("digest={}", encode(&digest.to_string())));
            let headers = [("content-type", "application/octet-stream".to_string())];
            let resp = self.send("PUT", &put, &headers, payload)?;
            match resp.status().as_u16() {
                201 | 204 => Ok(false),
                s => Err(status_failure(s, &format!("upload blob {digest}"), resp)),
            }
        })
    }

    /// Starts downloading the blob `digest`: the body, for the caller to
    /// hash as it stores it. Retries the request, not the body.
    pub fn get_blob(&self, digest: &Digest) -> Result<impl Read + use<>> {
        Ok(self.get_blob_from(digest, 0)?.0)
    }

    /// Like [`Client::get_blob`], from byte `offset` on when the registry
    /// honours a range request; the flag says whether it did (otherwise the
    /// body is the whole blob).
    pub fn get_blob_from(&self, digest: &Digest, offset: u64) -> Result<(impl Read + use<>, bool)> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let range = [("range", format!("bytes={offset}-"))];
        let headers: &[(&str, String)] = if offset > 0 { &range } else { &[] };
        self.retry(&format!("download blob {digest}"), || {
            let resp = self.send("GET", &url, headers, &Payload::Empty)?;
            match resp.status().as_u16() {
                200 => Ok((resp.into_body().into_reader(), false)),
                206 if offset > 0 => Ok((resp.into_body().into_reader(), true)),
                s => Err(status_failure(s, &format!("download blob {digest}"), resp)),
            }
        })
    }

    /// The manifest `reference` (a tag or digest) names: its bytes and
    /// media type. The caller checks the digest.
    pub fn get_manifest(&self, reference: &str) -> Result<(Vec<u8>, String)> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        self.retry(&format!("fetch manifest {reference}"), || {
            let resp = self.send("GET", &url, &[("accept", MANIFEST_ACCEPT.into())], &Payload::Empty)?;
            match resp.status().as_u16() {
                200 => {
                    let media_type = header(&resp, "content-type").unwrap_or_default();
                    let media_type = media_type.split(';').next().unwrap_or_default().trim().to_string();
                    let bytes = resp
                        .into_body()
                        .with_config()
                        .limit(MAX_MANIFEST)
                        .read_to_vec()
                        .map_err(|e| transport(e, "reading a manifest"))?;
                    Ok((bytes, media_type))
                }
                404 => Err(Failure::Final(anyhow!(
                    "{}/{}: no manifest {reference} (not pushed, or no access)",
                    self.registry,
                    self.repository
                ))),
                s => Err(status_failure(s, &format!("fetch manifest {reference}"), resp)),
            }
        })
    }

    /// Stores `bytes` as the manifest `reference` (a tag or digest).
    /// Returns the digest the registry reports for it, if it says.
    pub fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<Option<String>> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        self.retry(&format!("push manifest {reference}"), || {
            let headers = [("content-type", media_type.to_string())];
            let resp = self.send("PUT", &url, &headers, &Payload::Bytes(bytes))?;
            match resp.status().as_u16() {
                200..=299 => Ok(header(&resp, "docker-content-digest")),
                s => Err(status_failure(s, &format!("push manifest {reference}"), resp)),
            }
        })
    }

    /// The digest the registry reports for the manifest `reference`, if any.
    pub fn head_manifest(&self, reference: &str, media_type: &str) -> Result<Option<String>> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        self.retry(&format!("check manifest {reference}"), || {
            let resp = self.send("HEAD", &url, &[("accept", media_type.into())], &Payload::Empty)?;
            match resp.status().as_u16() {
                200..=299 => Ok(header(&resp, "docker-content-digest")),
                404 => Ok(None),
                s => Err(status_failure(s, &format!("check manifest {reference}"), resp)),
            }
        })
    }

    /// Runs `call` until it succeeds, fails for good, or `attempts` tries
    /// were made, sleeping 0.25 s, 0.5 s, 1 s … (at most 4 s) between tries.
    fn retry<T>(&self, what: &str, mut call: impl FnMut() -> Result<T, Failure>) -> Result<T> {
        let mut delay = Duration::from_millis(250);
        for attempt in 1..=self.attempts {
            match call() {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => return Err(e.context(format!("cannot {what} at {}", self.registry))),
                Err(Failure::Transient(e)) if attempt == self.attempts => {
                    return Err(e.context(format!("cannot {what} at {} ({attempt} attempts)", self.registry)));
                }
                Err(Failure::Transient(_)) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(4));
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// One request with the current credentials; on a 401, authenticates
    /// as the challenge asks and sends it once more.
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        payload: &Payload<'_>,
    ) -> Result<Response<Body>, Failure> {
        let resp = self.send_once(method, url, headers, payload)?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let challenge = header(&resp, "www-authenticate").unwrap_or_default();
        self.authenticate(&challenge)?;
        let resp = self.send_once(method, url, headers, payload)?;
        if resp.status().as_u16() == 401 {
            return Err(Failure::Final(self.refused()));
        }
        Ok(resp)
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        payload: &Payload<'_>,
    ) -> Result<Response<Body>, Failure> {
        let mut req = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match self.auth.lock().map(|a| a.clone()).unwrap_or(AuthState::Anonymous) {
            AuthState::Anonymous => {}
            AuthState::Basic => {
                if let Some(c) = &self.credentials {
                    req = req.header("authorization", basic(c));
                }
            }
            AuthState::Bearer(token) => req = req.header("authorization", format!("Bearer {token}")),
        }
        let body = match payload {
            Payload::Empty => {
                if method == "POST" || method == "PUT" {
                    req = req.header("content-length", "0");
                }
                SendBody::none()
            }
            Payload::Bytes(b) => {
                req = req.header("content-length", b.len().to_string());
                SendBody::from_owned_reader(std::io::Cursor::new(b.to_vec()))
            }
            Payload::File(path) => {
                let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
                let len = file.metadata().with_context(|| format!("reading {}", path.display()))?.len();
                req = req.header("content-length", len.to_string());
                SendBody::from_owned_reader(file)
            }
        };
        let req = req.body(body).map_err(|e| Failure::Final(anyhow!("bad request {method} {url}: {e}")))?;
        self.agent.run(req).map_err(|e| transport(e, &format!("{method} {url}")))
    }

    /// Sets up credentials for `challenge` (a `WWW-Authenticate` value):
    /// basic auth from the auth files, or a bearer token from the realm.
    fn authenticate(&self, challenge: &str) -> Result<(), Failure> {
        let (scheme, params) = parse_challenge(challenge);
        let state = match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                if self.credentials.is_none() {
                    return Err(Failure::Final(self.login_needed()));
                }
                AuthState::Basic
            }
            "bearer" => {
                let realm = params
                    .iter()
                    .find(|(k, _)| k == "realm")
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| Failure::Final(anyhow!("bearer challenge without a realm: {challenge:?}")))?;
                let mut url = realm.clone();
                let mut sep = if url.contains('?') { '&' } else { '?' };
                if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
                    url.push_str(&format!("{sep}service={}", encode(service)));
                    sep = '&';
                }
                for scope in &self.scopes {
                    url.push_str(&format!("{sep}scope={}", encode(scope)));
                    sep = '&';
                }
                let mut req = http::Request::builder().method("GET").uri(&url);
                if let Some(c) = &self.credentials {
                    req = req.header("authorization", basic(c));
                }
                let req =
                    req.body(SendBody::none()).map_err(|e| Failure::Final(anyhow!("bad token URL {url}: {e}")))?;
                let resp = self.agent.run(req).map_err(|e| transport(e, &format!("GET {realm}")))?;
                match resp.status().as_u16() {
                    200 => {}
                    401 | 403 if self.credentials.is_some() => return Err(Failure::Final(self.refused())),
                    401 | 403 => return Err(Failure::Final(self.login_needed())),
                    s => return Err(status_failure(s, "fetch a bearer token", resp)),
                }
                let raw = resp
                    .into_body()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| transport(e, &format!("reading the token from {realm}")))?;
                let v: serde_json::Value = serde_json::from_slice(&raw)
                    .map_err(|e| Failure::Final(anyhow!("the token service {realm} sent no JSON: {e}")))?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| Failure::Final(anyhow!("the token service {realm} sent no token")))?;
                AuthState::Bearer(token.to_string())
            }
            _ => {
                return Err(Failure::Final(anyhow!(
                    "{} asks for unsupported authentication {challenge:?}",
                    self.registry
                )));
            }
        };
        if let Ok(mut a) = self.auth.lock() {
            *a = state;
        }
        Ok(())
    }

    fn login_needed(&self) -> anyhow::Error {
        anyhow!("{} requires authentication: run `sealbox login {}`", self.registry, self.registry)
    }

    fn refused(&self) -> anyhow::Error {
        match &self.credentials {
            Some(c) => anyhow!(
                "{} refused the credentials of user {:?} (from {}): wrong user name or password, or no access to {}",
                self.registry,
                c.username,
                c.source.display(),
                self.repository
            ),
            None => self.login_needed(),
        }
    }

    fn resolve_location(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }
}

/// Checks `credentials` against `registry` (`host[:port]`): the API root
/// with them must answer. A registry that needs no credentials passes too.
pub fn check_login(registry: &str, credentials: Credentials, options: &Options) -> Result<()> {
    let reference =
        Reference { registry: registry.to_string(), repository: "sealbox-login".into(), tag: None, digest: None };
    let mut client = Client::new(&reference, options, Access::Pull)?;
    client.scopes.clear();
    client.credentials = Some(credentials);
    client.ping()
}

fn basic(c: &Credentials) -> String {
    format!("Basic {}", BASE64.encode(format!("{}:{}", c.username, c.password)))
}

fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// A failure for an unexpected status: 5xx and 429 are worth retrying.
fn status_failure(status: u16, what: &str, resp: Response<Body>) -> Failure {
    let detail = resp
        .into_body()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .ok()
        .map(|s| s.chars().filter(|c| !c.is_control()).take(300).collect::<String>())
        .unwrap_or_default();
    let e = anyhow!("{what}: HTTP {status} {detail}");
    if status >= 500 || status == 429 { Failure::Transient(e) } else { Failure::Final(e) }
}

/// A transport error: broken connections and timeouts are worth retrying;
/// TLS trouble is not, and gets a hint.
fn transport(e: ureq::Error, what: &str) -> Failure {
    let text = e.to_string().to_ascii_lowercase();
    if ["certificate", "tls", "handshake", "corrupt message", "invalidcontenttype"].iter().any(|w| text.contains(w)) {
        return Failure::Final(anyhow!(
            "{what}: {e} (a TLS failure: for a private CA use --ca-file, to skip verification \
             --tls-verify=false; for a registry that speaks plain HTTP, --insecure)"
        ));
    }
    match e {
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::Protocol(_) => {
            Failure::Transient(anyhow!("{what}: {e}"))
        }
        e => Failure::Final(anyhow!("{what}: {e}")),
    }
}

/// Splits `Bearer realm="x",service="y"` (a registry's `WWW-Authenticate`,
/// untrusted) into the scheme and its parameters; public for the fuzzer.
pub fn parse_challenge(challenge: &str) -> (String, Vec<(String, String)>) {
    let challenge = challenge.trim();
    let (scheme, rest) = challenge.split_once(' ').unwrap_or((challenge, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        params.push((key, value.to_string()));
        rest = after.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    (scheme.to_string(), params)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.io/token".into()),
                ("service".into(), "registry.io".into()),
                ("scope".into(), "repository:a/b:pull".into())
            ]
        );
        let (s, p) = parse_challenge(r#"Basic realm="basic-realm""#);
        assert_eq!((s.as_str(), p.len()), ("Basic", 1));
    }

    #[test]
    fn encoding_keeps_unreserved_only() {
        assert_eq!(encode("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
    }
}
