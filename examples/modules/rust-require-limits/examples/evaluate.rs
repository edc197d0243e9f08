//! Times the policy natively over a directory of manifests, the same
//! checks the module runs in the sandbox, for the pipeline benchmark
//! (`bench/policies.sh`):
//!
//! `cargo run --release -p rust-require-limits --example evaluate -- DIR [ROUNDS]`
//!
//! Prints one line: `resources=N best_ms=T per_resource_us=U findings=F`.

use std::path::Path;
use std::time::{Duration, Instant};

use sealbox_guest::Request;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: evaluate DIR [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: u32 = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let req = Request::default();
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let response = sealbox_guest::policy::evaluate(Path::new(dir), &req, rust_require_limits::check);
        best = best.min(started.elapsed());
        last = Some(response);
    }
    let Some(response) = last else { return };
    let resources = response.data["resources"].as_u64().unwrap_or(0);
    let per = best.as_secs_f64() * 1e6 / resources.max(1) as f64;
    println!(
        "resources={resources} best_ms={:.3} per_resource_us={per:.2} findings={}",
        best.as_secs_f64() * 1e3,
        response.diagnostics.len()
    );
}
