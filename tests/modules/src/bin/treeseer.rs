//! A policy that reports, as warnings, every path it can see under `/in`
//! (walking the file system itself, not trusting the request's listing)
//! and whether it could read a few places outside `/in`. A pipeline test
//! grants it a sub-tree and checks it saw exactly that.
sealbox_guest::module_metadata!(r#"{"name":"treeseer","version":"0.1.0","kind":"policy"}"#);

use sealbox_guest::{Diagnostic, Response};

fn walk(dir: &str, rel: &str, seen: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
    names.sort();
    for name in names {
        let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        seen.push(path.clone());
        walk(&format!("{dir}/{name}"), &path, seen);
    }
}

fn main() {
    sealbox_guest::run(|_| {
        let mut seen = Vec::new();
        walk("/in", "", &mut seen);
        let mut diagnostics: Vec<Diagnostic> = seen.iter().map(|p| Diagnostic::warning(format!("sees {p}"))).collect();
        for outside in ["/in/..", "/in/../Kubefile", "/Kubefile", "/etc/passwd", "/in/../etc"] {
            let read = std::fs::read(outside).is_ok() || std::fs::read_dir(outside).is_ok_and(|mut d| d.next().is_some());
            if read {
                diagnostics.push(Diagnostic::warning(format!("read outside {outside}")));
            }
        }
        Ok(Response::success().with_diagnostics(diagnostics))
    });
}
