//! A transform asking for every env value (`*`), which only the operator
//! may allow: writes every env value it was handed to
//! `/out/etc/cluster-env`, so a test sees exactly what it was given.
sealbox_guest::module_metadata!(
    r#"{"name":"envall","version":"0.1.0","kind":"transform","capabilities":{"env":["*"],"writeOutput":true}}"#
);

fn main() {
    sealbox_guest::run(|req| {
        let seen: Vec<String> = req.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::create_dir_all("/out/etc")?;
        std::fs::write("/out/etc/cluster-env", seen.concat())?;
        Ok(sealbox_guest::Response::success())
    });
}
