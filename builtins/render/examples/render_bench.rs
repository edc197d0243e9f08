//! Native baseline for the render step's benchmark: 1,000 templates of
//! about 4 KiB using 50 keys, rendered (1) in memory by the engine and
//! (2) by the step's tree walk from and to disk, as the sandboxed step
//! does. Prints the times.
//!
//! ```text
//! cargo run --release -p sealbox-render --example render_bench [-- --keep DIR]
//! ```
//!
//! With `--keep DIR` the input tree is left in `DIR/rootfs` and the data in
//! `DIR/env` (`KEY=value` lines), to run the sandboxed step on the same work.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use sealbox_render::engine::{Options, Value};
use sealbox_render::walk::{Config, render_text, render_tree};

const TEMPLATES: usize = 1000;
const KEYS: usize = 50;
const TEMPLATE_BYTES: usize = 4096;

fn env() -> BTreeMap<String, String> {
    (0..KEYS).map(|k| (format!("Key{k:02}"), format!("value-{k:02}-{}", "x".repeat(k % 7 + 3)))).collect()
}

/// A deterministic template of about 4 KiB exercising the common features.
fn template(i: usize) -> String {
    let mut t = format!("# generated template {i}\n{{{{- /* benchmark input */}}}}\n");
    let mut j = 0;
    while t.len() < TEMPLATE_BYTES {
        let k = |n: usize| (i * 7 + j * 13 + n) % KEYS;
        let _ = write!(
            t,
            "section-{j}:\n  host: {{{{.Key{:02}}}}}\n  port: {{{{or .Port{j} \"8080\"}}}}\n  name: {{{{printf \"%s-%d\" .Key{:02} {j}}}}}\n  {{{{- if .Key{:02}}}}}\n  enabled: true\n  {{{{- else}}}}\n  enabled: false\n  {{{{- end}}}}\n  quoted: {{{{.Key{:02} | quote}}}}\n  static: the quick brown fox jumps over the lazy dog\n",
            k(0),
            k(1),
            k(2),
            k(3),
        );
        j += 1;
    }
    t
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let keep = args.iter().position(|a| a == "--keep").and_then(|i| args.get(i + 1)).map(Path::new);
    let env = env();
    let sources: Vec<String> = (0..TEMPLATES).map(template).collect();
    let bytes: usize = sources.iter().map(String::len).sum();

    let data = Value::map(env.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect());
    let start = Instant::now();
    let mut out_bytes = 0;
    for (i, src) in sources.iter().enumerate() {
        match render_text(&format!("t{i}.conf.tmpl"), src, &data, &Options::default()) {
            Ok(out) => out_bytes += out.len(),
            Err(e) => panic!("benchmark template failed: {e}"),
        }
    }
    let engine = start.elapsed();

    let scratch = std::env::temp_dir().join(format!("sealbox-render-bench-{}", std::process::id()));
    let root = keep.map(Path::to_path_buf).unwrap_or(scratch.clone());
    let input = root.join("rootfs");
    let output = root.join("out");
    for (i, src) in sources.iter().enumerate() {
        let path = input.join(format!("etc/bench/d{:02}/t{i:04}.conf.tmpl", i % 20));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, src).unwrap();
    }
    let start = Instant::now();
    let outcome = render_tree(&input, &output, &env, &Config::default(), &[]);
    let walk = start.elapsed();
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    assert_eq!(outcome.rendered.len(), TEMPLATES);

    println!("{TEMPLATES} templates, {:.1} KiB each on average, {KEYS} keys", bytes as f64 / TEMPLATES as f64 / 1024.0);
    println!(
        "engine (in memory): {:.1} ms total, {:.1} µs per template, {:.1} MB/s out",
        engine.as_secs_f64() * 1e3,
        engine.as_secs_f64() * 1e6 / TEMPLATES as f64,
        out_bytes as f64 / engine.as_secs_f64() / 1e6
    );
    println!(
        "step walk (disk to disk): {:.1} ms total, {:.1} µs per template",
        walk.as_secs_f64() * 1e3,
        walk.as_secs_f64() * 1e6 / TEMPLATES as f64
    );
    match keep {
        Some(dir) => {
            let lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            std::fs::write(dir.join("env"), lines).unwrap();
            println!("input tree in {}, data in {}", input.display(), dir.join("env").display());
        }
        None => {
            let _ = std::fs::remove_dir_all(&scratch);
        }
    }
}
