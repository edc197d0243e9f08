//! Planner tests: `RUN`: shell commands refused, `RUN --module` planned with its pin.

use super::*;

#[test]
fn run_with_a_shell_command_is_refused() {
    let ctx = Context::new(&[]);
    let err = plan_err(&ctx, "FROM scratch\nRUN curl -o /x https://example.com");
    assert_eq!(
        err,
        "Kubefile:2: RUN with a shell command is not supported: sealbox never runs host commands during a build \
         (every step runs as a sandboxed WASI module, with no shell and no network); prepare the files before the \
         build and COPY them into the image, or run a WASI module with RUN --module=PATH"
    );
    assert!(plan_err(&ctx, "FROM scratch\nRUN [\"/bin/sh\", \"-c\", \"x\"]").contains("RUN with a shell command"));
}

#[test]
fn run_module_is_planned_with_its_pin() {
    let ctx = Context::new(&[]);
    let digest = format!("sha256:{}", "ab".repeat(32));
    let plan = plan_ok(
        &ctx,
        &format!(
            "FROM scratch\nRUN --module=steps/check.wasm@{digest} -- --strict manifests/\nRUN --module=m.wasm [\"a b\"]"
        ),
    );
    let PlanStep::Module(m) = &plan.steps[0] else { panic!("{:?}", plan.steps[0]) };
    assert_eq!(m.module, "steps/check.wasm");
    assert_eq!(m.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(m.args, ["--strict", "manifests/"]);
    assert!(!plan.steps[0].empty_layer());
    let PlanStep::Module(m) = &plan.steps[1] else { panic!("{:?}", plan.steps[1]) };
    assert_eq!(
        (m.module.as_str(), m.digest.as_deref(), m.args.as_slice()),
        ("m.wasm", None, ["a b".to_owned()].as_slice())
    );
    assert_eq!(created_by(&plan.steps[1]), "/bin/sh -c #(nop) RUN --module=m.wasm [\"a b\"]");
}

#[test]
fn run_module_errors() {
    let ctx = Context::new(&[]);
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nRUN --module=m.wasm@sha256:ABC"),
        "Kubefile:2: RUN --module: invalid digest pin \"m.wasm@sha256:ABC\"; write PATH@sha256:<64 lowercase hex digits>"
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nRUN --module= x"),
        "Kubefile:2: RUN: --module needs a path; usage: RUN --module=PATH[@sha256:HEX] ARGS..."
    );
    assert_eq!(
        plan_err(&ctx, "FROM scratch\nRUN --network=none x"),
        "Kubefile:2: RUN does not support the flag --network"
    );
}
