//! Planner tests: `FROM`: base forms, metadata merged from the base, COPY over the base tree, short names.

use super::*;

#[test]
fn from_scratch_has_no_base_and_no_steps() {
    let plan = plan_ok(&Context::new(&[]), "FROM scratch\n");
    assert_eq!(plan.base, BaseRef::Scratch);
    assert!(plan.steps.is_empty());
    assert_eq!(
        plan.extension.to_json(),
        format!(
            r#"{{"buildClient":{{"sealerVersion":"sealbox-v{}","buildahVersion":""}},"schemaVersion":"v1alpha1","type":"kube-installer","launch":{{}}}}"#,
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn from_forms_and_arg_before_from() {
    let ctx = Context::new(&[]);
    let seen = std::cell::RefCell::new(Vec::new());
    let run = |text: &str, options: &PlanOptions| {
        let kubefile = parse("Kubefile", text.as_bytes()).unwrap();
        let mut resolve = |base: &BaseRef, platform: Option<&str>| {
            seen.borrow_mut().push((base.clone(), platform.map(str::to_owned)));
            Ok(BaseImage::default())
        };
        plan("Kubefile", &kubefile, &ctx.dir, options, &mut resolve).unwrap()
    };
    let mut options = amd64();
    options.build_args.insert("VERSION".into(), "v1.22".into());
    let plan = run("ARG VERSION=v1.0\nFROM --platform=linux/${ARCH} kubernetes:${VERSION} AS base\n", &options);
    assert_eq!(plan.base, BaseRef::Store("kubernetes:v1.22".into()));
    assert_eq!(plan.base_platform.as_deref(), Some("linux/amd64"));
    let plan = run("FROM oci:layout/dir:v1\n", &amd64());
    assert_eq!(plan.base, BaseRef::OciLayout { path: "layout/dir".into(), reference: Some("v1".into()) });
    let plan = run("FROM oci:/abs/layout\n", &amd64());
    assert_eq!(plan.base, BaseRef::OciLayout { path: "/abs/layout".into(), reference: None });
    assert_eq!(seen.borrow().len(), 3);
    assert_eq!(seen.borrow()[0].1.as_deref(), Some("linux/amd64"));
}

#[test]
fn base_image_metadata_is_merged() {
    let ctx = Context::new(&[("conf/a.yaml", "a"), ("imageList", "x")]);
    let base = BaseImage {
        env: vec!["PATH=/bin".into(), "KEEP=1".into()],
        labels: BTreeMap::from([("old".into(), "1".into()), ("over".into(), "base".into())]),
        author: Some("base author".into()),
        applications: vec![Application {
            name: "baseapp".into(),
            app_type: String::new(),
            files: vec![],
            version: "v1".into(),
            env: BTreeMap::from([("A".into(), "1".into())]),
            cmds: vec!["./run".into()],
        }],
        tree: base_tree(&[("manifests", Node::Dir)]),
        resolved: None,
    };
    let text = "FROM base\nENV PATH=/usr/bin:$PATH\nLABEL over=new\nCOPY imageList manifests\nAPPENV baseapp B=2\n\
                APP mine local://conf\nLAUNCH baseapp mine";
    let plan = plan_with(&ctx, text, &amd64(), base).unwrap();
    assert_eq!(plan.config.env, ["PATH=/usr/bin:/bin", "KEEP=1"]);
    assert_eq!(plan.config.labels["old"], "1");
    assert_eq!(plan.config.labels["over"], "new");
    assert_eq!(plan.config.author.as_deref(), Some("base author"));
    // `manifests` is a directory of the base, so the file goes inside it.
    assert_eq!(layer(&plan.steps[2]).entries, [entry("imageList", EntryKind::File, "manifests/imageList")]);
    let names: Vec<_> = plan.extension.applications.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["baseapp", "mine"]);
    assert_eq!(plan.extension.applications[0].env.len(), 2);
    // The image extension's env comes from this Kubefile only.
    assert_eq!(plan.extension.env, BTreeMap::from([("PATH".into(), "/usr/bin:/bin".into())]));
}

/// A base tree from (path, node) pairs, applied in order.
fn base_tree(entries: &[(&str, Node)]) -> RootfsTree {
    let mut tree = RootfsTree::default();
    for (path, node) in entries {
        tree.insert(Path::new(path), node.clone());
    }
    tree
}

/// The layout of sealer's basefs: what its documented customisations copy onto.
fn basefs_tree() -> RootfsTree {
    base_tree(&[
        ("etc/kubeadm.yml", Node::File),
        ("etc/daemon.json", Node::File),
        ("manifests/imageList", Node::File),
        ("scripts/init-kube.sh", Node::File),
        ("Metadata", Node::File),
        ("conf", Node::Symlink("/etc".into())),
        ("old", Node::Symlink("etc/daemon.json".into())),
    ])
}

#[test]
fn copy_onto_the_base_tree_follows_docker() {
    let ctx = Context::new(&[
        ("kubeadm.yml", "k"),
        ("imageList", "i"),
        ("daemon.json", "d"),
        ("file", "f"),
        ("dir/a.yaml", "a"),
    ]);
    let base = BaseImage { tree: basefs_tree(), ..BaseImage::default() };
    let text = "FROM basefs\nCOPY kubeadm.yml etc\nCOPY imageList manifests\nCOPY daemon.json etc/\n\
                COPY file Metadata\nCOPY file conf\nCOPY dir conf/sub\nCOPY file old\nCOPY file new\nCOPY file new";
    let plan = plan_with(&ctx, text, &amd64(), base).unwrap();
    let targets: Vec<_> = plan.steps.iter().map(|s| layer(s).entries[0].target.clone()).collect();
    let expected = [
        "etc/kubeadm.yml",     // onto a base directory: into it
        "manifests/imageList", // the same for manifests
        "etc/daemon.json",     // a trailing slash, as before
        "Metadata",            // onto a base file: replaces it
        "etc/file",            // through an absolute link to a directory: into its target
        "etc/sub",             // a directory copy lands where the link leads
        "etc/daemon.json",     // through a link to a file: replaces the file it names
        "new",                 // a new path: the file itself
        "new",                 // a file of an earlier step: replaced, not entered
    ];
    assert_eq!(targets, expected.map(PathBuf::from));
}

#[test]
fn a_short_name_resolved_on_docker_hub_is_said() {
    let ctx = Context::new(&[]);
    let full = "docker.io/sealerio/kubernetes:v1.22.15";
    let base = BaseImage { resolved: Some(full.into()), ..BaseImage::default() };
    let plan = plan_with(&ctx, "FROM sealerio/kubernetes:v1.22.15\n", &amd64(), base).unwrap();
    assert_eq!(
        plan.warnings,
        [format!("Kubefile:1: FROM sealerio/kubernetes:v1.22.15: a short name, resolved as sealer does to {full}")]
    );
}

#[test]
fn from_errors() {
    let ctx = Context::new(&[]);
    assert_eq!(
        plan_err(&ctx, "COPY a b\nFROM scratch"),
        "Kubefile:1: COPY before FROM: FROM must be the first instruction (only ARG may precede it)"
    );
    assert!(
        plan_err(&ctx, "FROM scratch\nFROM scratch")
            .starts_with("Kubefile:2: a second FROM starts a multi-stage build")
    );
    assert_eq!(
        plan_err(&ctx, "ARG A\n"),
        "Kubefile:1: the Kubefile has no FROM instruction; start it with FROM scratch or FROM IMAGE"
    );
    assert_eq!(
        plan_err(&ctx, "FROM a b"),
        "Kubefile:1: FROM: expected one image; usage: FROM [--platform=P] IMAGE|scratch|oci:DIR[:REF]"
    );
    assert_eq!(plan_err(&ctx, "FROM --pull=always scratch"), "Kubefile:1: FROM does not support the flag --pull");
    let kubefile = parse("Kubefile", b"FROM missing:v1").unwrap();
    let mut resolve = |_: &BaseRef, _: Option<&str>| Err("no such image in the local store".to_owned());
    let err = plan("Kubefile", &kubefile, &ctx.dir, &amd64(), &mut resolve).unwrap_err();
    assert_eq!(err.to_string(), "Kubefile:1: FROM missing:v1: no such image in the local store");
    assert_eq!(err.line, 1);
}
