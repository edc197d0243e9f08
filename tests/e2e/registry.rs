//! Registries: push, pull, login, `FROM` a remote base, modules as OCI
//! artifacts, against a real registry (Debian's `docker-registry`, the
//! distribution v2 server) that each test starts on 127.0.0.1 with a free
//! port and a temporary storage directory.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// The user and password of the htpasswd registry.
pub(crate) const USER: &str = "sealbox";
pub(crate) const PASSWORD: &str = "test-password-1";
/// `htpasswd -Bbn sealbox test-password-1` (bcrypt), made once: the test
/// needs no htpasswd tool.
const HTPASSWD: &str = "sealbox:$2y$05$BNbHLFLpl3.r66NxpHs8ce2KNE4eIVDYPqb7Vpq6EucS9JoeTuJ72\n";

/// A running registry; killed when dropped.
pub(crate) struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// The storage root when it is not the registry's own `data`.
    root: Option<PathBuf>,
}

impl Registry {
    /// Starts a plain-HTTP registry, with htpasswd auth when `auth`.
    pub(crate) fn start(auth: bool) -> Registry {
        Registry::start_with(auth, None)
    }

    /// Starts a registry; HTTPS with `tls` (certificate, key) when given.
    fn start_with(auth: bool, tls: Option<(&Path, &Path)>) -> Registry {
        Registry::start_on(auth, tls, None)
    }

    /// Starts a plain-HTTP registry, without auth, whose filesystem
    /// storage root is `root` (as basefs's `init-registry.sh` serves a
    /// cluster image's `registry/`).
    pub(crate) fn serve(root: &Path) -> Registry {
        Registry::start_on(false, None, Some(root.to_path_buf()))
    }

    fn start_on(auth: bool, tls: Option<(&Path, &Path)>, root: Option<PathBuf>) -> Registry {
        let dir = tempfile::tempdir().expect("registry dir");
        if auth {
            std::fs::write(dir.path().join("htpasswd"), HTPASSWD).expect("htpasswd");
        }
        let mut r = Registry { dir, port: 0, child: None, root };
        // A free port can be taken by another test between our probe and
        // the registry's bind: then try another one.
        for _ in 0..5 {
            r.port = free_port();
            let mut config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n",
                r.storage().display(),
                r.port
            );
            if let Some((cert, key)) = tls {
                config.push_str(&format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display()));
            }
            if auth {
                let htpasswd = r.dir.path().join("htpasswd");
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: sealbox-test\n    path: {}\n",
                    htpasswd.display()
                ));
            }
            std::fs::write(r.dir.path().join("config.yml"), config).expect("config");
            if r.try_start() {
                return r;
            }
        }
        panic!("the registry could not listen on a free port: {}", r.log());
    }

    /// (Re)starts the server on the same port and storage.
    pub(crate) fn restart(&mut self) {
        assert!(self.try_start(), "the registry did not start again on port {}: {}", self.port, self.log());
    }

    /// Starts the server; whether it is the one listening on its port.
    fn try_start(&mut self) -> bool {
        let bin = registry_binary();
        let log = std::fs::File::create(self.dir.path().join("registry.log")).expect("log");
        let child = Command::new(&bin)
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        self.child = Some(child);
        let exited = |r: &mut Registry| r.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).is_some();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if exited(self) {
                self.child = None;
                return false;
            }
            assert!(Instant::now() < deadline, "the registry did not listen within 20s: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        // Something listens; a registry that lost the port exits at once.
        std::thread::sleep(Duration::from_millis(100));
        if exited(self) {
            self.child = None;
            return false;
        }
        true
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }

    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn storage(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| self.dir.path().join("data"))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The distribution server: Debian's `docker-registry` package. The tests
/// fail (not skip) without it, naming the package.
fn registry_binary() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/bin"]) {
        let p = Path::new(dir).join("docker-registry");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "docker-registry is not installed: these tests need Debian's `docker-registry` package \
         (apt-get install docker-registry; scripts/setup.sh installs it)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `sealbox` with its own store.
pub(crate) fn sb(store: &Path) -> Command {
    let mut c = sealbox();
    c.env("SEALBOX_ROOT", store);
    // Never the developer's own credentials.
    c.env("REGISTRY_AUTH_FILE", store.with_extension("auth.json"));
    c.env("HOME", store.with_extension("home"));
    c.env_remove("XDG_RUNTIME_DIR").env_remove("DOCKER_CONFIG").env_remove("XDG_CONFIG_HOME");
    c
}

/// Runs and insists on success; returns trimmed stdout.
pub(crate) fn ok(cmd: &mut Command) -> String {
    let (out, stdout, stderr) = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{stderr}", out.status);
    stdout.trim().to_string()
}

/// Builds an image from files `files` (path, bytes) into `store` as `tag`.
pub(crate) fn build_image(store: &Path, tag: &str, files: &[(&str, Vec<u8>)], extra: &[&str]) -> String {
    let ctx = tempfile::tempdir().expect("ctx");
    for (path, bytes) in files {
        let p = ctx.path().join("files").join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY files /files\n").expect("Kubefile");
    ok(sb(store).arg("build").arg(ctx.path()).args(["-t", tag]).args(extra))
}

/// `sealbox login` to `host` as [`USER`] with `password`, for the store
/// `store`: the exit code and stderr.
pub(crate) fn login(store: &Path, host: &str, password: &str) -> (Option<i32>, String) {
    let mut child = sb(store)
        .args(["login", host, "-u", USER, "--password-stdin", "--insecure"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("login");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
    let out = child.wait_with_output().expect("login");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every blob digest in a store.
fn blobs(store: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(store.join("blobs/sha256"))
        .expect("blobs")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Bytes that do not compress (a simple xorshift stream), so layers are big.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn push_then_pull_into_an_empty_store_keeps_every_digest() {
    let reg = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let a = work.path().join("a");
    let digest = build_image(
        &a,
        "local/app:v1",
        &[("x.txt", b"hello\n".to_vec()), ("y.bin", noise(4096, 1))],
        &["--platform", "linux/amd64,linux/arm64"],
    );
    let dest = format!("{}/team/app:v1", reg.host());
    let pushed = ok(sb(&a).args(["push", "local/app:v1", &dest, "--insecure"]));
    assert_eq!(pushed, digest, "push prints the local digest");

    // skopeo sees the same index, byte for byte.
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{dest}")])
        .output()
        .expect("running skopeo (scripts/setup.sh installs it)");
    assert!(raw.status.success(), "skopeo inspect: {}", String::from_utf8_lossy(&raw.stderr));
    let raw_digest = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&raw.stdout)));
    assert_eq!(raw_digest, digest, "the registry serves the local index bytes");
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).expect("index JSON");
    assert_eq!(index["manifests"].as_array().expect("manifests").len(), 2, "both platforms: {index}");

    // A second push sends nothing.
    let (out, _, stderr) = run(sb(&a).args(["push", "local/app:v1", &dest, "--insecure"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("0 blobs (0 B) transferred"), "{stderr}");

    // Pull into an empty store: same digest, same blobs, fsck clean.
    let b = work.path().join("b");
    let pulled = ok(sb(&b).args(["pull", &dest, "--insecure"]));
    assert_eq!(pulled, digest);
    assert_eq!(blobs(&b), blobs(&a), "the pulled store holds exactly the image's blobs");
    ok(sb(&b).arg("fsck"));
    let images = ok(sb(&b).arg("images"));
    assert!(images.contains(&dest), "{images}");

    // By digest too.
    let by_digest = format!("{}/team/app@{digest}", reg.host());
    let c = work.path().join("c");
    assert_eq!(ok(sb(&c).args(["pull", &by_digest, "--insecure"])), digest);

    // Another repository of the same registry: blobs are mounted, not sent.
    let other = format!("{}/other/app:v1", reg.host());
    let (out, _, stderr) = run(sb(&b).args(["push", &dest, &other, "--insecure"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("0 blobs (0 B) transferred") && !stderr.contains(" 0 mounted"), "{stderr}");
}

#[test]
fn plain_http_needs_insecure_and_is_never_a_fallback() {
    let reg = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let a = work.path().join("a");
    build_image(&a, "img", &[("f", b"x".to_vec())], &[]);
    let started = Instant::now();
    let (out, _, stderr) = run(sb(&a).args(["push", "img", &format!("{}/t/img:v1", reg.host())]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--insecure"), "the error says how to reach a plain-HTTP registry: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(5), "a TLS failure is not retried");
    assert!(!reg.storage().join("docker/registry/v2/repositories/t").exists(), "nothing reached the registry");

    let (out, _, stderr) = run(sb(&a).args(["push", "img", "t/img:v1", "--insecure"]));
    assert_eq!(out.status.code(), Some(2), "a destination without a registry is a usage error: {stderr}");
}

#[test]
fn auth_required_login_stores_0600_credentials_and_a_wrong_password_is_named() {
    let reg = Registry::start(true);
    let work = tempfile::tempdir().expect("work");
    let a = work.path().join("a");
    let digest = build_image(&a, "img", &[("f", b"secret stuff".to_vec())], &[]);
    let dest = format!("{}/team/img:v1", reg.host());

    let (out, _, stderr) = run(sb(&a).args(["push", "img", &dest, "--insecure"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("requires authentication") && stderr.contains("sealbox login"), "{stderr}");

    let auth_file = a.with_extension("auth.json");
    let login = |password: &str| login(&a, &reg.host(), password);
    let (code, stderr) = login("wrong-password");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("refused the credentials") && stderr.contains(USER), "{stderr}");
    assert!(!auth_file.exists(), "a failed login stores nothing");

    let (code, stderr) = login(PASSWORD);
    assert_eq!(code, Some(0), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&auth_file).expect("auth file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "credentials are private");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&auth_file).expect("read")).expect("JSON");
    assert!(doc["auths"][reg.host()]["auth"].is_string(), "docker config.json format: {doc}");

    assert_eq!(ok(sb(&a).args(["push", "img", &dest, "--insecure"])), digest);
    // Another store with the same credentials file pulls it.
    let b = work.path().join("b");
    let mut pull = sb(&b);
    pull.env("REGISTRY_AUTH_FILE", &auth_file).args(["pull", &dest, "--insecure"]);
    assert_eq!(ok(&mut pull), digest);
    // Credentials found in docker's own config file work too.
    let home = work.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).expect("docker dir");
    std::fs::copy(&auth_file, home.join(".docker/config.json")).expect("copy");
    let c = work.path().join("c");
    let mut pull = sb(&c);
    pull.env("HOME", &home).env_remove("REGISTRY_AUTH_FILE").args(["pull", &dest, "--insecure"]);
    assert_eq!(ok(&mut pull), digest);

    ok(sb(&a).args(["logout", &reg.host()]));
    let (out, _, stderr) = run(sb(&a).args(["push", "img", &dest, "--insecure"]));
    assert_eq!(out.status.code(), Some(1), "logged out: {stderr}");
}

#[test]
fn a_registry_killed_mid_push_then_restarted_takes_the_next_push() {
    let mut reg = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let a = work.path().join("a");
    let files: Vec<(String, Vec<u8>)> = (0..6).map(|i| (format!("big{i}.bin"), noise(6 << 20, i + 7))).collect();
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let digest = build_image(&a, "big", &files, &["--compression", "zstd"]);
    let dest = format!("{}/team/big:v1", reg.host());

    let push = sb(&a)
        .args(["push", "big", &dest, "--insecure", "--jobs", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("push");
    // Kill the registry once an upload is under way.
    let uploads = reg.storage().join("docker/registry/v2/repositories/team/big/_uploads");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !uploads.exists() {
        assert!(Instant::now() < deadline, "no upload started: {}", reg.log());
        std::thread::sleep(Duration::from_millis(2));
    }
    reg.kill();
    let out = push.wait_with_output().expect("push");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the push fails when the registry dies: {stderr}");
    assert!(stderr.contains(&reg.host()), "the error names the registry: {stderr}");

    reg.restart();
    assert_eq!(ok(sb(&a).args(["push", "big", &dest, "--insecure"])), digest);
    let b = work.path().join("b");
    assert_eq!(ok(sb(&b).args(["pull", &dest, "--insecure"])), digest);
    ok(sb(&b).arg("fsck"));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).expect("manifest"),
    )
    .expect("manifest JSON");
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd", "{manifest}");
}

#[test]
fn from_a_pushed_base_pulls_it_by_tag_and_by_digest() {
    let reg = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let a = work.path().join("a");
    let base = build_image(&a, "base", &[("base.txt", b"from the base\n".to_vec())], &[]);
    let base_ref = format!("{}/team/base:v1", reg.host());
    ok(sb(&a).args(["push", "base", &base_ref, "--insecure"]));
    let base_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("blobs/sha256").join(&base[7..])).expect("manifest"))
            .expect("JSON");
    let base_layer = base_manifest["layers"][0]["digest"].as_str().expect("layer").to_string();

    for from in [base_ref.clone(), format!("{}/team/base@{base}", reg.host())] {
        let store = work.path().join(format!("s{}", from.len()));
        let ctx = tempfile::tempdir().expect("ctx");
        std::fs::create_dir(ctx.path().join("etc")).expect("etc");
        std::fs::write(ctx.path().join("etc/child"), "child\n").expect("child");
        std::fs::write(ctx.path().join("Kubefile"), format!("FROM {from}\nCOPY etc /etc\n")).expect("Kubefile");
        let child = ok(sb(&store).arg("build").arg(ctx.path()).args(["-t", "child", "--insecure"]));
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.join("blobs/sha256").join(&child[7..])).expect("manifest"))
                .expect("JSON");
        assert_eq!(m["layers"][0]["digest"], base_layer.as_str(), "the base layer comes first: {m}");
        assert_eq!(m["layers"].as_array().expect("layers").len(), 2);
        let images = ok(sb(&store).arg("images"));
        assert!(images.contains(&from), "the base is in the store under its reference: {images}");
        ok(sb(&store).arg("fsck"));
    }

    // Without --insecure the build does not quietly use plain HTTP.
    let store = work.path().join("strict");
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::write(ctx.path().join("Kubefile"), format!("FROM {base_ref}\n")).expect("Kubefile");
    let (out, _, stderr) = run(sb(&store).arg("build").arg(ctx.path()));
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("--insecure"), "{stderr}");
}

#[test]
fn a_module_pushed_as_an_artifact_runs_by_its_pin_and_a_wrong_pin_is_refused() {
    let reg = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let store = work.path().join("s");
    let module = p1("labeler");
    let dest = format!("{}/modules/labeler:v1", reg.host());
    let pinned = ok(sb(&store).args(["module", "push"]).arg(&module).args([&dest, "--insecure"]));
    let pin = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(std::fs::read(&module).expect("module")))
    );
    assert_eq!(pinned, format!("oci://{dest}@{pin}"));

    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{dest}")])
        .output()
        .expect("skopeo");
    let m: serde_json::Value = serde_json::from_slice(&raw.stdout).expect("manifest JSON");
    assert_eq!(m["layers"].as_array().expect("layers").len(), 1, "{m}");
    assert_eq!(m["layers"][0]["mediaType"], "application/vnd.wasm.content.layer.v1+wasm");
    assert_eq!(m["layers"][0]["digest"], pin.as_str());
    assert!(m["annotations"]["dev.sealbox.module"].as_str().expect("metadata").contains("\"kind\":\"transform\""));

    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir_all(ctx.path().join("rootfs/manifests")).expect("dirs");
    std::fs::write(
        ctx.path().join("rootfs/manifests/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n",
    )
    .expect("manifest");
    let kubefile = |module: &str| format!("FROM scratch\nCOPY rootfs .\nRUN --module={module} team=platform\n");
    std::fs::write(ctx.path().join("Kubefile"), kubefile(&pinned)).expect("Kubefile");
    let (out, _, stderr) = run(sb(&store).arg("build").arg(ctx.path()).args(["-t", "m", "--insecure"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Kubefile:3 RUN") && stderr.contains("labeler"), "{stderr}");

    let wrong = format!("oci://{dest}@sha256:{}", "0".repeat(64));
    std::fs::write(ctx.path().join("Kubefile"), kubefile(&wrong)).expect("Kubefile");
    let (out, _, stderr) = run(sb(&work.path().join("t")).arg("build").arg(ctx.path()).args(["-t", "m", "--insecure"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&pin) && stderr.contains("update the pin"), "{stderr}");
    assert!(!stderr.contains("Kubefile:3 RUN"), "nothing ran: {stderr}");

    let unpinned = format!("oci://{dest}");
    std::fs::write(ctx.path().join("Kubefile"), kubefile(&unpinned)).expect("Kubefile");
    let (out, _, stderr) = run(sb(&work.path().join("u")).arg("build").arg(ctx.path()).args(["-t", "m", "--insecure"]));
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("must be pinned"), "{stderr}");

    // The same artifact as a pipeline-file step, pinned inline, in a store
    // that has never seen it: fetched, checked, run, its output a layer.
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY rootfs .\n").expect("Kubefile");
    let pipeline = |module: &str| {
        format!(
            "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: label\n    stage: before-pack\n    \
             module: {module}\n    kind: transform\n    config: {{args: [team=platform]}}\n"
        )
    };
    std::fs::write(ctx.path().join("sealbox.yaml"), pipeline(&pinned)).expect("sealbox.yaml");
    let fresh = work.path().join("p");
    let (out, _, stderr) = run(sb(&fresh).arg("build").arg(ctx.path()).args(["-t", "p", "--insecure"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("before-pack label") && stderr.contains("labeler"), "{stderr}");
    let bundle = tempfile::tempdir().expect("bundle");
    let rootfs = umoci_unpack(&fresh, "p", &bundle.path().join("b"));
    let labelled = std::fs::read_to_string(rootfs.join("manifests/cm.yaml")).expect("cm.yaml");
    assert!(labelled.contains("team: \"platform\""), "{labelled}");
    // A pipeline pin the registry's bytes do not match stops the build
    // before anything runs.
    std::fs::write(ctx.path().join("sealbox.yaml"), pipeline(&wrong)).expect("sealbox.yaml");
    let (out, _, stderr) = run(sb(&work.path().join("q")).arg("build").arg(ctx.path()).args(["-t", "q", "--insecure"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&pin) && !stderr.contains("before-pack label"), "{stderr}");
}

#[test]
fn module_pull_fetches_by_pin_and_compiles_so_a_build_needs_neither_registry_nor_compile() {
    let mut reg = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let module = p1("labeler");
    let dest = format!("{}/modules/labeler:v1", reg.host());
    let pinned = ok(sb(&work.path().join("author")).args(["module", "push"]).arg(&module).args([&dest, "--insecure"]));
    let store = work.path().join("ci");
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache).expect("cache dir");
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    let pull = |extra: &[&str]| {
        let mut cmd = sb(&store);
        cmd.env("SEALBOX_CACHE", &cache).args(["module", "pull", &pinned, "--insecure"]).args(extra);
        run(&mut cmd)
    };

    let (out, stdout, stderr) = pull(&["--no-compile"]);
    assert!(out.status.success(), "{stderr}");
    let fields: Vec<&str> = stdout.trim_end().split('\t').collect();
    assert_eq!(fields, [pinned.as_str(), pinned.rsplit('@').next().expect("pin"), "in the store"], "{stdout}");
    assert!(!cache.join("modules").exists() || std::fs::read_dir(cache.join("modules")).expect("ls").count() == 0);

    let (out, stdout, stderr) = pull(&[]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.trim_end().ends_with(" ms") && stdout.contains("\tcompiled in "), "{stdout}");
    let (out, stdout, stderr) = pull(&[]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.trim_end().ends_with("\talready in the cache"), "{stdout}");

    // With the registry gone, a build runs the module from the store.
    reg.kill();
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir_all(ctx.path().join("rootfs/manifests")).expect("dirs");
    std::fs::write(
        ctx.path().join("rootfs/manifests/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n",
    )
    .expect("manifest");
    std::fs::write(ctx.path().join("Kubefile"), format!("FROM scratch\nCOPY rootfs .\nRUN --module={pinned} team=a\n"))
        .expect("Kubefile");
    let mut build = sb(&store);
    build.env("SEALBOX_CACHE", &cache).arg("build").arg(ctx.path()).args(["-t", "m", "--insecure"]);
    let (out, _, stderr) = run(&mut build);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("labeler"), "{stderr}");

    // Only pinned registry modules are pulled.
    for bad in [module.to_str().expect("utf-8 path"), &format!("oci://{dest}")] {
        let (out, _, stderr) = run(sb(&store).args(["module", "pull", bad, "--insecure"]));
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
    }
}

/// The names of the steps a `build --format json` reports as cached, and
/// of those it ran.
fn cached_and_ran(json: &str) -> (Vec<String>, Vec<String>) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let steps = v["steps"].as_array().expect("steps");
    let names = |cached: bool| {
        steps.iter().filter(|s| s["cached"] == cached).map(|s| s["name"].as_str().expect("name").to_string()).collect()
    };
    (names(true), names(false))
}

#[test]
fn cache_to_then_cache_from_makes_a_rebuild_on_an_empty_store_reuse_every_cached_step() {
    let reg = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir_all(ctx.path().join("rootfs/manifests")).expect("dirs");
    std::fs::write(
        ctx.path().join("rootfs/manifests/pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n",
    )
    .expect("manifest");
    std::fs::write(ctx.path().join("rootfs/big.bin"), noise(1 << 20, 3)).expect("big");
    std::fs::create_dir(ctx.path().join("modules")).expect("modules");
    std::fs::copy(p1("labeler"), ctx.path().join("modules/labeler.wasm")).expect("module");
    std::fs::write(
        ctx.path().join("Kubefile"),
        "FROM scratch\nCOPY rootfs .\nRUN --module=modules/labeler.wasm team=platform\n",
    )
    .expect("Kubefile");
    let cache = format!("{}/team/cache:main", reg.host());
    let build = |store: &Path, extra: &[&str]| {
        ok(sb(store).arg("build").arg(ctx.path()).args(["-t", "app", "--format", "json", "--insecure"]).args(extra))
    };

    // The first machine: nothing cached; it pushes its step results.
    let a = work.path().join("a");
    let first = build(&a, &["--cache-to", &cache]);
    let (cached, ran) = cached_and_ran(&first);
    assert!(cached.is_empty(), "a first build runs everything: {first}");
    // The same machine again: what its local cache reuses.
    let (locally_cached, _) = cached_and_ran(&build(&a, &[]));
    assert!(locally_cached.iter().any(|n| n.contains("RUN")), "{locally_cached:?}");
    assert!(locally_cached.iter().any(|n| n.contains("COPY")), "{locally_cached:?}");

    // A second machine, empty store, seeded from the registry: it reuses
    // exactly what the first machine's own rebuild did, and makes the
    // same image.
    let b = work.path().join("b");
    let second = build(&b, &["--cache-from", &cache]);
    let (cached_b, _) = cached_and_ran(&second);
    // All but the image list: it decides the image's annotation, and is
    // never taken from another machine's word.
    let shared: Vec<String> = locally_cached.iter().filter(|n| *n != "imagelist").cloned().collect();
    assert!(shared.len() < locally_cached.len(), "{locally_cached:?}");
    assert_eq!(cached_b, shared, "{second}");
    let digest = |json: &str| serde_json::from_str::<serde_json::Value>(json).expect("json")["digest"].clone();
    assert_eq!(digest(&second), digest(&first));
    assert!(!ran.is_empty());
    ok(sb(&b).arg("fsck"));

    // Without the cache the second machine runs everything again.
    let c = work.path().join("c");
    let (cached_c, _) = cached_and_ran(&build(&c, &[]));
    assert!(cached_c.is_empty(), "{cached_c:?}");

    // A cache that is not there yet is a warning, not a failure.
    let d = work.path().join("d");
    let missing = format!("{}/team/cache:nothing", reg.host());
    let (out, _, stderr) = run(sb(&d).arg("build").arg(ctx.path()).args(["--cache-from", &missing, "--insecure"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: --cache-from"), "{stderr}");
}

/// A minimal registry of our own for what a real one never does: it asks
/// for a bearer token (from its own token endpoint, which wants basic
/// auth), and serves the blob `tamper` with one byte changed.
struct FakeRegistry {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Range requests it answered with 206.
    ranges: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// What the fake registry does wrong.
#[derive(Clone, Default)]
struct Faults {
    /// This blob is served with one byte changed.
    tamper: Option<String>,
    /// The first download of this blob stops half-way (connection closed).
    cut: Option<String>,
    /// The manifest answers 503 this many times before it is served.
    unavailable: usize,
}

impl FakeRegistry {
    /// Serves `manifest` as `repo:v1` and `blobs` (digest to bytes).
    fn start(manifest: Vec<u8>, blobs: Vec<(String, Vec<u8>)>, faults: Faults) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let ranges = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = ranges.clone();
        let cut_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let unavailable = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(faults.unavailable));
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).ok();
                        // A thread per connection: the client keeps
                        // connections open and downloads in parallel.
                        let (manifest, blobs, faults) = (manifest.clone(), blobs.clone(), faults.clone());
                        let state = (counted.clone(), cut_done.clone(), unavailable.clone());
                        std::thread::spawn(move || serve(conn, port, &manifest, &blobs, &faults, &state));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeRegistry { port, stop, ranges }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Range requests answered, whether the cut happened, 503s still to give.
type FakeState = (
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
);

/// Answers the requests of one connection (keep-alive) until it closes.
fn serve(conn: TcpStream, port: u16, manifest: &[u8], blobs: &[(String, Vec<u8>)], faults: &Faults, state: &FakeState) {
    let (ranges, cut_done, unavailable) = state;
    use std::io::{BufRead, BufReader, Read};
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut auth = String::new();
        let mut length = 0usize;
        let mut range: Option<usize> = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("authorization:") {
                auth = h[h.len() - v.len()..].trim().to_string();
            }
            if let Some(v) = lower.strip_prefix("range:") {
                range = v.trim().strip_prefix("bytes=").and_then(|r| r.trim_end_matches('-').parse().ok());
            }
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok();
        let basic = format!("Basic {}", base64_encode(format!("{USER}:{PASSWORD}").as_bytes()));
        let (status, headers, content): (&str, Vec<String>, Vec<u8>) = if path.starts_with("/token") {
            if auth == basic {
                ("200 OK", vec![], br#"{"token":"fake-token"}"#.to_vec())
            } else {
                ("401 Unauthorized", vec![], b"{}".to_vec())
            }
        } else if auth != "Bearer fake-token" {
            let challenge = format!(
                "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:repo:pull\""
            );
            ("401 Unauthorized", vec![challenge], b"{}".to_vec())
        } else if path == "/v2/" {
            ("200 OK", vec![], b"{}".to_vec())
        } else if path == "/v2/repo/manifests/v1"
            && unavailable
                .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| {
                    n.checked_sub(1)
                })
                .is_ok()
        {
            ("503 Service Unavailable", vec![], b"{}".to_vec())
        } else if path == "/v2/repo/manifests/v1" {
            ("200 OK", vec!["Content-Type: application/vnd.oci.image.manifest.v1+json".into()], manifest.to_vec())
        } else if let Some((digest, bytes)) = blobs.iter().find(|(d, _)| path == format!("/v2/repo/blobs/{d}")) {
            let mut bytes = bytes.clone();
            if faults.tamper.as_deref() == Some(digest.as_str()) {
                bytes[0] ^= 1;
            }
            if method == "GET"
                && faults.cut.as_deref() == Some(digest.as_str())
                && !cut_done.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                // Promise the whole blob, send half, hang up.
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", bytes.len());
                out.write_all(head.as_bytes()).ok();
                out.write_all(&bytes[..bytes.len() / 2]).ok();
                out.flush().ok();
                return;
            }
            match range {
                Some(from) if from < bytes.len() => {
                    ranges.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let total = bytes.len();
                    let header = format!("Content-Range: bytes {from}-{}/{total}", total - 1);
                    ("206 Partial Content", vec![header], bytes[from..].to_vec())
                }
                _ => ("200 OK", vec![], bytes),
            }
        } else {
            ("404 Not Found", vec![], b"{}".to_vec())
        };
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", content.len());
        for h in headers {
            head.push_str(&h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        if method != "HEAD" && out.write_all(&content).is_err() {
            return;
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn bearer_tokens_work_wrong_bytes_are_refused_and_a_cut_download_resumes() {
    let work = tempfile::tempdir().expect("work");
    let a = work.path().join("a");
    let digest = build_image(&a, "img", &[("f", noise(10_000, 5))], &[]);
    let read = |d: &str| std::fs::read(a.join("blobs/sha256").join(d.trim_start_matches("sha256:"))).expect("blob");
    let manifest = read(&digest);
    let m: serde_json::Value = serde_json::from_slice(&manifest).expect("manifest");
    let layer = m["layers"][0]["digest"].as_str().expect("layer").to_string();
    let config = m["config"]["digest"].as_str().expect("config").to_string();
    let blobs = vec![(layer.clone(), read(&layer)), (config.clone(), read(&config))];

    let auth_file = work.path().join("auth.json");
    let login_as = |port: u16, password: &str| {
        std::fs::write(
            &auth_file,
            format!(
                r#"{{"auths":{{"127.0.0.1:{port}":{{"auth":"{}"}}}}}}"#,
                base64_encode(format!("{USER}:{password}").as_bytes())
            ),
        )
        .expect("auth file");
    };
    let pull = |port: u16, store: &Path| {
        let mut cmd = sb(store);
        cmd.env("REGISTRY_AUTH_FILE", &auth_file).args(["pull", &format!("127.0.0.1:{port}/repo:v1"), "--insecure"]);
        run(&mut cmd)
    };

    // The token service refuses a wrong password, and says so.
    let honest = FakeRegistry::start(manifest.clone(), blobs.clone(), Faults::default());
    login_as(honest.port, "wrong");
    let (out, _, stderr) = pull(honest.port, &work.path().join("b"));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");

    // With the right password the token flow works and the image arrives.
    login_as(honest.port, PASSWORD);
    let (out, stdout, stderr) = pull(honest.port, &work.path().join("c"));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), digest);

    // A registry that changes one byte of the layer is caught by digest,
    // and nothing of it is named in the store.
    let liar = FakeRegistry::start(
        manifest.clone(),
        blobs.clone(),
        Faults { tamper: Some(layer.clone()), ..Faults::default() },
    );
    login_as(liar.port, PASSWORD);
    let d = work.path().join("d");
    let (out, _, stderr) = pull(liar.port, &d);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("wrong bytes") && stderr.contains(&layer), "{stderr}");
    assert!(!d.join("blobs/sha256").join(layer.trim_start_matches("sha256:")).exists(), "the bad blob is not kept");
    let images = ok(sb(&d).arg("images"));
    assert!(!images.contains("repo"), "{images}");

    // Two 503s are retried; a download cut half-way resumes with a range
    // request; the pull completes.
    let flaky =
        FakeRegistry::start(manifest, blobs, Faults { cut: Some(layer.clone()), unavailable: 2, ..Faults::default() });
    login_as(flaky.port, PASSWORD);
    let e = work.path().join("e");
    let (out, stdout, stderr) = pull(flaky.port, &e);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), digest);
    assert_eq!(flaky.ranges.load(std::sync::atomic::Ordering::SeqCst), 1, "the rest came by a range request");
    ok(sb(&e).arg("fsck"));

    // A registry that stays unavailable: a bounded number of tries.
    let down = FakeRegistry::start(b"{}".to_vec(), vec![], Faults { unavailable: 1000, ..Faults::default() });
    login_as(down.port, PASSWORD);
    let started = Instant::now();
    let (out, _, stderr) = pull(down.port, &work.path().join("f"));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 503") && stderr.contains("5 attempts"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30), "retries are bounded");
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with
/// openssl in `dir`: (ca.pem, server.pem, server.key).
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl (Debian's openssl package)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=sealbox test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ][..],
        ]
        .concat(),
    );
    openssl(
        &[&["req"][..], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"][..]]
            .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}

#[test]
fn https_registry_needs_its_ca_or_tls_verify_false_and_insecure_is_plain_http_only() {
    let work = tempfile::tempdir().expect("work");
    let (ca, cert, key) = make_certs(work.path());
    let reg = Registry::start_with(false, Some((&cert, &key)));
    let a = work.path().join("a");
    let digest = build_image(&a, "img", &[("f", b"over TLS".to_vec())], &[]);
    let dest = format!("{}/team/img:v1", reg.host());

    let (out, _, stderr) = run(sb(&a).args(["push", "img", &dest]));
    assert_eq!(out.status.code(), Some(1), "an unknown CA is refused: {stderr}");
    assert!(stderr.contains("--ca-file") && stderr.contains("--tls-verify=false"), "{stderr}");

    let (out, _, stderr) = run(sb(&a).args(["push", "img", &dest, "--insecure"]));
    assert_eq!(out.status.code(), Some(1), "plain HTTP to an HTTPS registry fails: {stderr}");

    assert_eq!(ok(sb(&a).args(["push", "img", &dest, "--tls-verify=false"])), digest);
    let b = work.path().join("b");
    let mut pull = sb(&b);
    pull.args(["pull", &dest, "--ca-file"]).arg(&ca);
    assert_eq!(ok(&mut pull), digest);
}

/// A registry cache is anyone's word: a policy verdict in it is never
/// taken, and an entry that names a layer the cache does not carry is
/// refused. A cache forged to say that a failing Enforce policy passed
/// does not make the build pass.
#[test]
fn a_forged_policy_verdict_in_a_registry_cache_does_not_pass_the_build() {
    use crate::pipeline::{context, limits, step, write_pipeline};
    let work = tempfile::tempdir().expect("work");
    // A deployment without limits: the Enforce policy fails it.
    let ctx = context(&[limits()], false);
    write_pipeline(ctx.path(), &[step(ctx.path(), "limits", "require-limits", "after-render", "policy", "")]);
    let violation = "container web has no cpu, memory limit";

    // An honest machine runs the policy and remembers its verdict.
    let honest = work.path().join("honest");
    let (out, _, stderr) = run(sb(&honest).arg("build").arg(ctx.path()).args(["-t", "x"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(violation), "{stderr}");
    let steps = honest.join(".sealbox/steps");
    let (key, mut verdict) = std::fs::read_dir(&steps)
        .expect("step cache")
        .filter_map(|e| {
            let path = e.expect("entry").path();
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            let key = path.file_stem()?.to_str()?.to_string();
            (v["response"]["status"] == "failure").then_some((key, v))
        })
        .next()
        .expect("the policy's failing verdict is in the step cache");

    // The forger turns it into a pass, adds an entry for a layer the cache
    // does not carry, and serves that as a step cache.
    verdict["response"]["status"] = "success".into();
    verdict["response"]["diagnostics"] = serde_json::json!([]);
    let phantom = serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": format!("sha256:{}", "0".repeat(64)),
        "size": 1, "diffId": format!("sha256:{}", "1".repeat(64)), "uncompressedSize": 1,
    });
    let config = serde_json::to_vec(&serde_json::json!({
        "entries": { key.clone(): verdict, "b".repeat(64): phantom },
    }))
    .expect("config");
    let config_digest = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&config)));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.sealbox.step-cache.v1+json",
            "digest": config_digest, "size": config.len(),
        },
        "layers": [],
    }))
    .expect("manifest");
    let forger = FakeRegistry::start(manifest, vec![(config_digest.clone(), config)], Faults::default());
    let auth_file = work.path().join("auth.json");
    let auth = base64_encode(format!("{USER}:{PASSWORD}").as_bytes());
    std::fs::write(&auth_file, format!(r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth}"}}}}}}"#, forger.port))
        .expect("auth file");

    // The victim seeds its empty cache from the forged one: the verdict
    // is taken in (marked), the phantom layer refused, and the policy runs
    // again and fails the build.
    let victim = work.path().join("victim");
    let from = format!("127.0.0.1:{}/repo:v1", forger.port);
    let mut cmd = sb(&victim);
    cmd.env("REGISTRY_AUTH_FILE", &auth_file);
    let (out, _, stderr) =
        run(cmd.arg("build").arg(ctx.path()).args(["-t", "x", "--insecure", "--verbose", "--cache-from", &from]));
    assert!(stderr.contains("1 of 2 entries new here, 1 refused"), "{stderr}");
    assert!(stderr.contains("not one of the cache's layers"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "the forged pass is not taken: {stderr}");
    assert!(stderr.contains(violation), "{stderr}");
    // The forged entry was taken in marked as another machine's word; the
    // policy's own run replaced it with this machine's verdict.
    let after = std::fs::read(victim.join(".sealbox/steps").join(format!("{key}.json"))).expect("the entry");
    let own: serde_json::Value = serde_json::from_slice(&after).expect("entry json");
    assert_eq!(own["response"]["status"], "failure", "{own}");
    assert!(own.get("imported").is_none(), "{own}");
}
