//! The sandbox, proven with hostile modules: each is stopped or refused
//! with the right message, the host survives, and nothing outside `/out`
//! changes.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

/// Runs `sealbox module run MODULE --in IN --out OUT EXTRA...`.
fn module_run(module: &Path, input: &Path, output: &Path, extra: &[&str]) -> (i32, String, String) {
    let (out, stdout, stderr) =
        run(sealbox().args(["module", "run"]).arg(module).arg("--in").arg(input).arg("--out").arg(output).args(extra));
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn dirs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).expect("mkdir in");
    std::fs::write(input.join("data.txt"), "original").expect("write data");
    let output = tmp.path().join("out");
    (tmp, input, output)
}

#[test]
fn infinite_loop_is_stopped_by_the_deadline() {
    let (_tmp, input, output) = dirs();
    let started = Instant::now();
    let (code, _, stderr) = module_run(&p1("spin"), &input, &output, &["--timeout", "1s"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("module spin: timed out after 1s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn module_blocked_in_a_host_call_is_stopped_too() {
    let (_tmp, input, output) = dirs();
    let started = Instant::now();
    let (code, _, stderr) = module_run(&p1("sleeper"), &input, &output, &["--timeout", "500ms"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("module sleeper: timed out after 500ms"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(&p1("membomb"), &input, &output, &["--memory", "64MiB"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("module membomb: exceeded memory limit 64 MiB"), "{stderr}");
}

#[test]
fn unbounded_recursion_overflows_the_guest_stack_not_the_host() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(&p1("deeprec"), &input, &output, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("module deeprec: overflowed its stack"), "{stderr}");
}

#[test]
fn stdout_flood_is_cut_off() {
    let (_tmp, input, output) = dirs();
    let (code, stdout, stderr) = module_run(&p1("flood"), &input, &output, &["--stdout-limit", "1MiB"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("module flood: wrote more than 1 MiB to stdout"), "{stderr}");
    assert!(stdout.len() < 1024, "the flood must not reach our stdout");
}

#[test]
fn exit_status_and_stderr_are_reported() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(&p1("exit3"), &input, &output, &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("something went wrong on purpose"), "{stderr}");
    assert!(stderr.contains("module exit3: exited with status 3"), "{stderr}");
}

#[test]
fn invalid_response_is_refused() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(&p1("garbage"), &input, &output, &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("module garbage: wrote invalid response:"), "{stderr}");
}

#[test]
fn terminal_escapes_from_a_module_are_neutralised() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(&p1("escapes"), &input, &output, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains('\x1b') && !stderr.contains('\x07') && !stderr.contains('\r'), "{stderr:?}");
    assert!(stderr.contains("\\x1b[2J") && stderr.contains("\\x1b]0;pwned\\x07"), "{stderr}");
}

#[test]
fn file_system_escapes_all_fail_and_nothing_outside_out_changes() {
    let (tmp, input, output) = dirs();
    std::fs::write(tmp.path().join("secret.txt"), "host secret").expect("secret");
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), input.join("escape-link")).expect("symlink");
    let before = snapshot(tmp.path());
    let (code, stdout, stderr) = module_run(&p1("probe"), &input, &output, &[]);
    assert_eq!(code, 0, "{stderr}");
    let response: serde_json::Value = serde_json::from_str(&stdout).expect("response JSON");
    let attempts = response["data"].as_object().expect("attempts");
    assert_eq!(attempts.len(), 14);
    for (name, result) in attempts {
        let expect_ok = name == "write /out/ok.txt";
        assert_eq!(result["ok"].as_bool(), Some(expect_ok), "{name}: {result}");
    }
    let mut after = snapshot(tmp.path());
    after.retain(|(p, _)| !p.starts_with("out/"));
    let mut before_outside = before;
    before_outside.retain(|(p, _)| !p.starts_with("out/"));
    assert_eq!(before_outside, after, "the input tree and its surroundings are unchanged");
    assert_eq!(snapshot(&output), vec![("ok.txt".to_string(), b"fine".to_vec())]);
}

#[test]
fn symlink_planted_in_out_pointing_outside_is_refused() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(&p1("symlinker"), &input, &output, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("module symlinker: tried to write outside /out: passwd: symlink to"), "{stderr}");
}

fn entropy(module: &Path, sde: Option<&str>) -> serde_json::Value {
    let (_tmp, input, output) = dirs();
    let mut cmd = sealbox();
    cmd.args(["module", "run"]).arg(module).arg("--in").arg(&input).arg("--out").arg(&output);
    cmd.args(["--env", "GRANTED=yes"]);
    cmd.env("HOST_SECRET", "must-not-leak");
    if let Some(s) = sde {
        cmd.env("SOURCE_DATE_EPOCH", s);
    }
    let (out, stdout, stderr) = run(&mut cmd);
    assert!(out.status.success(), "{stderr}");
    let response: serde_json::Value = serde_json::from_str(&stdout).expect("response JSON");
    response["data"].clone()
}

#[test]
fn clock_random_and_environment_are_deterministic_and_granted_only() {
    for module in [p1("entropy"), p2("entropy")] {
        let a = entropy(&module, Some("1700000000"));
        let b = entropy(&module, Some("1700000000"));
        assert_eq!(a, b, "two runs of {} differ", module.display());
        assert_eq!(a["now"], "1700000000000000000");
        assert_eq!(a["env"], serde_json::json!(["GRANTED=yes"]));
        assert_eq!(a["args"], serde_json::json!(["entropy", "run"]));
        assert_ne!(a["random"], "0".repeat(64));
        let c = entropy(&module, None);
        assert_eq!(c["now"], "0");
        assert_eq!(c["random"], a["random"], "randomness depends on the step, not the clock");
    }
}

#[test]
fn components_and_core_modules_both_run() {
    let (_tmp, input, output) = dirs();
    let (code, stdout, stderr) = module_run(&p2("noop"), &input, &output, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"status\": \"success\""), "{stdout}");
}

#[test]
fn inspect_reports_kind_digest_metadata_and_imports() {
    let (out, stdout, stderr) = run(sealbox().args(["module", "inspect", "--format", "json"]).arg(p2("noop")));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["kind"], "component");
    assert_eq!(v["metadata"]["name"], "noop");
    assert!(v["digest"].as_str().is_some_and(|d| d.starts_with("sha256:") && d.len() == 71));
    assert!(
        v["imports"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with("wasi:cli/"))))
    );

    let (out, stdout, _) = run(sealbox().args(["module", "inspect", "builtin:render"]));
    assert!(out.status.success());
    assert!(stdout.contains("kind:     core module (wasm32-wasip1)"), "{stdout}");
}

#[test]
fn annotate_adds_metadata_to_a_bare_module() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("spin.wasm");
    let (out, _, stderr) = run(sealbox().args(["module", "annotate"]).arg(p1("spin")).arg("-o").arg(&dest).args([
        "--name",
        "spinner",
        "--kind",
        "transform",
        "--env",
        "FOO",
    ]));
    assert!(out.status.success(), "{stderr}");
    let (_, stdout, _) = run(sealbox().args(["module", "inspect", "--format", "json"]).arg(&dest));
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["metadata"]["name"], "spinner");
    assert_eq!(v["metadata"]["capabilities"]["env"], serde_json::json!(["FOO"]));
    // Annotating twice is refused rather than leaving two sections.
    let (out, _, stderr) =
        run(sealbox().args(["module", "annotate"]).arg(&dest).args(["--name", "x", "--kind", "policy"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("more than one `sealbox.module` section"), "{stderr}");
}

#[test]
fn bad_invocations_exit_2_with_a_message() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(Path::new("/nonexistent/x.wasm"), &input, &output, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("reading module /nonexistent/x.wasm"), "{stderr}");
    let (code, _, stderr) = module_run(&p1("noop"), &input, &output, &["--timeout", "soon"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a duration"), "{stderr}");
    let (code, _, stderr) = module_run(Path::new("builtin:nope"), &input, &output, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no builtin module \"nope\""), "{stderr}");
    std::fs::create_dir_all(&output).expect("mkdir");
    std::fs::write(output.join("x"), "").expect("write");
    let (code, _, stderr) = module_run(&p1("noop"), &input, &output, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("directory is not empty"), "{stderr}");
}

/// Whether `text` holds a character that would drive a terminal or
/// reorder what it shows.
fn has_raw_controls(text: &str) -> bool {
    text.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c))
}

#[test]
fn long_multi_byte_garbage_fails_the_step_cleanly() {
    let (_tmp, input, output) = dirs();
    let (code, stdout, stderr) = module_run(&p1("mbgarbage"), &input, &output, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("step thread"), "{stderr}");
    assert!(stderr.contains("module mbgarbage: wrote invalid response: invalid type: string \"日本語"), "{stderr}");
    // serde's message is cut to a bounded length, on a character boundary.
    let line = stderr.lines().find(|l| l.contains("invalid response")).expect("the error line");
    assert!(line.len() < 400 && line.ends_with('…'), "{line}");
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn escapes_in_an_invalid_response_are_shown_escaped() {
    let (_tmp, input, output) = dirs();
    let (code, _, stderr) = module_run(&p1("escanswer"), &input, &output, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("module escanswer: wrote invalid response: unknown variant"), "{stderr}");
    assert!(!has_raw_controls(&stderr), "{stderr:?}");
    assert!(stderr.contains("\\x1b[2J\\x1b]0;pwned\\x07\\u{202e}gnp.exe"), "{stderr}");
}

#[test]
fn a_module_name_with_escapes_is_shown_escaped() {
    let (tmp, input, output) = dirs();
    let named = tmp.path().join("named.wasm");
    let evil = "red\x1b[31m\x1b]0;pwned\x07\u{202e}\nerror: fake";
    let (out, _, stderr) = run(sealbox()
        .args(["module", "annotate"])
        .arg(p1("mbgarbage"))
        .arg("-o")
        .arg(&named)
        .args(["--name", evil, "--kind", "transform"]));
    assert!(out.status.success(), "{stderr}");
    let shown = "red\\x1b[31m\\x1b]0;pwned\\x07\\u{202e}\\x0aerror: fake";

    let (code, _, stderr) = module_run(&named, &input, &output, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!has_raw_controls(&stderr), "{stderr:?}");
    assert!(stderr.contains(&format!("error: module {shown}: wrote invalid response")), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("error: fake")), "the name must not start a line: {stderr}");

    let (out, stdout, stderr) = run(sealbox().args(["module", "inspect"]).arg(&named));
    assert!(out.status.success(), "{stderr}");
    assert!(!has_raw_controls(&stdout), "{stdout:?}");
    assert!(stdout.contains(&format!("name:     {shown}\n")), "{stdout}");
    // Machine output keeps the name as it is: JSON escapes it as data.
    let (_, stdout, _) = run(sealbox().args(["module", "inspect", "--format", "json"]).arg(&named));
    assert!(stdout.contains("\\u001b]0;pwned\\u0007"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["metadata"]["name"], evil);
}

#[test]
fn a_module_sleeping_past_its_deadline_is_stopped_at_it_not_abandoned() {
    // The host waits 2 s past a deadline for a step stuck in a host call
    // before it abandons the step's thread; a sleep must end at the
    // deadline instead, in core modules and components alike.
    for module in [p1("sleeper"), p2("sleeper")] {
        let (_tmp, input, output) = dirs();
        // Once to compile it into the cache, so the second run times the step.
        let _ = module_run(&module, &input, &output, &["--timeout", "500ms"]);
        let (_tmp, input, output) = dirs();
        let started = Instant::now();
        let (code, _, stderr) = module_run(&module, &input, &output, &["--timeout", "500ms"]);
        let took = started.elapsed();
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("module sleeper: timed out after 500ms"), "{}: {stderr}", module.display());
        assert!(took < Duration::from_millis(2000), "{}: stopped only after {took:?}", module.display());
    }
}
