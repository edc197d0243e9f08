//! The Rust SDK a new Rust project builds against, carried in the binary:
//! `sealbox module new --lang rust` writes the `sealbox-guest` and
//! `sealbox-formats` sources this sealbox was built from beside the project
//! (`sdk/`) and depends on them by path, so the project builds with no flag
//! and no SDK release to fetch, and speaks exactly this host's contract.

/// Where the SDK goes in a new project, and the dependency line naming it.
pub const SDK_DIR: &str = "sdk";
pub const DEPENDENCY: &str = "sealbox-guest = { path = \"sdk/sealbox-guest\" }";

/// The sources of one crate: path under the crate's directory, content.
type Sources = &'static [(&'static str, &'static str)];

const GUEST: Sources = &[
    ("src/lib.rs", include_str!("../../../../guest-sdk/src/lib.rs")),
    ("src/contract.rs", include_str!("../../../../guest-sdk/src/contract.rs")),
    ("src/policy.rs", include_str!("../../../../guest-sdk/src/policy.rs")),
    ("src/transform.rs", include_str!("../../../../guest-sdk/src/transform.rs")),
    ("src/view.rs", include_str!("../../../../guest-sdk/src/view.rs")),
];

const FORMATS: Sources = &[
    ("src/lib.rs", include_str!("../../../../guest-sdk/formats/src/lib.rs")),
    ("src/glob.rs", include_str!("../../../../guest-sdk/formats/src/glob.rs")),
    ("src/layout.rs", include_str!("../../../../guest-sdk/formats/src/layout.rs")),
    ("src/reference.rs", include_str!("../../../../guest-sdk/formats/src/reference.rs")),
    ("src/table.rs", include_str!("../../../../guest-sdk/formats/src/table.rs")),
    ("src/time.rs", include_str!("../../../../guest-sdk/formats/src/time.rs")),
    ("src/yaml.rs", include_str!("../../../../guest-sdk/formats/src/yaml.rs")),
    ("src/yaml/bare_text.rs", include_str!("../../../../guest-sdk/formats/src/yaml/bare_text.rs")),
    ("src/yaml/events.rs", include_str!("../../../../guest-sdk/formats/src/yaml/events.rs")),
    ("src/yaml/tests.rs", include_str!("../../../../guest-sdk/formats/src/yaml/tests.rs")),
];

/// Each crate's manifest outside sealbox's workspace: the workspace's
/// inherited fields written out, the same crates.io versions.
fn manifest(name: &str, description: &str, dependencies: &str) -> String {
    format!(
        "# Written by `sealbox module new`: the SDK of sealbox {version}, which this\n\
         # project's modules speak. Replace it with a newer sealbox's `sdk/` to upgrade.\n\
         [package]\nname = \"{name}\"\ndescription = \"{description}\"\nversion = \"{version}\"\n\
         edition = \"2024\"\nlicense = \"Apache-2.0\"\npublish = false\n\n[dependencies]\n{dependencies}",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The README the vendored SDK carries (its lib.rs includes one for doctests).
const README: &str = "# sealbox-guest (vendored)\n\nWritten by `sealbox module new`. The authors' guide is sealbox's \
                      `guest-sdk/README.md`.\n";

/// Every file of the SDK, by path under the project: `(path, content)`.
pub fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let guest_deps = "serde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\n\
                      sealbox-formats = { path = \"../sealbox-formats\" }\n";
    let formats_deps = "serde_json = \"1\"\nunsafe-libyaml = \"0.2\"\n";
    for (name, description, deps, sources) in [
        ("sealbox-guest", "The sealbox step contract and the SDK for writing step modules.", guest_deps, GUEST),
        ("sealbox-formats", "YAML as Kubernetes reads it, and the other formats sealbox reads.", formats_deps, FORMATS),
    ] {
        out.push((format!("{SDK_DIR}/{name}/Cargo.toml"), manifest(name, description, deps)));
        for (path, content) in sources {
            out.push((format!("{SDK_DIR}/{name}/{path}"), content.to_string()));
        }
    }
    out.push((format!("{SDK_DIR}/sealbox-guest/README.md"), README.to_string()));
    out
}

/// The Go SDK (`guest-sdk/go`, standard library only), written to `sdk/go`
/// beside a new Go project whose `go.mod` replaces `sealbox.dev/guest` with it.
const GO: Sources = &[
    ("go.mod", include_str!("../../../../guest-sdk/go/go.mod")),
    ("contract.go", include_str!("../../../../guest-sdk/go/contract.go")),
    ("run.go", include_str!("../../../../guest-sdk/go/run.go")),
    ("documents.go", include_str!("../../../../guest-sdk/go/documents.go")),
    ("policy.go", include_str!("../../../../guest-sdk/go/policy.go")),
    ("transform.go", include_str!("../../../../guest-sdk/go/transform.go")),
    ("view.go", include_str!("../../../../guest-sdk/go/view.go")),
];

/// Every file of the Go SDK, by path under the project.
pub fn go_files() -> Vec<(String, String)> {
    GO.iter().map(|(path, content)| (format!("{SDK_DIR}/go/{path}"), content.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `.rs` files under `dir`, relative to `base`, sorted.
    fn sources(base: &std::path::Path, dir: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![base.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path.strip_prefix(base).expect("under base").to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn every_sdk_source_file_is_carried() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (dir, carried) in [("guest-sdk", GUEST), ("guest-sdk/formats", FORMATS)] {
            let mut listed: Vec<String> = carried.iter().map(|(p, _)| p.to_string()).collect();
            listed.sort();
            assert_eq!(listed, sources(&root.join(dir), "src"), "{dir}: add the new file to vendor.rs");
        }
    }

    #[test]
    fn every_go_sdk_file_is_carried() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/go");
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .expect("guest-sdk/go")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n == "go.mod" || (n.ends_with(".go") && !n.ends_with("_test.go")))
            .collect();
        found.sort();
        let mut carried: Vec<String> = GO.iter().map(|(p, _)| p.to_string()).collect();
        carried.sort();
        assert_eq!(carried, found, "add the new Go SDK file to vendor.rs");
    }

    #[test]
    fn the_manifests_pin_the_workspace_dependencies() {
        let workspace = include_str!("../../../../Cargo.toml");
        assert!(workspace.contains("serde_json = \"1\""), "update vendor.rs with the workspace's serde_json");
        let formats = include_str!("../../../../guest-sdk/formats/Cargo.toml");
        assert!(formats.contains("unsafe-libyaml = \"0.2\""), "update vendor.rs with formats' unsafe-libyaml");
        let files = files();
        let guest = files.iter().find(|(p, _)| p == "sdk/sealbox-guest/Cargo.toml").expect("manifest");
        assert!(guest.1.contains(&format!("version = \"{}\"", env!("CARGO_PKG_VERSION"))), "{}", guest.1);
    }
}
