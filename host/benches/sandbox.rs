//! Sandbox benchmarks (`cargo bench -p sealbox --bench sandbox`):
//! cold compile time of each builtin, load time from the precompiled cache,
//! and the per-step overhead of a no-op module with a warm cache.
//!
//! A plain harness: it prints medians over many runs, which is what the
//! README reports; it asserts nothing, since timings on shared machines are
//! not pass/fail material.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sealbox::sandbox::{Limits, ModuleBinary, Sandbox, Step};
use sealbox_guest::{API_VERSION, ImageInfo, Request};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

fn noop_module() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let target = workspace.join("target/test-modules");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip1", "--bin", "noop", "--manifest-path"])
        .arg(workspace.join("tests/modules/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("cargo");
    assert!(status.success());
    target.join("wasm32-wasip1/release/noop.wasm")
}

fn main() {
    let cache = tempfile::tempdir().expect("cache");
    let key = tempfile::tempdir().expect("key dir");
    let uncached = Sandbox::new(None).expect("sandbox");
    let cached = Sandbox::with_cache(Some((cache.path(), &key.path().join("cache.key")))).expect("sandbox");

    println!("| builtin | size | cold compile | load from cache |");
    println!("|---|---|---|---|");
    for name in sealbox::builtins::names() {
        let binary = ModuleBinary::parse(sealbox::builtins::get(name).expect("builtin").to_vec()).expect("parse");
        let cold = median((0..3).map(|_| uncached.load(&binary, name).expect("load").load_time).collect());
        cached.load(&binary, name).expect("fill cache");
        let warm = median((0..50).map(|_| cached.load(&binary, name).expect("load").load_time).collect());
        println!("| {name} | {} KiB | {} | {} |", binary.bytes.len() / 1024, fmt(cold), fmt(warm));
    }

    let noop = ModuleBinary::parse(std::fs::read(noop_module()).expect("noop.wasm")).expect("parse");
    let module = cached.load(&noop, "noop").expect("load");
    let input = tempfile::tempdir().expect("in");
    let work = tempfile::tempdir().expect("work");
    let mut times = Vec::new();
    for i in 0..300 {
        let out = work.path().join(format!("out{i}"));
        std::fs::create_dir(&out).expect("out");
        let request = Request {
            api_version: API_VERSION.into(),
            step: "bench".into(),
            config: serde_json::Value::Null,
            env: Default::default(),
            image: ImageInfo::default(),
            files: vec![],
        };
        let step = Step {
            name: "bench".into(),
            input: input.path().to_path_buf(),
            output: Some(out),
            request,
            limits: Limits::default(),
            stdout: None,
        };
        let started = Instant::now();
        cached.run(&module, step).expect("noop step");
        times.push(started.elapsed());
    }
    let warmup = times.split_off(20);
    drop(times);
    println!();
    println!(
        "per-step overhead, no-op module, warm cache: median {} over {} runs",
        fmt(median(warmup.clone())),
        warmup.len()
    );
    let mut sorted = warmup;
    sorted.sort();
    println!("  p10 {}  p90 {}", fmt(sorted[sorted.len() / 10]), fmt(sorted[sorted.len() * 9 / 10]));
}
