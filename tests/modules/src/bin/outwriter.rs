//! A transform that tries to write outside `/out`: into its read-only
//! `/in` (argument `in`), or through a symlink planted in `/out` that
//! points out of it (argument `link`). It fails with the error it got.
sealbox_guest::module_metadata!(
    r#"{"name":"outwriter","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

use std::os::fd::AsRawFd;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn path_symlink(old: *const u8, old_len: usize, fd: i32, new: *const u8, new_len: usize) -> u16;
}

fn main() {
    sealbox_guest::run(|req| {
        match req.config["args"][0].as_str() {
            Some("in") => std::fs::write("/in/manifests/evil.yaml", "kind: Evil\n")
                .map_err(|e| format!("writing /in/manifests/evil.yaml: {e}"))?,
            Some("link") => {
                let out = std::fs::File::open("/out")?;
                let (target, name) = ("../../../../etc/passwd", "passwd");
                // SAFETY: both pointers and lengths come from live &str values.
                let errno =
                    unsafe { path_symlink(target.as_ptr(), target.len(), out.as_raw_fd(), name.as_ptr(), name.len()) };
                if errno != 0 {
                    return Err(format!("planting /out/passwd: errno {errno}").into());
                }
            }
            _ => return Err("usage: outwriter in|link".into()),
        }
        Ok(sealbox_guest::Response::success())
    });
}
