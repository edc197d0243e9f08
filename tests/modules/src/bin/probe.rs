//! Tries, one by one, everything a step must not be able to do to the file
//! system, and reports for each attempt whether it succeeded. The host's
//! tests then check that every attempt failed and that nothing changed.
use std::fs;

fn attempt(name: &str, r: std::io::Result<()>) -> (String, serde_json::Value) {
    let v = match r {
        Ok(()) => serde_json::json!({"ok": true}),
        Err(e) => serde_json::json!({"ok": false, "error": e.to_string()}),
    };
    (name.to_string(), v)
}

fn main() {
    let _ = sealbox_test_modules::config();
    let attempts: serde_json::Map<String, serde_json::Value> = [
        attempt("write /in/data.txt", fs::write("/in/data.txt", "overwritten")),
        attempt(
            "truncate /in/data.txt",
            fs::OpenOptions::new().write(true).truncate(true).open("/in/data.txt").map(drop),
        ),
        attempt("create /in/new.txt", fs::write("/in/new.txt", "new")),
        attempt("remove /in/data.txt", fs::remove_file("/in/data.txt")),
        attempt("mkdir /in/dir", fs::create_dir("/in/dir")),
        attempt("read /in/../secret.txt", fs::read("/in/../secret.txt").map(drop)),
        attempt("read ../secret.txt", fs::read("../secret.txt").map(drop)),
        attempt("read /etc/passwd", fs::read("/etc/passwd").map(drop)),
        attempt("read /secret.txt", fs::read("/secret.txt").map(drop)),
        attempt("read /out/../secret.txt", fs::read("/out/../secret.txt").map(drop)),
        attempt("read /in/escape-link", fs::read("/in/escape-link").map(drop)),
        attempt("hardlink /in/data.txt -> /out/data.txt", fs::hard_link("/in/data.txt", "/out/data.txt")),
        attempt("rename /in/data.txt -> /out/moved.txt", fs::rename("/in/data.txt", "/out/moved.txt")),
        attempt("write /out/ok.txt", fs::write("/out/ok.txt", "fine")),
    ]
    .into_iter()
    .collect();
    sealbox_test_modules::respond(sealbox_guest::Status::Success, attempts.into());
}
