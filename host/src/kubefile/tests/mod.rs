//! Planner tests: every instruction and every refusal, over small build
//! contexts the tests write themselves, plus sealer's two example contexts
//! re-expressed as fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::*;

/// A build context in a temporary directory; `files` are (path, contents), a path ending in `/` is a directory.
struct Context {
    tmp: tempfile::TempDir,
    dir: Dir,
}

impl Context {
    fn new(files: &[(&str, &str)]) -> Context {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ctx");
        std::fs::create_dir(&root).unwrap();
        for (path, contents) in files {
            let full = root.join(path);
            if path.ends_with('/') {
                std::fs::create_dir_all(&full).unwrap();
            } else {
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, contents).unwrap();
            }
        }
        let dir = Dir::open_ambient_dir(&root, ambient_authority()).unwrap();
        Context { tmp, dir }
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("ctx")
    }

    fn symlink(&self, target: &str, link: &str) {
        std::os::unix::fs::symlink(target, self.root().join(link)).unwrap();
    }
}

fn amd64() -> PlanOptions {
    PlanOptions::new(parse_platform("linux/amd64").unwrap())
}

fn plan_with(ctx: &Context, text: &str, options: &PlanOptions, base: BaseImage) -> Result<Plan> {
    let kubefile = parse("Kubefile", text.as_bytes())?;
    let mut resolve = |_: &BaseRef, _: Option<&str>| Ok(base.clone());
    plan("Kubefile", &kubefile, &ctx.dir, options, &mut resolve)
}

fn plan_ok(ctx: &Context, text: &str) -> Plan {
    plan_with(ctx, text, &amd64(), BaseImage::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn plan_err(ctx: &Context, text: &str) -> String {
    match plan_with(ctx, text, &amd64(), BaseImage::default()) {
        Ok(plan) => panic!("expected an error, got {plan:?}"),
        Err(e) => e.to_string(),
    }
}

fn layer(step: &PlanStep) -> &LayerStep {
    match step {
        PlanStep::Layer(l) => l,
        other => panic!("expected a layer step, got {other:?}"),
    }
}

fn created_by(step: &PlanStep) -> &str {
    match step {
        PlanStep::Metadata(m) => &m.created_by,
        PlanStep::Module(m) => &m.created_by,
        other => panic!("expected a metadata step, got {other:?}"),
    }
}

fn entry(source: &str, kind: EntryKind, target: &str) -> CopyEntry {
    CopyEntry { source: source.into(), kind, target: target.into() }
}

/// The extension JSON without `buildClient`, which the expected files of sealer's examples leave out.
fn extension_without_client(plan: &Plan) -> String {
    let json = plan.extension.to_json();
    let client = format!("\"buildClient\":{},", to_go_json(&plan.extension.build_client));
    json.replacen(&client, "", 1)
}

mod apps;
mod copy;
mod from;
mod launch;
mod metadata;
mod run;
mod sealer_examples;
