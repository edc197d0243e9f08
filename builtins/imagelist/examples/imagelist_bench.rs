//! Benchmark of the image list step's work, natively: extraction over a
//! generated tree of 5,000 manifest files and 20 charts (the fixture chart
//! with its aliased, conditional and archived sub-charts).
//!
//! ```text
//! cargo run --release -p sealbox-imagelist --example imagelist_bench [-- MANIFESTS CHARTS RUNS [DIR]]
//! ```
//!
//! With DIR, the tree is built there and kept (to time the wasm step over
//! it with `sealbox module run`), instead of in a temporary directory.

use std::fs;
use std::path::Path;
use std::time::Instant;

use sealbox_guest::Platform;
use sealbox_imagelist::{Config, collect};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn manifest(i: usize) -> String {
    let mut s = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels: {{app: app-{i}}}\nspec:\n  replicas: 2\n  \
         template:\n    metadata:\n      labels: {{app: app-{i}}}\n    spec:\n      initContainers:\n        - name: init\n          \
         image: busybox:1.{}\n      containers:\n        - name: app\n          image: registry.local:5000/team-{}/app-{}:v1.{}\n          \
         ports: [{{containerPort: 8080}}]\n          env:\n            - {{name: MODE, value: production}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\nspec:\n  selector: {{app: app-{i}}}\n  ports: [{{port: 80}}]\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\ndata:\n  image: not-an-image\n  settings: |\n    a=1\n    b=2\n",
        i % 5,
        i % 40,
        i % 300,
        i % 7
    );
    if i.is_multiple_of(5) {
        s.push_str(&format!(
            "---\napiVersion: example.io/v1\nkind: Backup\nmetadata:\n  name: b-{i}\nspec:\n  image: ghcr.io/example/backup:{}.0\n  \
             agentImage: ghcr.io/example/agent:{}\n  uploader:\n    image: {{repository: quay.io/example/up, tag: \"1.{}\"}}\n",
            i % 9,
            i % 11,
            i % 13
        ));
    }
    s
}

fn copy_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dest)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let target = dest.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn pack_chart(dir: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.append_dir_all(name, dir)?;
    builder.into_inner()?.finish()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<usize> = raw.iter().take(3).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let manifests = args.first().copied().unwrap_or(5000);
    let charts = args.get(1).copied().unwrap_or(20);
    let runs = args.get(2).copied().unwrap_or(5).max(1);

    let temp = tempfile::tempdir()?;
    let root = match raw.get(3) {
        Some(dir) => {
            fs::create_dir_all(dir)?;
            Path::new(dir).to_path_buf()
        }
        None => temp.path().to_path_buf(),
    };
    for i in 0..manifests {
        let dir = root.as_path().join(format!("manifests/gen/d{:02}", i % 50));
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("m{i:05}.yaml")), manifest(i))?;
    }
    let tgz = pack_chart(&Path::new(FIXTURES).join("db-chart"), "db")?;
    for c in 0..charts {
        let dest = root.as_path().join(format!("charts/webapp-{c:02}"));
        copy_dir(&Path::new(FIXTURES).join("context/charts/webapp"), &dest)?;
        fs::write(dest.join("charts/db-0.1.0.tgz"), &tgz)?;
    }

    let mut times = Vec::new();
    let mut images = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let outcome = collect(root.as_path(), &Config::default(), &Platform::default());
        times.push(start.elapsed());
        if outcome.failed() {
            return Err(format!("step failed: {:?}", outcome.diagnostics.first()).into());
        }
        images = outcome.images.len();
    }
    times.sort();
    println!(
        "imagelist: {manifests} manifest files, {charts} charts -> {images} images; min {:.1} ms, median {:.1} ms over {runs} runs",
        times[0].as_secs_f64() * 1e3,
        times[runs / 2].as_secs_f64() * 1e3
    );
    Ok(())
}
