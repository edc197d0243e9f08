//! Plants a symlink in /out that points out of it, for the next consumer
//! of /out to follow.
use std::os::fd::AsRawFd;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn path_symlink(old: *const u8, old_len: usize, fd: i32, new: *const u8, new_len: usize) -> u16;
}

fn main() {
    let _ = sealbox_test_modules::config();
    let out = std::fs::File::open("/out").expect("open /out");
    let target = "../../../../etc/passwd";
    let name = "passwd";
    let errno = unsafe { path_symlink(target.as_ptr(), target.len(), out.as_raw_fd(), name.as_ptr(), name.len()) };
    sealbox_test_modules::respond(sealbox_guest::Status::Success, serde_json::json!({"errno": errno}));
}
