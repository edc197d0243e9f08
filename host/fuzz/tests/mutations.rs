//! A bounded fuzz run of every harness inside `cargo test`: inputs made by
//! mutating the seed corpus (bit flips, byte edits, cut and repeated runs,
//! splices of two seeds, interesting bytes and tokens) with a seeded
//! generator, for a time budget per target. It is not coverage-guided (that
//! is AFL++'s job, `scripts/fuzz.sh`), but it runs on every machine and in
//! CI, where `.ci/run` gives it a longer budget.
//!
//! `SEALBOX_FUZZ_SECONDS` sets the budget per target (default 1);
//! `SEALBOX_FUZZ_SEED` the generator's seed (default: fixed, so a run is
//! repeatable). A panicking input is written to
//! `target/fuzz-findings/TARGET-N` and named in the failure.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Bytes and tokens that make parsers take their rarer paths.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\t",
    b" ",
    b"\0",
    b"\xff",
    b"\xc3",
    b"{{",
    b"}}",
    b"{{-",
    b"-}}",
    b"---\n",
    b"...\n",
    b"&a ",
    b"*a",
    b"<<: ",
    b"!!",
    b"? ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b"'",
    b"\\",
    b"../",
    b"/",
    b"@sha256:",
    b":",
    b"$(",
    b"${",
    b"#",
    b"|",
    b">-",
    b"=(",
    b"^(",
    b"X(",
    b"<(",
    b"+(",
    b"*",
    b"?",
    b"!",
    b"0x",
    b"-1",
    b"999999999999999999999",
    b"1e308",
    b"null",
    b"true",
    b"yes",
    b"~",
    b"%YAML 1.1\n",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(8) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next() as u8;
            }
            2 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            4 if !data.is_empty() => {
                // Repeat a run: deep nesting and long lines come from here.
                let start = rng.below(data.len());
                let end = (start + 1 + rng.below(32)).min(data.len());
                let run = data[start..end].to_vec();
                for _ in 0..1 + rng.below(64) {
                    data.splice(at..at, run.iter().copied());
                }
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            6 => data.truncate(at),
            _ => {
                let n = rng.below(8) + 1;
                for _ in 0..n {
                    data.insert(at.min(data.len()), rng.next() as u8);
                }
            }
        }
    }
    data.truncate(1 << 20);
    data
}

fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|f| std::fs::read(f).expect("reading a seed")).collect()
}

#[test]
fn every_target_survives_mutated_seeds() {
    let seconds: u64 = std::env::var("SEALBOX_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let seed: u64 = std::env::var("SEALBOX_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5ea1_b0c5);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let findings = root.join("../../target/fuzz-findings");
    // The harnesses' own panics are the findings; keep the default hook
    // from printing each one while the loop goes on.
    std::panic::set_hook(Box::new(|_| {}));
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for (i, (name, harness)) in sealbox_fuzz::TARGETS.iter().enumerate() {
        let corpus = seeds(&root.join("seeds").join(name));
        assert!(!corpus.is_empty(), "{name}: no seeds");
        let mut rng = Rng((seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runs = 0u64;
        while Instant::now() < deadline {
            let input = mutate(&mut rng, &corpus);
            runs += 1;
            if std::panic::catch_unwind(AssertUnwindSafe(|| harness(&input))).is_err() {
                std::fs::create_dir_all(&findings).expect("target/fuzz-findings");
                let file = findings.join(format!("{name}-{runs}"));
                std::fs::write(&file, &input).expect("writing a finding");
                failed.push(format!("{name}: input {} panicked", file.display()));
                break;
            }
        }
        report.push(format!("{name}: {runs} inputs"));
    }
    let _ = std::panic::take_hook();
    eprintln!("mutation fuzzing, {seconds} s per target, seed {seed}: {}", report.join(", "));
    assert!(failed.is_empty(), "{failed:#?}\nreplay with the harness, then add the input to regressions/TARGET/");
}
