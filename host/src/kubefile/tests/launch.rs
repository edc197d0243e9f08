//! Planner tests: `LAUNCH`, `CMDS`, `CMD`.

use super::*;

#[test]
fn launch_cmds_and_cmd() {
    let ctx = Context::new(&[("a.yaml", "")]);
    let plan = plan_ok(&ctx, "FROM scratch\nAPP a local://a.yaml\nLAUNCH [\"a\"]");
    assert_eq!(plan.extension.launch, Launch { cmds: vec![], app_names: vec!["a".into()] });
    let plan = plan_ok(&ctx, "FROM scratch\nCMDS kubectl apply -f x.yaml");
    assert_eq!(plan.extension.launch.cmds, ["kubectl", "apply", "-f", "x.yaml"]);
    let plan = plan_ok(&ctx, "FROM scratch\nCMD kubectl apply -f a.yaml\ncmd  echo CMD done \nCMDS [\"last\"]");
    // The text after the keyword's blank stays as written, as sealer keeps
    // it; a second "CMD " does not cut it (sealer's split would give " echo ").
    assert_eq!(plan.extension.launch.cmds, ["kubectl apply -f a.yaml", " echo CMD done ", "last"]);
}

#[test]
fn launch_cmds_and_cmd_errors() {
    let ctx = Context::new(&[("a.yaml", "")]);
    let cases = [
        ("LAUNCH a\nLABEL x=y", 2, "LAUNCH must be the last instruction, and only one LAUNCH or CMDS is allowed"),
        ("CMDS [\"a\"]\nCMDS [\"b\"]", 2, "CMDS must be the last instruction, and only one LAUNCH or CMDS is allowed"),
        ("LAUNCH a\nCMDS [\"b\"]", 2, "LAUNCH must be the last instruction, and only one LAUNCH or CMDS is allowed"),
        ("LAUNCH nope", 2, "LAUNCH: application \"nope\" is not defined; define it first with APP nope local://PATH"),
        ("LAUNCH", 2, "LAUNCH: expected at least one application; usage: LAUNCH [\"APP\", ...]"),
        ("CMDS", 2, "CMDS: expected at least one command; usage: CMDS [\"COMMAND\", ...]"),
        ("CMD", 2, "CMD: expected a command; usage: CMD COMMAND"),
        // A multi-byte blank after the keyword (U+0085, which Rust's trim
        // removes): no command, and no slice through the character.
        ("CMD\u{85}", 2, "CMD: expected a command; usage: CMD COMMAND"),
        ("CMD \u{85}", 2, "CMD: expected a command; usage: CMD COMMAND"),
        (
            "APP a local://a.yaml\nCMD echo\nLAUNCH a",
            4,
            "CMD and LAUNCH are mutually exclusive; use CMDS [\"command\", ...] or LAUNCH [\"app\", ...], not both",
        ),
    ];
    for (lines, line, message) in cases {
        assert_eq!(plan_err(&ctx, &format!("FROM scratch\n{lines}")), format!("Kubefile:{line}: {message}"), "{lines}");
    }
    let err = plan_err(&ctx, "FROM scratch\nAPP a local://a.yaml\nLAUNCH [a, b]");
    assert!(
        err.starts_with(
            "Kubefile:3: LAUNCH: the application names must be a JSON array of strings, like LAUNCH [\"app1\", \"app2\"]: expected value"
        ),
        "{err}"
    );
    let err = plan_err(&ctx, "FROM scratch\nCMDS [\"a\" \"b\"]");
    assert!(err.starts_with("Kubefile:2: CMDS: the commands must be a JSON array of strings"), "{err}");
}

#[test]
fn planning_is_deterministic() {
    let ctx = Context::new(&[("z/a.yaml", ""), ("y/b.sh", ""), ("x/c.yaml", ""), ("w/Chart.yaml", "")]);
    let text =
        "FROM scratch\nAPP zeta local://z\nAPP yank local://y\nAPP xray local://x\nENV B=2 A=1\nLAUNCH zeta yank xray";
    let first = plan_ok(&ctx, text);
    let names: Vec<_> = first.extension.applications.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["zeta", "yank", "xray"]);
    for _ in 0..5 {
        assert_eq!(plan_ok(&ctx, text), first);
    }
}
