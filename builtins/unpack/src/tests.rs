//! Archives built with the `tar` crate (and each compressor), unpacked
//! into a temp dir and checked against the listing and the disk.

use super::*;
use std::io::Write;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h
}

/// A tar stream; each member is (name, type, mode, content or link target).
fn tarball(members: &[(&str, tar::EntryType, u32, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, mode, body) in members {
        match kind {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let mut h = header(*kind, *mode, 0);
                b.append_link(&mut h, name, body).unwrap();
            }
            _ => {
                let mut h = header(*kind, *mode, body.len() as u64);
                b.append_data(&mut h, name, body.as_bytes()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Writes raw member names the `tar` builder would refuse (`..`, `/`).
fn raw_tarball(name: &[u8], body: &[u8]) -> Vec<u8> {
    let mut h = header(tar::EntryType::Regular, 0o644, body.len() as u64);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

fn unpack_bytes(bytes: &[u8]) -> (tempfile::TempDir, Result<Unpacked, UnpackError>) {
    let dir = tempfile::tempdir().unwrap();
    let result = unpack(bytes, dir.path(), Limits::default());
    (dir, result)
}

fn find<'a>(entries: &'a [FileEntry], path: &str) -> &'a FileEntry {
    entries.iter().find(|e| e.path == path).unwrap_or_else(|| panic!("no {path} in {entries:?}"))
}

use tar::EntryType as T;

fn sample() -> Vec<u8> {
    tarball(&[
        ("./bin/", T::Directory, 0o750, ""),
        ("./bin/tool", T::Regular, 0o755, "#!/bin/sh\necho hi\n"),
        ("etc/conf/app.yaml", T::Regular, 0o600, "a: 1\n"),
        ("etc/conf/current", T::Symlink, 0o777, "app.yaml"),
        ("bin/tool2", T::Link, 0o755, "bin/tool"),
    ])
}

#[test]
fn unpacks_files_dirs_links_with_modes() {
    let (dir, result) = unpack_bytes(&sample());
    let u = result.unwrap();
    assert_eq!(u.compression, Compression::None);
    let paths: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["bin", "bin/tool", "bin/tool2", "etc", "etc/conf", "etc/conf/app.yaml", "etc/conf/current"]);
    assert_eq!(find(&u.entries, "bin").mode, 0o750);
    assert_eq!(find(&u.entries, "etc").mode, IMPLICIT_DIR_MODE);
    let tool = find(&u.entries, "bin/tool");
    assert_eq!((tool.kind, tool.mode, tool.size), (FileKind::File, 0o755, 18));
    assert_eq!(find(&u.entries, "bin/tool2").hardlink.as_deref(), Some("bin/tool"));
    let link = find(&u.entries, "etc/conf/current");
    assert_eq!((link.kind, link.link.as_deref()), (FileKind::Symlink, Some("app.yaml")));
    assert_eq!(fs::read_to_string(dir.path().join("bin/tool2")).unwrap(), "#!/bin/sh\necho hi\n");
    assert_eq!(fs::read_to_string(dir.path().join("etc/conf/app.yaml")).unwrap(), "a: 1\n");
    // Symlinks live only in the listing.
    assert!(fs::symlink_metadata(dir.path().join("etc/conf/current")).is_err());
}

#[test]
fn every_compression_gives_the_same_listing() {
    let plain = sample();
    let (_d, expected) = unpack_bytes(&plain);
    let expected = expected.unwrap().entries;

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&plain).unwrap();
    let xz = {
        let mut w = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap()
    };
    for (bytes, compression) in
        [(gz.finish().unwrap(), Compression::Gzip), (bz.finish().unwrap(), Compression::Bzip2), (xz, Compression::Xz)]
    {
        let (_d, got) = unpack_bytes(&bytes);
        let got = got.unwrap();
        assert_eq!(got.compression, compression);
        assert_eq!(got.entries, expected, "{compression:?}");
    }
}

/// A zstd frame made by hand (raw blocks need no encoder): magic, a frame
/// header (single segment, 2-byte content size), one last raw block.
fn zstd_raw_frame(data: &[u8]) -> Vec<u8> {
    assert!((256..1 << 16).contains(&data.len()));
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0b0110_0000];
    frame.extend_from_slice(&((data.len() - 256) as u16).to_le_bytes());
    let block_header = ((data.len() as u32) << 3) | 1;
    frame.extend_from_slice(&block_header.to_le_bytes()[..3]);
    frame.extend_from_slice(data);
    frame
}

#[test]
fn zstd_streams_of_several_frames_are_decoded_whole() {
    let plain = tarball(&[("x", T::Regular, 0o644, "zstd!"), ("y", T::Regular, 0o644, "second frame")]);
    // Split between the two members, as pzstd splits its input.
    let (first, rest) = plain.split_at(1024);
    let mut bytes = zstd_raw_frame(first);
    bytes.extend(zstd_raw_frame(rest));
    let (dir, got) = unpack_bytes(&bytes);
    let got = got.unwrap();
    assert_eq!(got.compression, Compression::Zstd);
    assert_eq!(fs::read_to_string(dir.path().join("x")).unwrap(), "zstd!");
    assert_eq!(fs::read_to_string(dir.path().join("y")).unwrap(), "second frame");
}

#[test]
fn later_members_replace_earlier_ones() {
    let bytes = tarball(&[
        ("a", T::Regular, 0o644, "one"),
        ("a", T::Regular, 0o600, "two!"),
        ("l", T::Symlink, 0o777, "a"),
        ("l", T::Regular, 0o644, "now a file"),
        ("d/", T::Directory, 0o755, ""),
        ("d/", T::Directory, 0o700, ""),
    ]);
    let (dir, got) = unpack_bytes(&bytes);
    let got = got.unwrap().entries;
    assert_eq!(find(&got, "a").mode, 0o600);
    assert_eq!(fs::read_to_string(dir.path().join("a")).unwrap(), "two!");
    assert_eq!(find(&got, "l").kind, FileKind::File);
    assert_eq!(find(&got, "d").mode, 0o700);
}

#[test]
fn hard_link_groups_are_led_by_the_first_name_in_path_order() {
    let bytes = tarball(&[("z/orig", T::Regular, 0o644, "shared"), ("a/copy", T::Link, 0o644, "z/orig")]);
    let (_d, got) = unpack_bytes(&bytes);
    let got = got.unwrap().entries;
    assert_eq!(find(&got, "a/copy").hardlink, None);
    assert_eq!(find(&got, "z/orig").hardlink.as_deref(), Some("a/copy"));
}

#[test]
fn refuses_escapes_whiteouts_and_devices() {
    let (_d, r) = unpack_bytes(&raw_tarball(b"../../etc/passwd", b"x"));
    assert!(matches!(r, Err(UnpackError::Name { cause: PathError::Escapes, .. })), "{r:?}");
    let (_d, r) = unpack_bytes(&tarball(&[("opt/.wh.old", T::Regular, 0o644, "")]));
    assert!(matches!(r, Err(UnpackError::Name { cause: PathError::Whiteout, .. })), "{r:?}");
    let (_d, r) = unpack_bytes(&tarball(&[("dev/null", T::Char, 0o666, "")]));
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("dev/null") && msg.contains("character device"), "{msg}");
    let (_d, r) = unpack_bytes(&tarball(&[("p", T::Fifo, 0o644, "")]));
    assert!(r.unwrap_err().to_string().contains("fifo"));
}

#[test]
fn absolute_names_land_under_the_destination() {
    let (dir, r) = unpack_bytes(&raw_tarball(b"/etc/motd", b"hello"));
    assert_eq!(find(&r.unwrap().entries, "etc/motd").size, 5);
    assert_eq!(fs::read_to_string(dir.path().join("etc/motd")).unwrap(), "hello");
}

#[test]
fn nothing_is_written_through_a_planted_symlink() {
    let bytes = tarball(&[("evil", T::Symlink, 0o777, "/etc"), ("evil/passwd", T::Regular, 0o644, "pwned")]);
    let (_d, r) = unpack_bytes(&bytes);
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("evil/passwd") && msg.contains("not a directory"), "{msg}");
}

#[test]
fn refuses_dangling_hard_links_and_non_empty_dir_replacement() {
    let (_d, r) = unpack_bytes(&tarball(&[("b", T::Link, 0o644, "missing")]));
    assert!(matches!(r, Err(UnpackError::DanglingHardlink { .. })), "{r:?}");
    let (_d, r) = unpack_bytes(&tarball(&[("d/f", T::Regular, 0o644, "x"), ("d", T::Regular, 0o644, "y")]));
    assert!(matches!(r, Err(UnpackError::ReplacesDirectory { .. })), "{r:?}");
}

#[test]
fn limits_stop_bombs() {
    let bytes = tarball(&[("a", T::Regular, 0o644, "0123456789"), ("b", T::Regular, 0o644, "0123456789")]);
    let dir = tempfile::tempdir().unwrap();
    let r = unpack(&bytes[..], dir.path(), Limits { max_entries: 10, max_bytes: 15, ..Limits::default() });
    assert!(matches!(r, Err(UnpackError::TooLarge(15))), "{r:?}");
    let dir = tempfile::tempdir().unwrap();
    let r = unpack(&bytes[..], dir.path(), Limits { max_entries: 1, max_bytes: 100, ..Limits::default() });
    assert!(matches!(r, Err(UnpackError::TooManyEntries(1))), "{r:?}");
}

/// A gzip archive of one file of `size` zeros (and a hard link to it when
/// `linked`): it compresses about 1000:1.
fn zeros_gz(size: usize, linked: bool) -> Vec<u8> {
    let zeros = "\0".repeat(size);
    let mut members = vec![("zeros", T::Regular, 0o644, zeros.as_str())];
    if linked {
        members.push(("again", T::Link, 0o644, "zeros"));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tarball(&members)).unwrap();
    gz.finish().unwrap()
}

#[test]
fn the_ratio_guard_stops_a_bomb_as_it_streams_and_lets_real_data_through() {
    let gz = zeros_gz(4 << 20, false);
    let archive = gz.len() as u64;
    assert!(archive < 40 << 10, "4 MiB of zeros compress far: {archive}");
    let guard = Limits { max_ratio: 100, ratio_threshold: 1 << 20, archive_bytes: archive, ..Limits::default() };
    let dir = tempfile::tempdir().unwrap();
    let r = unpack(&gz[..], dir.path(), guard);
    match r {
        Err(UnpackError::Expands { cap, ratio: 100, archive: a }) => {
            assert_eq!((cap, a), (1 << 20, archive));
        }
        other => panic!("{other:?}"),
    }
    // Stopped as the bytes streamed: no more than the cap (and a byte) on disk.
    let on_disk = std::fs::metadata(dir.path().join("zeros")).unwrap().len();
    assert!(on_disk <= (1 << 20) + 1, "{on_disk}");
    let msg = unpack(&gz[..], tempfile::tempdir().unwrap().path(), guard).unwrap_err().to_string();
    assert!(msg.contains("over 100 times its own") && msg.contains("decompression bomb"), "{msg}");

    // Below the threshold, any ratio passes; with the guard off, too.
    let under = Limits { ratio_threshold: 8 << 20, ..guard };
    assert!(unpack(&gz[..], tempfile::tempdir().unwrap().path(), under).is_ok());
    let off = Limits { max_ratio: 0, ..guard };
    assert!(unpack(&gz[..], tempfile::tempdir().unwrap().path(), off).is_ok());
    // A ratio the archive stays within passes: 4 MiB from ~4 KiB is under 2000:1.
    let generous = Limits { max_ratio: 100_000, ..guard };
    assert!(unpack(&gz[..], tempfile::tempdir().unwrap().path(), generous).is_ok());
    // max_bytes still applies when it is the lower cap, as before.
    let small = Limits { max_bytes: 1000, ..guard };
    let r = unpack(&gz[..], tempfile::tempdir().unwrap().path(), small);
    assert!(matches!(r, Err(UnpackError::TooLarge(1000))), "{r:?}");
}

#[test]
fn hard_links_count_toward_the_ratio() {
    // Each name holds its bytes on disk: two names of 3 MiB are 6 MiB.
    let gz = zeros_gz(3 << 20, true);
    let guard =
        Limits { max_ratio: 100, ratio_threshold: 5 << 20, archive_bytes: gz.len() as u64, ..Limits::default() };
    let r = unpack(&gz[..], tempfile::tempdir().unwrap().path(), guard);
    assert!(matches!(r, Err(UnpackError::Expands { .. })), "{r:?}");
    let single = zeros_gz(3 << 20, false);
    let guard = Limits { archive_bytes: single.len() as u64, ..guard };
    assert!(unpack(&single[..], tempfile::tempdir().unwrap().path(), guard).is_ok());
}

#[test]
fn truncated_and_garbage_archives_are_errors() {
    let mut bytes = sample();
    bytes.truncate(700);
    let (_d, r) = unpack_bytes(&bytes);
    assert!(r.is_err());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&sample()).unwrap();
    let mut gz = gz.finish().unwrap();
    gz.truncate(gz.len() / 2);
    let (_d, r) = unpack_bytes(&gz);
    assert!(matches!(r, Err(UnpackError::Read(_))), "{r:?}");
}
