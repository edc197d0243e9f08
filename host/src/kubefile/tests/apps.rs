//! Planner tests: `APP`, `APPENV`, `APPCMDS`, `CNI`, `CSI`.

use super::*;

#[test]
fn app_types_and_files() {
    let ctx = Context::new(&[
        ("chart/Chart.yaml", ""),
        ("chart/values.yaml", ""),
        ("chart/templates/deploy.yaml", ""),
        ("yamls/b.yaml", ""),
        ("yamls/sub/a.YML", ""),
        ("one.yaml", ""),
        ("s1/x.sh", ""),
        ("s2/y.sh", ""),
        ("solo.sh", ""),
        ("empty/", ""),
        ("loose/Chart.yaml", ""),
        ("loose/values.yaml", ""),
        ("tpl/templates/t.yaml", ""),
    ]);
    let plan = plan_ok(
        &ctx,
        "FROM scratch\nAPP helmapp local://chart\nAPP kubeapp local://yamls local://one.yaml\nAPP shellapp local://s1 local://s2\n\
         APP solo local://solo.sh\nAPP loose local://loose/Chart.yaml local://loose/values.yaml local://tpl/templates\n\
         APP other local://empty\nAPPCMDS other [\"true\"]",
    );
    let apps: Vec<_> =
        plan.extension.applications.iter().map(|a| (a.name.as_str(), a.app_type.as_str(), a.files.clone())).collect();
    assert_eq!(
        apps,
        [
            ("helmapp", "helm", vec!["helmapp".to_owned()]),
            ("kubeapp", "kube", vec!["/b.yaml".to_owned(), "/sub/a.YML".to_owned(), "one.yaml".to_owned()]),
            // A shell application lists its first source only, as sealer does.
            ("shellapp", "shell", vec!["/x.sh".to_owned()]),
            ("solo", "shell", vec!["solo.sh".to_owned()]),
            ("loose", "helm", vec!["loose".to_owned()]),
            ("other", "", vec![]),
        ]
    );
    assert_eq!(
        layer(&plan.steps[1]).entries,
        [
            entry("yamls", EntryKind::Dir, "application/apps/kubeapp"),
            entry("one.yaml", EntryKind::File, "application/apps/kubeapp/one.yaml")
        ]
    );
    assert_eq!(layer(&plan.steps[0]).app.as_deref(), Some("helmapp"));
    assert_eq!(layer(&plan.steps[0]).created_by("d"), "/bin/sh -c #(nop) COPY dir:d in application/apps/helmapp/ ");
    assert_eq!(layer(&plan.steps[1]).created_by("d"), "/bin/sh -c #(nop) COPY multi:d in application/apps/kubeapp/ ");
}

#[test]
fn app_dir_written_with_a_slash_lists_files_as_sealer_does() {
    let ctx = Context::new(&[("yamls/a.yaml", ""), ("yamls/sub/b.yaml", "")]);
    let plan = plan_ok(&ctx, "FROM scratch\nAPP web local://yamls/\nAPP web2 local://./yamls");
    assert_eq!(plan.extension.applications[0].files, ["a.yaml", "sub/b.yaml"]);
    assert_eq!(plan.extension.applications[1].files, ["/a.yaml", "/sub/b.yaml"]);
}

#[test]
fn app_sources_are_substituted_and_redefinition_keeps_place() {
    let ctx = Context::new(&[("amd64/a.yaml", ""), ("b.sh", "")]);
    let plan = plan_ok(
        &ctx,
        "FROM scratch\nAPP first local://${ARCH}\nAPP second local://b.sh\nAPPENV first K=V\nAPP first local://b.sh\nLAUNCH second first",
    );
    let first = &plan.extension.applications[0];
    assert_eq!(
        (first.name.as_str(), first.app_type.as_str(), first.files.as_slice()),
        ("first", "shell", ["b.sh".to_owned()].as_slice())
    );
    assert_eq!(first.env["K"], "V");
    assert_eq!(plan.extension.launch.app_names, ["second", "first"]);
}

#[test]
fn appenv_and_appcmds() {
    let ctx = Context::new(&[("app/x.txt", "")]);
    let plan = plan_ok(
        &ctx,
        "FROM scratch\nAPP mixed local://app\nAPPENV mixed A=1 B=x=y\nAPPENV mixed A=2\nAPPCMDS mixed [\"kubectl apply -f $X\", \"echo && done\"]",
    );
    let app = &plan.extension.applications[0];
    assert_eq!(app.env, BTreeMap::from([("A".into(), "2".into()), ("B".into(), "x=y".into())]));
    assert_eq!(app.cmds, ["kubectl apply -f $X", "echo && done"]);
    // APPENV and APPCMDS change no layer and leave no history, as in sealer.
    assert_eq!(plan.steps.len(), 1);
    assert!(plan.extension.to_json().contains(r#""cmds":["kubectl apply -f $X","echo \u0026\u0026 done"]"#));
}

#[test]
fn app_errors() {
    let ctx = Context::new(&[("app/x.txt", ""), ("a.yaml", "")]);
    let cases = [
        (
            "APP web https://example.com/app.yaml",
            "APP source \"https://example.com/app.yaml\" is remote: sealbox has no network during a build, and a download \
             is not reproducible; download it into the build context first and refer to it as local://PATH",
        ),
        ("APP web app", "APP source \"app\" needs a scheme: write local://PATH for a path in the build context"),
        ("APP web", "APP: expected a name and at least one source; usage: APP NAME local://PATH..."),
        ("APP ../etc local://a.yaml", "APP name \"../etc\" must be a plain name: not empty, not . or .., without /"),
        ("APP .. local://a.yaml", "APP name \"..\" must be a plain name: not empty, not . or .., without /"),
        ("APP web local://../a.yaml", "APP source \"../a.yaml\" is outside the build context"),
        ("APP web local://nope", "APP source \"nope\" does not exist in the build context"),
        ("APPENV web A=1", "APPENV: application \"web\" is not defined; define it first with APP web local://PATH"),
        (
            "APPCMDS web [\"x\"]",
            "APPCMDS: application \"web\" is not defined; define it first with APP web local://PATH",
        ),
        ("APPENV", "APPENV: expected a name and at least one KEY=VALUE; usage: APPENV NAME KEY=VALUE..."),
        (
            "APPCMDS [\"x\"]",
            "APPCMDS: expected an application name before the commands; usage: APPCMDS NAME [\"COMMAND\", ...]",
        ),
        ("CNI", "CNI: expected a name and at least one source; usage: CNI NAME local://PATH..."),
        ("CSI x", "CSI: expected a name and at least one source; usage: CSI NAME local://PATH..."),
    ];
    for (line, message) in cases {
        assert_eq!(plan_err(&ctx, &format!("FROM scratch\n{line}")), format!("Kubefile:2: {message}"), "{line}");
    }
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nAPP web local://a.yaml\nAPPENV web A"),
        "Kubefile:3: APPENV: \"A\" is not KEY=VALUE; usage: APPENV NAME KEY=VALUE..."
    );
    let bad_json = plan_err(&ctx, "FROM scratch\nAPP web local://a.yaml\nAPPCMDS web kubectl apply -f a.yaml");
    assert_eq!(
        bad_json,
        "Kubefile:3: APPCMDS: the commands must be a JSON array of strings, like APPCMDS myapp [\"kubectl apply -f app.yaml\"]: \
         \"kubectl apply -f a.yaml\" is not a JSON array"
    );
    assert!(
        plan_err(&ctx, "FROM scratch\nAPP web local://a.yaml\nAPPCMDS web [\"x\",]")
            .starts_with("Kubefile:3: APPCMDS: the commands must be a JSON array of strings")
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nAPP web local://app\nLAUNCH web"),
        "Kubefile:2: APP web: its type cannot be detected (not a helm chart, nor only .sh files, nor only .yaml/.yml files); \
         say how to launch it with APPCMDS web [\"command\", ...]"
    );
}

#[test]
fn cni_and_csi_are_apps_with_labels() {
    let ctx = Context::new(&[("calico.sh", ""), ("csi/a.yaml", "")]);
    let plan =
        plan_ok(&ctx, "FROM scratch\nCNI calico local://calico.sh\nCSI openebs local://csi\nLAUNCH [\"calico\"]");
    assert_eq!(plan.config.labels["cluster.alpha.sealer.io/kube-cni-calico"], "true");
    assert_eq!(plan.config.labels["cluster.alpha.sealer.io/kube-csi-openebs"], "true");
    assert_eq!(plan.steps.len(), 4);
    assert_eq!(layer(&plan.steps[0]).instruction, Keyword::Cni);
    assert_eq!(
        layer(&plan.steps[0]).entries,
        [entry("calico.sh", EntryKind::File, "application/apps/calico/calico.sh")]
    );
    assert_eq!(created_by(&plan.steps[1]), "/bin/sh -c #(nop) LABEL cluster.alpha.sealer.io/kube-cni-calico=\"true\"");
    assert_eq!(created_by(&plan.steps[3]), "/bin/sh -c #(nop) LABEL cluster.alpha.sealer.io/kube-csi-openebs=\"true\"");
    assert_eq!(
        extension_without_client(&plan),
        r#"{"schemaVersion":"v1alpha1","type":"kube-installer","applications":[{"name":"calico","type":"shell","files":["calico.sh"],"version":"v1"},{"name":"openebs","type":"kube","files":["/a.yaml"],"version":"v1"}],"launch":{"app_names":["calico"]}}"#
    );
}
