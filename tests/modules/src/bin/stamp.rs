//! A transform on the SDK's `transform` helper: copies every YAML file of
//! `/in` to `/out` with a first line `# team: TEAM` (the granted env value
//! `TEAM`, or `none`).
sealbox_guest::module_metadata!(
    r#"{"name":"stamp","version":"0.1.0","kind":"transform","capabilities":{"env":["TEAM"],"writeOutput":true}}"#
);

fn main() {
    sealbox_guest::transform(|req, input, output| {
        let team = req.env.get("TEAM").map_or("none", String::as_str);
        for f in input.files().filter(|f| f.path.ends_with(".yaml")) {
            let text = input.read_to_string(&f.path)?;
            output.write(&f.path, format!("# team: {team}\n{text}"))?;
        }
        Ok(vec![])
    });
}
