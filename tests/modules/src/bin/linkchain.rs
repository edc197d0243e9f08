//! A transform that plants symlinks in `/out`: each argument `PATH=TARGET`
//! becomes a link at PATH (parents made as directories) whose text is
//! TARGET. Each link alone may look harmless; a chain of them need not be.
sealbox_guest::module_metadata!(
    r#"{"name":"linkchain","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

use std::os::fd::AsRawFd;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn path_symlink(old: *const u8, old_len: usize, fd: i32, new: *const u8, new_len: usize) -> u16;
}

fn main() {
    sealbox_guest::run(|req| {
        let args = req.config["args"].as_array().cloned().unwrap_or_default();
        let out = std::fs::File::open("/out")?;
        for arg in args.iter().filter_map(|a| a.as_str()) {
            let (path, target) = arg.split_once('=').ok_or("usage: linkchain PATH=TARGET...")?;
            if let Some((dir, _)) = path.rsplit_once('/') {
                std::fs::create_dir_all(format!("/out/{dir}"))?;
            }
            // SAFETY: both pointers and lengths come from live &str values.
            let errno =
                unsafe { path_symlink(target.as_ptr(), target.len(), out.as_raw_fd(), path.as_ptr(), path.len()) };
            if errno != 0 {
                return Err(format!("planting /out/{path}: errno {errno}").into());
            }
        }
        Ok(sealbox_guest::Response::success())
    });
}
