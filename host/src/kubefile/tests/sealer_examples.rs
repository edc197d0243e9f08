//! Planner tests: sealer's example contexts, re-expressed.

use super::*;

/// Re-expresses sealer's `test/suites/build/fixtures/build_with_appcmds` context (as laid out in
/// `shared/sealer/appcmds/`): a directory of YAML, a directory of scripts, and a mixed app.
#[test]
fn sealer_example_appcmds() {
    let ctx = Context::new(&[
        ("yamlcontext/a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"),
        ("yamlcontext/b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n"),
        ("yamlcontext/c.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: c\n"),
        ("shellcontext/a.sh", "echo a\n"),
        ("shellcontext/b.sh", "echo b\n"),
        ("shellcontext/c.sh", "echo c\n"),
        ("install.sh", "#!/bin/sh\nkubectl apply -f app.yaml\n"),
        ("mixedcontext/app.yaml", "kind: Pod\nspec:\n  containers:\n  - image: nginx:alpine\n"),
    ]);
    let kubefile = "FROM scratch\n\
                    APP yamlapp local://yamlcontext\n\
                    APP shellapp local://shellcontext\n\
                    APP mixedapp local://install.sh local://mixedcontext\n\
                    APPCMDS mixedapp [\"kubectl apply -f app.yaml\"]\n\
                    LAUNCH [\"mixedapp\",\"shellapp\"]\n";
    let plan = plan_ok(&ctx, kubefile);
    assert_eq!(
        extension_without_client(&plan),
        r#"{"schemaVersion":"v1alpha1","type":"kube-installer","applications":[{"name":"yamlapp","type":"kube","files":["/a.yaml","/b.yaml","/c.yaml"],"version":"v1"},{"name":"shellapp","type":"shell","files":["/a.sh","/b.sh","/c.sh"],"version":"v1"},{"name":"mixedapp","version":"v1","cmds":["kubectl apply -f app.yaml"]}],"launch":{"app_names":["mixedapp","shellapp"]}}"#
    );
    assert_eq!(plan.steps.len(), 3);
    assert_eq!(
        layer(&plan.steps[2]).entries,
        [
            entry("install.sh", EntryKind::File, "application/apps/mixedapp/install.sh"),
            entry("mixedcontext", EntryKind::Dir, "application/apps/mixedapp"),
        ]
    );
}

/// Re-expresses sealer's `build_with_cmds` fixture (as in `shared/sealer/cmds/`): manifests and an
/// image list copied into `manifests/`, launched by CMDS.
#[test]
fn sealer_example_cmds() {
    let ctx = Context::new(&[
        ("app.yaml", "kind: Pod\nspec:\n  containers:\n  - image: nginx:alpine\n"),
        ("imageList", "docker.io/library/busybox:latest\n"),
    ]);
    let plan = plan_ok(
        &ctx,
        "FROM scratch\nCOPY app.yaml manifests/\nCOPY imageList manifests/\nCMDS [\"kubectl apply -f manifests/app.yaml\"]\n",
    );
    assert_eq!(
        extension_without_client(&plan),
        r#"{"schemaVersion":"v1alpha1","type":"kube-installer","launch":{"cmds":["kubectl apply -f manifests/app.yaml"]}}"#
    );
    let entries: Vec<_> = plan.steps.iter().flat_map(|s| layer(s).entries.clone()).collect();
    assert_eq!(
        entries,
        [
            entry("app.yaml", EntryKind::File, "manifests/app.yaml"),
            entry("imageList", EntryKind::File, "manifests/imageList")
        ]
    );
}

/// Re-expresses the shape of sealer's basefs `context/Kubefile`.
#[test]
fn sealer_basefs_shape() {
    let ctx = Context::new(&[
        ("rootfs/scripts/init-kube.sh", ""),
        ("rootfs/manifests/", ""),
        ("amd64/bin/kubeadm", ""),
        ("imageList", "k8s.gcr.io/pause:3.6\n"),
        ("calico.sh", ""),
    ]);
    let mut options = amd64();
    options.image_type = ImageType::KubeInstaller;
    let text = "FROM scratch\nCOPY rootfs .\nCOPY ${ARCH} .\nCOPY imageList manifests\n\
                LABEL cluster.alpha.sealer.io/cluster-runtime-type=kubernetes\nKUBEVERSION v1.22.15\n\
                CNI calico local://calico.sh\nLAUNCH [\"calico\"]";
    let plan = plan_with(&ctx, text, &options, BaseImage::default()).unwrap();
    assert_eq!(plan.steps.iter().filter(|s| !s.empty_layer()).count(), 4);
    assert_eq!(layer(&plan.steps[2]).entries, [entry("imageList", EntryKind::File, "manifests/imageList")]);
    // The runtime type, KUBEVERSION, CNI and the builder's version, as sealer labels it.
    assert_eq!(plan.config.labels.len(), 4);
    assert_eq!(plan.config.labels["io.sealer.version"], BuildClient::sealbox().sealer_version);
    assert_eq!(
        extension_without_client(&plan),
        r#"{"schemaVersion":"v1alpha1","type":"kube-installer","applications":[{"name":"calico","type":"shell","files":["calico.sh"],"version":"v1"}],"launch":{"app_names":["calico"]}}"#
    );
}

#[test]
fn platforms_parse() {
    let p = parse_platform("linux/arm64/v8").unwrap();
    assert_eq!((p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()), ("linux", "arm64", Some("v8")));
    assert_eq!(p.to_string(), "linux/arm64/v8");
    assert_eq!(parse_platform("linux/amd64").unwrap().variant, None);
    for bad in ["linux", "linux/", "/amd64", "a/b/c/d", ""] {
        assert_eq!(parse_platform(bad), Err(format!("{bad:?}: expected OS/ARCH[/VARIANT], e.g. linux/arm64")));
    }
    let err = parse_platform("linux/sparc").unwrap_err();
    assert!(err.starts_with("\"linux/sparc\": unknown architecture \"sparc\"; sealer builds amd64 and arm64"), "{err}");
    assert!(err.contains("ppc64le") && err.contains("riscv64") && err.contains("s390x"), "{err}");
    let err = parse_platform("linux/x86_64").unwrap_err();
    assert!(err.contains("(x86_64 is called amd64)"), "{err}");
    for known in KNOWN_ARCHITECTURES {
        assert_eq!(parse_platform(&format!("linux/{known}")).map(|p| p.architecture), Ok(known.to_string()));
    }
}

#[test]
fn app_installer_type() {
    let mut options = amd64();
    options.image_type = ImageType::AppInstaller;
    let plan = plan_with(&Context::new(&[]), "FROM scratch", &options, BaseImage::default()).unwrap();
    assert_eq!(plan.extension.image_type, "app-installer");
}

/// Conformance over `../shared/sealer` (the workspace's sibling), run whenever it exists: each
/// example's Kubefile over its own context must give the extension its `expected/` file records.
#[test]
fn shared_sealer_examples_when_present() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/sealer");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        assert!(
            std::env::var_os("SEALBOX_REQUIRE_SHARED").is_none(),
            "{} is missing but SEALBOX_REQUIRE_SHARED is set: put the shared data at ../shared",
            shared.display()
        );
        eprintln!("SKIPPED (not passed): {} is absent: nothing to compare", shared.display());
        return;
    };
    let mut checked = 0;
    for example in entries {
        let example = example.unwrap().path();
        let expected = example.join("expected/sealer.image.extension.json");
        let Ok(expected) = std::fs::read_to_string(&expected) else { continue };
        let kubefile_bytes = std::fs::read(example.join("Kubefile")).unwrap();
        let kubefile = parse("Kubefile", &kubefile_bytes).unwrap();
        let dir = Dir::open_ambient_dir(&example, ambient_authority()).unwrap();
        let mut resolve = |_: &BaseRef, _: Option<&str>| Err("no base images in this test".to_owned());
        let plan = plan("Kubefile", &kubefile, &dir, &amd64(), &mut resolve).unwrap_or_else(|e| panic!("{e}"));
        let got: serde_json::Value = serde_json::from_str(&extension_without_client(&plan)).unwrap();
        let want: serde_json::Value = serde_json::from_str(&expected).unwrap();
        assert_eq!(got, want, "{}", example.display());
        assert_eq!(extension_without_client(&plan), expected.trim(), "{}", example.display());
        checked += 1;
    }
    assert!(checked > 0, "{} has no example with an expected extension", shared.display());
}

#[test]
fn names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let ctx = Context::new(&[("app/ok.yaml", ""), ("files/", "")]);
    let odd = std::ffi::OsStr::from_bytes(b"bad\xff.yaml");
    std::fs::write(ctx.root().join("app").join(odd), "").unwrap();
    std::fs::write(ctx.root().join("files").join(odd), "").unwrap();
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nAPP web local://app"),
        "Kubefile:2: APP web: file name \"/bad\u{fffd}.yaml\" is not UTF-8 and cannot be listed in the image metadata"
    );
    // Copied, they are just bytes: a wildcard of stars matches them.
    let plan = plan_ok(&ctx, "FROM scratch\nCOPY files/* out/");
    assert_eq!(layer(&plan.steps[0]).entries[0].target, Path::new("out").join(odd));
}

#[test]
fn deep_and_wide_app_directories() {
    let ctx = Context::new(&[]);
    let mut deep = ctx.root().join("deep");
    for i in 0..60 {
        deep = deep.join(format!("level-{i:02}-with-a-longish-name"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("z.yaml"), "").unwrap();
    for i in 0..2000 {
        std::fs::write(ctx.root().join("deep").join(format!("f{i:04}.yaml")), "").unwrap();
    }
    let plan = plan_ok(&ctx, "FROM scratch\nAPP big local://deep");
    let files = &plan.extension.applications[0].files;
    assert_eq!(files.len(), 2001);
    assert_eq!(files[0], "/f0000.yaml");
    assert!(files[2000].ends_with("level-59-with-a-longish-name/z.yaml"), "{}", files[2000]);
}

/// Re-expresses sealer's `build/kubefile/parser/parse_test.go` cases: a kube app from a single
/// YAML path, a helm chart directory (with extra files beside the chart's three), CMDS, and
/// ENV with APPENV given twice (the later value wins).
#[test]
fn sealer_parser_unit_cases() {
    let ctx = Context::new(&[
        ("test/kube-nginx-deployment/deployment.yaml", "kind: Deployment\n"),
        ("test/github-app/Chart.yaml", "name: github-app\n"),
        ("test/github-app/values.yaml", "replicas: 1\n"),
        ("test/github-app/README.md", "# chart\n"),
        ("test/github-app/templates/_helpers.tpl", ""),
        ("test/github-app/templates/deployment.yaml", ""),
    ]);
    let plan = plan_ok(
        &ctx,
        "\nFROM scratch\nAPP nginx local://./test/kube-nginx-deployment/deployment.yaml\nLAUNCH [\"nginx\"]\n",
    );
    let app = &plan.extension.applications[0];
    assert_eq!((app.app_type.as_str(), app.files.as_slice()), ("kube", ["deployment.yaml".to_owned()].as_slice()));
    assert_eq!(
        layer(&plan.steps[0]).entries,
        [entry(
            "test/kube-nginx-deployment/deployment.yaml",
            EntryKind::File,
            "application/apps/nginx/deployment.yaml"
        )]
    );

    let plan = plan_ok(&ctx, "FROM scratch\nAPP github-app local://./test/github-app\nLAUNCH github-app\n");
    let app = &plan.extension.applications[0];
    assert_eq!((app.app_type.as_str(), app.files.as_slice()), ("helm", ["github-app".to_owned()].as_slice()));
    assert_eq!(plan.extension.launch.app_names, ["github-app"]);

    let plan = plan_ok(&ctx, "FROM scratch\nCMDS [\"kubectl apply -f abc.yaml\", \"kubectl apply -f bcd.yaml\"]\n");
    assert_eq!(plan.extension.launch.cmds, ["kubectl apply -f abc.yaml", "kubectl apply -f bcd.yaml"]);
    assert!(plan.steps.is_empty());

    let plan = plan_ok(
        &ctx,
        "FROM scratch \nAPP app1 local://test/kube-nginx-deployment/deployment.yaml\nENV globalKey=globalValue\n\
         APPENV app1 key1=value1 key2=value2\nAPPENV app1 key1=value3 key2=value3\nLAUNCH [\"app1\"]",
    );
    assert_eq!(plan.extension.env, BTreeMap::from([("globalKey".into(), "globalValue".into())]));
    assert_eq!(
        plan.extension.applications[0].env,
        BTreeMap::from([("key1".into(), "value3".into()), ("key2".into(), "value3".into())])
    );
}

/// Pseudo-random Kubefiles built from the syntax's pieces (fixed seed, so the run is repeatable):
/// parsing and planning either succeed or return an error, and never panic.
#[test]
fn arbitrary_kubefiles_never_panic() {
    let ctx = Context::new(&[("d/a.yaml", ""), ("d/sub/", ""), ("x.sh", "")]);
    ctx.symlink("../..", "d/up");
    let keywords = [
        "FROM",
        "COPY",
        "ADD",
        "APP",
        "APPENV",
        "APPCMDS",
        "LAUNCH",
        "CMDS",
        "CMD",
        "ENV",
        "ARG",
        "LABEL",
        "KUBEVERSION",
        "CNI",
        "CSI",
        "RUN",
        "MAINTAINER",
        "copy",
    ];
    let pieces = [
        "scratch",
        "local://d",
        "local://x.sh",
        "d",
        "x.sh",
        "*",
        "d/*",
        "[",
        "]",
        "\"",
        "'",
        "$",
        "${",
        "}",
        "${A:-",
        ":?",
        "=",
        "A=1",
        "\\",
        "`",
        " ",
        "--from=x",
        "--module=m@",
        "--platform=",
        "#",
        "# escape=`",
        "..",
        "/",
        "d/up",
        "[\"a\"]",
        "[1]",
        "{",
        "é",
        "\r",
        "\t",
        "mixed",
        "oci:",
        "@sha256:",
        "\n",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut options = amd64();
    options.build_args.insert("A".into(), "x=y".into());
    let (mut parsed, mut planned) = (0, 0);
    for _ in 0..20_000 {
        let mut text = String::from(if next(3) == 0 { "" } else { "FROM scratch\n" });
        for _ in 0..next(30) {
            if next(4) == 0 {
                text.push('\n');
                text.push_str(keywords[next(keywords.len())]);
                text.push(' ');
            }
            text.push_str(pieces[next(pieces.len())]);
            if next(2) == 0 {
                text.push(' ');
            }
        }
        let Ok(kubefile) = parse("Kubefile", text.as_bytes()) else { continue };
        parsed += 1;
        let mut resolve = |_: &BaseRef, _: Option<&str>| Err("no base images here".to_owned());
        if plan("Kubefile", &kubefile, &ctx.dir, &options, &mut resolve).is_ok() {
            planned += 1;
        }
    }
    // The generator must reach the planner, and some inputs must plan, for the test to mean anything.
    assert!(parsed > 1000 && planned > 100, "parsed {parsed}, planned {planned}");
}

#[test]
fn the_context_ignore_file_leaves_paths_out() {
    let ctx = Context::new(&[
        (".dockerignore", "# build junk\n*.bak\nsecrets\napp/*.md\n"),
        ("a.yaml", ""),
        ("a.yaml.bak", ""),
        ("secrets/key", ""),
        ("app/x.yaml", ""),
        ("app/README.md", ""),
    ]);
    let plan = plan_ok(&ctx, "FROM scratch\nCOPY a.yaml* manifests/\nAPP web local://app\nCOPY . all/");
    assert_eq!(plan.ignore.file.as_deref(), Some(".dockerignore"));
    assert_eq!(layer(&plan.steps[0]).entries, [entry("a.yaml", EntryKind::File, "manifests/a.yaml")]);
    // The README is not copied, so the app is all YAML.
    assert_eq!(plan.extension.applications[0].app_type, "kube");
    assert_eq!(plan.extension.applications[0].files, ["/x.yaml"]);
    // Inside a copied directory the pipeline leaves excluded paths out, asking the plan.
    assert!(plan.ignore.is_excluded(Path::new("secrets/key")));
    assert!(!plan.ignore.is_excluded(Path::new("a.yaml")));
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nCOPY secrets/key k"),
        "Kubefile:2: COPY source \"secrets/key\" is excluded by the build context's .dockerignore"
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nCOPY *.bak k/"),
        "Kubefile:2: COPY source \"*.bak\" matches no file in the build context"
    );
}

#[test]
fn containerignore_wins_and_bad_patterns_are_reported() {
    let ctx = Context::new(&[(".containerignore", "b\n"), (".dockerignore", "a\n"), ("a", ""), ("b", "")]);
    let plan = plan_ok(&ctx, "FROM scratch\nCOPY a x");
    assert_eq!(plan.ignore.file.as_deref(), Some(".containerignore"));
    let ctx = Context::new(&[(".dockerignore", "ok\n!\n")]);
    assert_eq!(
        plan_err(&ctx, "\nFROM scratch"),
        "Kubefile:2: cannot use the build context's .dockerignore: line 2: illegal exclusion pattern \"!\""
    );
}
