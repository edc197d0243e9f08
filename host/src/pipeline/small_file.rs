//! Reading the small files a build is driven by (the Kubefile, the pipeline
//! file, the lock) out of the untrusted context: whole, but only when they
//! are regular files of at most [`MAX_SMALL_FILE`] bytes, so that a link to
//! `/dev/zero`, a FIFO or a huge file fails the build instead of
//! exhausting the host's memory or blocking it forever.

use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The most bytes such a file may hold; real ones hold a few KiB.
pub const MAX_SMALL_FILE: u64 = 1 << 20;

/// The contents of the regular file at `path`; an error for anything else
/// or for more than [`MAX_SMALL_FILE`] bytes.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    // Non-blocking, so that opening a FIFO returns at once (and is then
    // refused); reads of a regular file ignore the flag.
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SMALL_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SMALL_FILE {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("larger than {} MiB", MAX_SMALL_FILE >> 20)));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let small = tmp.path().join("Kubefile");
        std::fs::write(&small, "FROM scratch\n").unwrap();
        assert_eq!(read(&small).unwrap(), b"FROM scratch\n");

        let big = tmp.path().join("big");
        std::fs::write(&big, vec![b'#'; MAX_SMALL_FILE as usize + 1]).unwrap();
        assert_eq!(read(&big).unwrap_err().kind(), io::ErrorKind::FileTooLarge);

        let zero = tmp.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(read(&zero).unwrap_err().kind(), io::ErrorKind::InvalidInput);

        let fifo = tmp.path().join("fifo");
        use rustix::fs::{CWD, FileType, Mode, mknodat};
        mknodat(CWD, &fifo, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).unwrap();
        assert_eq!(read(&fifo).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(read(tmp.path()).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
