//! The render step over a fixture image tree: which files are rendered,
//! with what data, where the outputs go, and how failures are reported.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sealbox_guest::{FileEntry, FileKind, Request, Severity, Status};
use sealbox_render::walk::{Config, MissingKeyMode, render_tree, run_step};
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn env() -> BTreeMap<String, String> {
    [
        ("HostIP", "192.168.0.2"),
        ("ContainerRuntime", "containerd"),
        ("KubeVersion", "v1.22.15"),
        ("PodCIDR", "100.64.0.0/10"),
        ("SvcCIDR", "10.96.0.0/22"),
        ("VIP", "10.103.97.2"),
        ("RegistryUsername", "admin"),
        ("RegistryPassword", "passw0rd"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn config() -> Config {
    serde_json::from_value(json!({
        "apps": { "web": { "Replicas": "3", "Image": "nginx:1.25", "Port": 8080 } }
    }))
    .unwrap()
}

/// Every file under `root`, relative path → contents.
/// The fixture's two templates that use sprig functions, which sealer's
/// deploy-time renderer lacks: each is a warning at its first such call.
const NOT_SEALER: [(&str, u32); 2] =
    [("manifests/registry.yaml.tmpl", 8), ("application/apps/web/deploy.yaml.tmpl", 2)];

/// The diagnostics other than the fixture's known `render/not-sealer`
/// warnings (which must all be there).
fn besides_not_sealer(diagnostics: &[sealbox_guest::Diagnostic]) -> Vec<&sealbox_guest::Diagnostic> {
    let warned: Vec<(&str, u32)> = diagnostics
        .iter()
        .filter(|d| d.rule.as_deref() == Some("render/not-sealer"))
        .map(|d| (d.file.as_deref().unwrap_or(""), d.line.unwrap_or(0)))
        .collect();
    assert_eq!(warned, NOT_SEALER, "{diagnostics:?}");
    diagnostics.iter().filter(|d| d.rule.as_deref() != Some("render/not-sealer")).collect()
}

fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn renders_the_fixture_tree_exactly() {
    let out = tempfile::tempdir().unwrap();
    let files = vec![FileEntry {
        path: "etc/daemon.json.tmpl".into(),
        kind: FileKind::File,
        mode: 0o600,
        size: 0,
        link: None,
        hardlink: None,
    }];
    let outcome = render_tree(&fixture("rootfs"), out.path(), &env(), &config(), &files);
    assert!(besides_not_sealer(&outcome.diagnostics).is_empty(), "{:?}", outcome.diagnostics);
    let got = tree(out.path());
    let want = tree(&fixture("expected"));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (path, text) in &want {
        assert_eq!(&got[path], text, "{path}");
    }
    let modes: Vec<(String, u32)> = outcome.rendered.iter().map(|r| (r.path.clone(), r.mode)).collect();
    assert_eq!(
        modes,
        [
            ("etc/containerd.service".to_string(), 0o644),
            ("etc/daemon.json".to_string(), 0o600),
            ("etc/kubeadm.yml".to_string(), 0o644),
            ("manifests/registry.yaml".to_string(), 0o644),
            ("application/apps/db/init.sql".to_string(), 0o644),
            ("application/apps/web/conf/app.conf".to_string(), 0o644),
            ("application/apps/web/deploy.yaml".to_string(), 0o644),
        ]
    );
}

#[test]
fn printing_a_missing_key_fails_with_its_location() {
    let out = tempfile::tempdir().unwrap();
    let mut env = env();
    env.remove("PodCIDR");
    let outcome = render_tree(&fixture("rootfs"), out.path(), &env, &config(), &[]);
    let diagnostics = besides_not_sealer(&outcome.diagnostics);
    assert_eq!(diagnostics.len(), 1, "{:?}", outcome.diagnostics);
    let d = diagnostics[0];
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.message, "no value for key \"PodCIDR\"");
    assert_eq!((d.file.as_deref(), d.line, d.column), (Some("etc/kubeadm.yml.tmpl"), Some(19), Some(16)));
    assert_eq!(d.rule.as_deref(), Some("render/missing-key"));
    // The failed file is not written; the others are.
    assert!(!out.path().join("etc/kubeadm.yml").exists());
    assert!(out.path().join("etc/daemon.json").exists());
}

#[test]
fn zero_mode_prints_no_value_like_sealer() {
    let out = tempfile::tempdir().unwrap();
    let mut env = env();
    env.remove("PodCIDR");
    let config = Config { missing_key: MissingKeyMode::Zero, ..config() };
    let outcome = render_tree(&fixture("rootfs"), out.path(), &env, &config, &[]);
    assert!(besides_not_sealer(&outcome.diagnostics).is_empty(), "{:?}", outcome.diagnostics);
    let text = fs::read_to_string(out.path().join("etc/kubeadm.yml")).unwrap();
    assert!(text.contains("  podSubnet: <no value>\n"), "{text}");
}

#[test]
fn error_mode_fails_on_any_missing_lookup() {
    let out = tempfile::tempdir().unwrap();
    let config = Config { missing_key: MissingKeyMode::Error, ..config() };
    let outcome = render_tree(&fixture("rootfs"), out.path(), &env(), &config, &[]);
    // kubeadm.yml.tmpl tests APIServerPort with `or`: fine by default, an error here.
    let d = outcome.diagnostics.iter().find(|d| d.file.as_deref() == Some("etc/kubeadm.yml.tmpl")).unwrap();
    assert!(d.message.contains("map has no entry for key \"APIServerPort\""), "{}", d.message);
    assert_eq!((d.line, d.column), (Some(7), Some(18)));
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn collects_every_failure_and_answers_failure() {
    // The recursive template reaches the depth limit; unoptimised test
    // builds need more stack for that than the default test thread has.
    std::thread::Builder::new().stack_size(64 << 20).spawn(collects_every_failure).unwrap().join().unwrap();
}

fn collects_every_failure() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write(input.path(), "etc/a.conf.tmpl", "ok\n{{if .X}}\n");
    write(input.path(), "charts/b/values.yaml.tmpl", "x: {{nosuchfunc}}\n");
    write(input.path(), "applications/c.tmpl", "{{template \"loop\"}}{{define \"loop\"}}{{template \"loop\"}}{{end}}");
    write(input.path(), "manifests/d.yaml.tmpl", "name: {{.Name}}\n");
    let req = Request {
        api_version: sealbox_guest::API_VERSION.into(),
        step: "render".into(),
        env: BTreeMap::from([("Name".to_string(), "d".to_string())]),
        ..Request::default()
    };
    let resp = run_step(&req, input.path(), out.path());
    assert_eq!(resp.status, Status::Failure);
    let got: Vec<String> = resp
        .diagnostics
        .iter()
        .map(|d| format!("{}:{}:{} {}", d.file.as_deref().unwrap(), d.line.unwrap(), d.column.unwrap(), d.message))
        .collect();
    assert_eq!(
        got,
        [
            "etc/a.conf.tmpl:3:1 unexpected EOF",
            "charts/b/values.yaml.tmpl:1:6 function \"nosuchfunc\" not defined",
            "applications/c.tmpl:1:39 executing \"loop\": exceeded maximum template depth (1000) calling \"loop\"",
        ]
    );
    assert_eq!(fs::read_to_string(out.path().join("manifests/d.yaml")).unwrap(), "name: d\n");
    assert_eq!(
        resp.data,
        json!({"rendered": [{"path": "manifests/d.yaml", "template": "manifests/d.yaml.tmpl", "mode": 420}]})
    );
}

#[test]
fn request_env_overrides_image_env_and_bad_config_is_refused() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write(input.path(), "etc/x.tmpl", "{{.A}} {{.B}}");
    let mut req = Request { api_version: sealbox_guest::API_VERSION.into(), ..Request::default() };
    req.image.env = BTreeMap::from([("A".into(), "image".into()), ("B".into(), "image".into())]);
    req.env = BTreeMap::from([("B".into(), "flag".into())]);
    let resp = run_step(&req, input.path(), out.path());
    assert_eq!(resp.status, Status::Success, "{:?}", resp.diagnostics);
    assert_eq!(fs::read_to_string(out.path().join("etc/x")).unwrap(), "image flag");

    req.config = json!({"missingKey": "sometimes"});
    let resp = run_step(&req, input.path(), out.path());
    assert_eq!(resp.status, Status::Failure);
    assert!(resp.diagnostics[0].message.starts_with("render: invalid config: unknown variant `sometimes`"));
}

#[test]
fn huge_outputs_stop_at_the_limit() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // 10^4 × 10^4 iterations × 8 bytes = 800 MB: stopped by the output cap.
    write(input.path(), "etc/big.tmpl", "{{range 10000}}{{range 10000}}xxxxxxxx{{end}}{{end}}");
    let outcome = render_tree(input.path(), out.path(), &BTreeMap::new(), &Config::default(), &[]);
    assert_eq!(outcome.diagnostics.len(), 1);
    assert_eq!(outcome.diagnostics[0].rule.as_deref(), Some("render/limit"));
    assert!(outcome.diagnostics[0].message.contains("output exceeds the limit"), "{}", outcome.diagnostics[0].message);
    assert!(!out.path().join("etc/big").exists());
}

#[test]
fn odd_entries_are_reported_not_rendered() {
    use std::os::unix::ffi::OsStrExt;
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write(input.path(), "etc/ok.tmpl", "ok");
    fs::write(input.path().join("etc").join(std::ffi::OsStr::from_bytes(b"bad\xff.tmpl")), "x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", input.path().join("etc/link.tmpl")).unwrap();
    write(input.path(), "etc/.tmpl", "nameless");
    let outcome = render_tree(input.path(), out.path(), &BTreeMap::new(), &Config::default(), &[]);
    let got: Vec<(Severity, String, String)> =
        outcome.diagnostics.iter().map(|d| (d.severity, d.file.clone().unwrap(), d.message.clone())).collect();
    assert_eq!(
        got,
        [
            (Severity::Warning, "etc/.tmpl".to_string(), "template named only `.tmpl`, skipped".to_string()),
            (
                Severity::Warning,
                "etc/bad\u{FFFD}.tmpl".to_string(),
                "template name is not UTF-8, not rendered".to_string()
            ),
            (Severity::Warning, "etc/link.tmpl".to_string(), "symlinked template not rendered".to_string()),
        ]
    );
    assert_eq!(tree(out.path()), BTreeMap::from([("etc/ok".to_string(), "ok".to_string())]));
}

/// sealer renders the image's templates again at deploy time with Go's
/// builtins and b64enc/b64dec only: the default set renders a sprig call
/// and warns at its line; `funcs: sealer` fails on it as `sealer run` would.
#[test]
fn a_function_sealer_lacks_is_a_warning_by_default_and_an_error_with_sealer_funcs() {
    let input = tempfile::tempdir().unwrap();
    write(input.path(), "etc/a.yaml.tmpl", "a: {{ .A | b64enc }}\nb: {{ default \"x\" .B | upper }}\n");
    write(input.path(), "etc/plain.yaml.tmpl", "c: {{ if eq .A \"1\" }}{{ printf \"%s\" .A }}{{ end }}\n");
    let env: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into();

    let out = tempfile::tempdir().unwrap();
    let outcome = render_tree(input.path(), out.path(), &env, &Config::default(), &[]);
    assert_eq!(fs::read_to_string(out.path().join("etc/a.yaml")).unwrap(), "a: MQ==\nb: X\n");
    let warnings: Vec<_> = outcome.diagnostics.iter().filter(|d| d.severity == Severity::Warning).collect();
    assert_eq!(warnings.len(), 1, "{:?}", outcome.diagnostics);
    assert_eq!(warnings[0].file.as_deref(), Some("etc/a.yaml.tmpl"));
    assert_eq!(warnings[0].line, Some(2));
    assert_eq!(warnings[0].rule.as_deref(), Some("render/not-sealer"));
    assert!(warnings[0].message.contains("\"default\" not defined"), "{}", warnings[0].message);

    let sealer: Config = serde_json::from_value(json!({"funcs": "sealer"})).unwrap();
    let out = tempfile::tempdir().unwrap();
    let outcome = render_tree(input.path(), out.path(), &env, &sealer, &[]);
    let errors: Vec<_> = outcome.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 1, "{:?}", outcome.diagnostics);
    assert_eq!((errors[0].file.as_deref(), errors[0].line), (Some("etc/a.yaml.tmpl"), Some(2)));
    assert!(!out.path().join("etc/a.yaml").exists());
    assert_eq!(fs::read_to_string(out.path().join("etc/plain.yaml")).unwrap(), "c: 1\n", "Go's builtins stay");

    let bad = json!({"funcs": "helm"});
    assert!(serde_json::from_value::<Config>(bad).is_err(), "an unknown set is refused");
}
