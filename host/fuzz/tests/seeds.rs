//! Runs every fuzz harness over its seed corpus (`seeds/TARGET/`) and over
//! the regression inputs of crashes the fuzzer found (`regressions/TARGET/`).
//! This keeps the harnesses compiling and the corpus valid in plain
//! `cargo test`; the fuzzing itself is scripts/fuzz.sh under AFL++.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<_> = entries.map(|e| e.expect("dir entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn every_target_runs_over_its_seeds_and_regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, harness) in sealbox_fuzz::TARGETS {
        let seeds = inputs(&root.join("seeds").join(name));
        assert!(seeds.len() >= 2, "{name}: the seed corpus seeds/{name}/ needs at least two inputs");
        let regressions = inputs(&root.join("regressions").join(name));
        for input in seeds.iter().chain(&regressions) {
            let data = std::fs::read(input).expect("reading a seed");
            harness(&data);
        }
    }
}

#[test]
fn every_seed_directory_names_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for entry in std::fs::read_dir(&root).expect("seeds/") {
        let name = entry.expect("entry").file_name().into_string().expect("UTF-8 name");
        assert!(sealbox_fuzz::target(&name).is_some(), "seeds/{name} has no harness");
    }
    assert!(sealbox_fuzz::target("no-such-target").is_none());
}
