//! What a module leaves in `/out` reaches the host only through
//! `read_stream_response` and `scan_output`: neither follows a link, both
//! cap what they read, and each refusal is the cause a user should read.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::{STREAM_RESPONSE_FILE, read_stream_response, scan_output};
use crate::sandbox::{Limits, StepError};

fn out() -> tempfile::TempDir {
    tempfile::tempdir().expect("out")
}

#[test]
fn a_response_file_is_read_once_and_removed() {
    let dir = out();
    std::fs::write(dir.path().join(STREAM_RESPONSE_FILE), b"{\"a\":1}").expect("write");
    assert_eq!(read_stream_response(Some(dir.path())).expect("read"), b"{\"a\":1}");
    assert!(!dir.path().join(STREAM_RESPONSE_FILE).exists(), "it must not end up in the layer");
}

#[test]
fn a_missing_response_or_no_out_directory_is_named() {
    let dir = out();
    assert_eq!(
        read_stream_response(Some(dir.path())).expect_err("missing"),
        "no /out/response.json (a packer writes its response there)"
    );
    assert_eq!(
        read_stream_response(None).expect_err("no dir"),
        "a streaming step needs an /out directory for its response"
    );
}

#[test]
fn a_response_that_is_a_link_a_directory_or_too_large_is_not_read() {
    let refused = "/out/response.json is not a regular file of at most 16 MiB";
    let secret = out();
    std::fs::write(secret.path().join("secret"), b"{\"host\":\"secret\"}").expect("secret");
    let dir = out();
    symlink(secret.path().join("secret"), dir.path().join(STREAM_RESPONSE_FILE)).expect("link");
    assert_eq!(read_stream_response(Some(dir.path())).expect_err("link"), refused);
    let dir = out();
    std::fs::create_dir(dir.path().join(STREAM_RESPONSE_FILE)).expect("dir");
    assert_eq!(read_stream_response(Some(dir.path())).expect_err("dir"), refused);
    let dir = out();
    let f = std::fs::File::create(dir.path().join(STREAM_RESPONSE_FILE)).expect("big");
    f.set_len((16 << 20) + 1).expect("sparse");
    assert_eq!(read_stream_response(Some(dir.path())).expect_err("big"), refused);
}

fn limits(files: u64, bytes: u64) -> Limits {
    Limits { output_files: files, output_bytes: bytes, ..Limits::default() }
}

fn scan(dir: &Path, limits: &Limits) -> Result<Vec<String>, StepError> {
    scan_output(dir, limits).map(|v| v.into_iter().map(|e| e.path).collect())
}

#[test]
fn an_output_tree_is_listed_with_links_inside_it_kept() {
    let dir = out();
    std::fs::create_dir(dir.path().join("etc")).expect("etc");
    std::fs::write(dir.path().join("etc/a"), b"abc").expect("a");
    symlink("a", dir.path().join("etc/b")).expect("link");
    assert_eq!(scan(dir.path(), &limits(10, 10)).expect("scan"), ["etc", "etc/a", "etc/b"]);
}

#[test]
fn a_link_out_of_the_tree_is_an_escape() {
    let dir = out();
    symlink("../../../../etc/shadow", dir.path().join("x")).expect("link");
    match scan(dir.path(), &limits(10, 10)) {
        Err(StepError::OutputEscape(e)) => assert!(e.starts_with("x: symlink to \"../../../../etc/shadow\""), "{e}"),
        other => panic!("not an escape: {other:?}"),
    }
}

#[test]
fn hard_links_and_special_files_are_refused() {
    let dir = out();
    std::fs::write(dir.path().join("a"), b"a").expect("a");
    std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).expect("hardlink");
    match scan(dir.path(), &limits(10, 10)) {
        Err(StepError::OutputRefused(e)) => assert!(e.contains("is a hard link"), "{e}"),
        other => panic!("a hard link passed: {other:?}"),
    }
    let dir = out();
    let fifo = std::ffi::CString::new(dir.path().join("p").into_os_string().into_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
    match scan(dir.path(), &limits(10, 10)) {
        Err(StepError::OutputRefused(e)) => assert!(e.starts_with("p: is a fifo"), "{e}"),
        other => panic!("a fifo passed: {other:?}"),
    }
}

#[test]
fn output_past_the_file_or_byte_limit_is_refused() {
    let dir = out();
    for name in ["a", "b", "c"] {
        std::fs::write(dir.path().join(name), b"12345").expect("file");
    }
    assert_eq!(scan(dir.path(), &limits(3, 15)).expect("at the limits").len(), 3);
    match scan(dir.path(), &limits(2, 1000)) {
        Err(StepError::OutputRefused(e)) => assert_eq!(e, "more than 2 entries"),
        other => panic!("too many files passed: {other:?}"),
    }
    match scan(dir.path(), &limits(10, 14)) {
        Err(StepError::OutputRefused(e)) => assert_eq!(e, "more than 14 bytes in files"),
        other => panic!("too many bytes passed: {other:?}"),
    }
}
