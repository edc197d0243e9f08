//! Planner tests: `ARG`, `ENV`, `LABEL`, `MAINTAINER`, `KUBEVERSION`.

use super::*;

#[test]
fn arg_values_defaults_and_build_args() {
    let ctx = Context::new(&[("amd64/x", ""), ("v=1/y", "")]);
    let mut options = amd64();
    options.build_args.insert("DIR".into(), "v=1".into());
    options.build_args.insert("UNUSED".into(), "x".into());
    let text = "FROM scratch\nARG DIR=nope UNSET\nARG TARGETARCH\nCOPY $DIR/y ${UNSET}out/\nCOPY ${TARGETARCH}/x t/";
    let plan = plan_with(&ctx, text, &options, BaseImage::default()).unwrap();
    assert_eq!(created_by(&plan.steps[0]), "/bin/sh -c #(nop) ARG DIR");
    assert_eq!(created_by(&plan.steps[1]), "/bin/sh -c #(nop) ARG DIR");
    assert_eq!(layer(&plan.steps[2]).entries, [entry("v=1/y", EntryKind::File, "out/y")]);
    assert_eq!(layer(&plan.steps[3]).entries, [entry("amd64/x", EntryKind::File, "t/x")]);
    assert!(plan.steps[0].empty_layer());
    assert_eq!(plan.warnings, ["build argument \"UNUSED\" was given but no ARG declares it"]);
    // ARGs are not part of the image.
    assert!(plan.config.env.is_empty());
}

#[test]
fn arg_errors() {
    let ctx = Context::new(&[]);
    assert_eq!(plan_err(&ctx, "FROM scratch\nARG"), "Kubefile:2: ARG: expected a name; usage: ARG NAME[=DEFAULT]...");
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nARG =x"),
        "Kubefile:2: ARG: \"=x\" has no name; usage: ARG NAME[=DEFAULT]..."
    );
}

#[test]
fn args_that_multiply_each_other_are_refused_before_they_exhaust_memory() {
    // Each line repeats the previous ARG 64 times: 64 B, 4 KiB, 256 KiB,
    // 16 MiB; a few lines more would ask the host for terabytes.
    let ctx = Context::new(&[]);
    let mut text = format!("FROM scratch\nARG A0={}\n", "x".repeat(64));
    for i in 1..4 {
        text.push_str(&format!("ARG A{i}={}\n", format!("${{A{}}}", i - 1).repeat(64)));
    }
    let err = plan_err(&ctx, &text);
    assert!(err.starts_with("Kubefile:5: ") && err.contains("longer than 1 MiB"), "{err}");
}

#[test]
fn env_sets_config_and_extension() {
    let ctx = Context::new(&[]);
    let plan = plan_ok(
        &ctx,
        "FROM scratch\nENV A=1 B=\"two words\"\nENV A=3 C=$A\nENV D old style value\nENV E=${NOPE:-dflt} F='$A'",
    );
    assert_eq!(plan.config.env, ["A=3", "B=two words", "C=1", "D=old style value", "E=dflt", "F=$A"]);
    let ext: Vec<_> = plan.extension.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(ext, ["A=3", "B=two words", "C=1", "D=old style value", "E=dflt", "F=$A"]);
    assert_eq!(created_by(&plan.steps[0]), "/bin/sh -c #(nop) ENV A=1 B=\"two words\"");
    assert!(plan.extension.to_json().contains(r#""env":{"A":"3","B":"two words","C":"1""#));
}

#[test]
fn env_errors() {
    let ctx = Context::new(&[]);
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nENV A=1 B"),
        "Kubefile:2: ENV: cannot find = in \"B\"; every word must be KEY=VALUE; usage: ENV KEY=VALUE..."
    );
    assert_eq!(plan_err(&ctx, "FROM scratch\nENV A"), "Kubefile:2: ENV: \"A\" has no value; usage: ENV KEY=VALUE...");
    assert_eq!(plan_err(&ctx, "FROM scratch\nENV"), "Kubefile:2: ENV: expected KEY=VALUE; usage: ENV KEY=VALUE...");
    assert_eq!(plan_err(&ctx, "FROM scratch\nENV =1"), "Kubefile:2: ENV: a key is empty; usage: ENV KEY=VALUE...");
    assert_eq!(plan_err(&ctx, "FROM scratch\nENV A=${B:?required}"), "Kubefile:2: ENV: B: required");
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nENV A=\"open"),
        "Kubefile:2: ENV: unexpected end of statement while looking for matching double-quote"
    );
}

#[test]
fn label_maintainer_kubeversion() {
    let ctx = Context::new(&[]);
    let plan = plan_ok(
        &ctx,
        "FROM scratch\nARG KV=v1.22.15\nLABEL \"a b\"=c d=\"e f\"\nLABEL old style\nMAINTAINER Jane <j@x>\nKUBEVERSION $KV",
    );
    let labels: Vec<_> = plan.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let builder = format!("io.sealer.version={}", BuildClient::sealbox().sealer_version);
    assert_eq!(
        labels,
        ["a b=c", "app.alpha.sealer.io/supported-kube-version=v1.22.15", "d=e f", &builder, "old=style"]
    );
    assert_eq!(plan.config.author.as_deref(), Some("Jane <j@x>"));
    let history: Vec<_> = plan.steps.iter().map(created_by).collect();
    assert_eq!(
        history,
        [
            "/bin/sh -c #(nop) ARG ",
            "/bin/sh -c #(nop) LABEL \"a b\"=c d=\"e f\"",
            "/bin/sh -c #(nop) LABEL old style",
            "/bin/sh -c #(nop) MAINTAINER Jane <j@x>",
            "/bin/sh -c #(nop) LABEL app.alpha.sealer.io/supported-kube-version=\"$KV\"",
        ]
    );
    assert!(plan.steps.iter().all(PlanStep::empty_layer));
    // Labels are image config, not part of the extension written at build time.
    assert!(plan.extension.labels.is_empty());
}

#[test]
fn label_maintainer_kubeversion_errors() {
    let ctx = Context::new(&[]);
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nLABEL"),
        "Kubefile:2: LABEL: expected KEY=VALUE; usage: LABEL KEY=VALUE..."
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nMAINTAINER"),
        "Kubefile:2: MAINTAINER: expected a name; usage: MAINTAINER NAME"
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nKUBEVERSION"),
        "Kubefile:2: KUBEVERSION: expected a version; usage: KUBEVERSION VERSION"
    );
}
