//! Reports the clock and random bytes it sees, so tests can check that both
//! are the same on every run.
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let req = sealbox_guest::read_request().expect("request");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let t0 = Instant::now();
    let mut random = [0u8; 32];
    getrandom(&mut random);
    let elapsed = t0.elapsed().as_nanos();
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let args: Vec<String> = std::env::args().collect();
    let hashed = {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(42u64)
    };
    sealbox_test_modules::respond(
        sealbox_guest::Status::Success,
        serde_json::json!({
            "now": now.to_string(),
            "elapsed": elapsed.to_string(),
            "random": random.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "hashmapSeed": hashed.to_string(),
            "env": env,
            "args": args,
            "requestEnv": req.env,
        }),
    );
}

fn getrandom(buf: &mut [u8]) {
    getrandom::fill(buf).expect("random bytes");
}
