//! A transform asking for the env value `CLUSTER_NAME`: writes every env
//! value it was handed to `/out/etc/cluster-env`, so a test sees exactly
//! what the step granted it.
sealbox_guest::module_metadata!(
    r#"{"name":"envlabel","version":"0.1.0","kind":"transform","capabilities":{"env":["CLUSTER_NAME"],"writeOutput":true}}"#
);

fn main() {
    sealbox_guest::run(|req| {
        let seen: Vec<String> = req.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::create_dir_all("/out/etc")?;
        std::fs::write("/out/etc/cluster-env", seen.concat())?;
        Ok(sealbox_guest::Response::success())
    });
}
