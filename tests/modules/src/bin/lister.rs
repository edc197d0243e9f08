//! A transform that writes the request's file listing to `/out/listing.txt`
//! (`kind path[ -> link]`, one a line) and the content each symlink leads
//! to, so a test sees exactly what rootfs the step staged for it.
sealbox_guest::module_metadata!(
    r#"{"name":"lister","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

use sealbox_guest::FileKind;

fn main() {
    sealbox_guest::run(|req| {
        let mut text = String::new();
        for f in &req.files {
            let kind = match f.kind {
                FileKind::Dir => "dir",
                FileKind::File => "file",
                FileKind::Symlink => "link",
            };
            text.push_str(&format!("{kind} {}", f.path));
            if let Some(link) = &f.link {
                // Reading through the link shows it resolves inside /in.
                let content = std::fs::read_to_string(format!("/in/{}", f.path))?;
                text.push_str(&format!(" -> {link} ({} bytes)", content.len()));
            }
            text.push('\n');
        }
        std::fs::write("/out/listing.txt", text)?;
        Ok(sealbox_guest::Response::success())
    });
}
