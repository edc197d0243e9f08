//! Sandbox benchmarks (`cargo bench -p sealbox --bench sandbox`):
//! compile time of each builtin, its load time from the artifact embedded
//! in the binary and from the MAC-checked precompiled cache, and the
//! per-step overhead of a no-op module with a warm cache.
//!
//! A plain harness: it prints medians over many runs, which is what the
//! README reports; it asserts nothing, since timings on shared machines are
//! not pass/fail material.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sealbox::sandbox::{Invocation, Limits, ModuleBinary, Sandbox};
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

/// `wasm` with a custom section `name` appended: the same code, another
/// digest.
fn with_custom_section(wasm: &[u8], name: &str) -> Vec<u8> {
    let mut out = wasm.to_vec();
    let payload_len = 1 + name.len();
    assert!(name.len() < 128 && payload_len < 128, "one-byte LEB128 lengths");
    out.extend_from_slice(&[0, payload_len as u8, name.len() as u8]);
    out.extend_from_slice(name.as_bytes());
    out
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

    println!("| builtin | size | compile | load embedded artifact | load from the cache |");
    println!("|---|---|---|---|---|");
    for name in sealbox::builtins::names() {
        let wasm = sealbox::builtins::get(name).expect("builtin");
        let binary = ModuleBinary::parse(wasm.to_vec()).expect("parse");
        let compile = median(
            (0..3)
                .map(|_| {
                    let started = Instant::now();
                    wasmtime::Module::new(uncached.engine(), wasm).expect("compile");
                    started.elapsed()
                })
                .collect(),
        );
        let embedded = median((0..50).map(|_| uncached.load(&binary, name).expect("load").load_time).collect());
        // The same code under another digest (one more custom section) is
        // not a builtin: it goes through the cache and its MAC check.
        let tagged = ModuleBinary::parse(with_custom_section(wasm, "bench-tag")).expect("parse");
        cached.load(&tagged, name).expect("fill cache");
        let from_cache = median((0..50).map(|_| cached.load(&tagged, name).expect("load").load_time).collect());
        println!(
            "| {name} | {} KiB | {} | {} | {} |",
            binary.bytes.len() / 1024,
            fmt(compile),
            fmt(embedded),
            fmt(from_cache)
        );
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
        let step = Invocation {
            name: "bench".into(),
            input: input.path().to_path_buf(),
            output: Some(out),
            documents: None,
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
