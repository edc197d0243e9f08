//! Native tests of the packer: the same code the wasm module runs.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sealbox_guest::{FileEntry, FileKind, Request};
use sha2::Digest as _;

use super::*;

fn file(path: &str, mode: u32, size: u64) -> FileEntry {
    FileEntry { path: path.into(), kind: FileKind::File, mode, size, link: None, hardlink: None }
}

fn long_name() -> String {
    format!("deep/{}/{}.yaml", "sub".repeat(40), "n".repeat(30))
}

/// A fixture tree on disk and its listing, as the host would send it.
fn fixture() -> (tempfile::TempDir, Vec<FileEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let long = long_name();
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join(Path::new(&long).parent().unwrap())).unwrap();
    std::fs::write(root.join("a/hello.txt"), b"hello\n").unwrap();
    std::fs::hard_link(root.join("a/hello.txt"), root.join("a/hard")).unwrap();
    std::os::unix::fs::symlink("hello.txt", root.join("a/link")).unwrap();
    std::fs::write(root.join("a/empty"), b"").unwrap();
    let tool: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(root.join("bin/tool"), &tool).unwrap();
    std::fs::set_permissions(root.join("bin/tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join(&long), b"long: true\n").unwrap();
    let dir_of =
        |p: &str| FileEntry { path: p.into(), kind: FileKind::Dir, mode: 0o755, size: 0, link: None, hardlink: None };
    let mut files = vec![
        dir_of("a"),
        file("a/empty", 0o600, 0),
        FileEntry { hardlink: Some("a/hello.txt".into()), ..file("a/hard", 0o644, 6) },
        file("a/hello.txt", 0o644, 6),
        FileEntry {
            path: "a/link".into(),
            kind: FileKind::Symlink,
            mode: 0o777,
            size: 0,
            link: Some("hello.txt".into()),
            hardlink: None,
        },
        dir_of("bin"),
        file("bin/tool", 0o755, 3000),
        dir_of("deep"),
        dir_of(Path::new(&long).parent().unwrap().to_str().unwrap()),
        file(&long, 0o644, 11),
    ];
    // The host names the first path in sorted order as the link target;
    // here that is a/hard, so swap roles to keep the listing honest.
    files[2] = file("a/hard", 0o644, 6);
    files[3] = FileEntry { hardlink: Some("a/hard".into()), ..file("a/hello.txt", 0o644, 6) };
    (dir, files)
}

fn pack_bytes(root: &Path, files: &[FileEntry], epoch: u64, config: &PackConfig) -> Result<Vec<u8>, PackError> {
    let mut out = vec![];
    let stats = pack(root, files, epoch, config, &mut out)?;
    assert_eq!(stats.bytes, out.len() as u64);
    Ok(out)
}

struct Seen {
    path: String,
    kind: tar::EntryType,
    mode: u32,
    mtime: u64,
    uid: u64,
    gid: u64,
    user: Vec<u8>,
    link: Option<PathBuf>,
    data: Vec<u8>,
}

fn read_back(bytes: &[u8]) -> Vec<Seen> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = vec![];
            e.read_to_end(&mut data).unwrap();
            let h = e.header();
            Seen {
                path: String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                kind: h.entry_type(),
                mode: h.mode().unwrap(),
                mtime: h.mtime().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                user: h.username_bytes().unwrap_or_default().to_vec(),
                link: e.link_name().unwrap().map(|l| l.into_owned()),
                data,
            }
        })
        .collect()
}

#[test]
fn packs_every_kind_of_entry_as_listed() {
    let (dir, files) = fixture();
    let out = pack_bytes(dir.path(), &files, 1234, &PackConfig::default()).unwrap();
    assert_eq!(out.len() % 512, 0);
    assert!(out[out.len() - 1024..].iter().all(|&b| b == 0), "no end-of-archive blocks");
    let seen = read_back(&out);
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    let long = long_name();
    let long_parent = format!("{}/", Path::new(&long).parent().unwrap().display());
    assert_eq!(
        paths,
        ["a/", "a/empty", "a/hard", "a/hello.txt", "a/link", "bin/", "bin/tool", "deep/", &long_parent, &long]
    );
    for s in &seen {
        assert_eq!((s.mtime, s.uid, s.gid), (1234, 0, 0), "{}", s.path);
        assert!(s.user.is_empty(), "{}", s.path);
    }
    let by = |p: &str| seen.iter().find(|s| s.path == p).unwrap();
    assert_eq!(by("a/").kind, tar::EntryType::Directory);
    assert_eq!(by("a/empty").mode, 0o600);
    assert_eq!(by("a/hard").data, b"hello\n");
    assert_eq!(by("a/hello.txt").kind, tar::EntryType::Link);
    assert_eq!(by("a/hello.txt").link.as_deref(), Some(Path::new("a/hard")));
    assert_eq!(by("a/link").kind, tar::EntryType::Symlink);
    assert_eq!(by("a/link").link.as_deref(), Some(Path::new("hello.txt")));
    assert_eq!(by("bin/tool").mode, 0o755);
    assert_eq!(by("bin/tool").data, std::fs::read(dir.path().join("bin/tool")).unwrap());
    assert_eq!(by(&long).data, b"long: true\n");
}

#[test]
fn gnu_tar_lists_and_extracts_the_stream() {
    let (dir, files) = fixture();
    let out = pack_bytes(dir.path(), &files, 86_400, &PackConfig::default()).unwrap();
    let archive = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::write(&archive, &out).unwrap();
    let listing = match std::process::Command::new("tar").env("TZ", "UTC").arg("-tvf").arg(&*archive).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("GNU tar is not installed: run scripts/setup.sh, which installs it for this cross-check")
        }
        Err(e) => panic!("{e}"),
    };
    assert!(listing.status.success(), "{}", String::from_utf8_lossy(&listing.stderr));
    let text = String::from_utf8(listing.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), files.len());
    assert!(lines[0].starts_with("drwxr-xr-x 0/0") && lines[0].ends_with("1970-01-02 00:00 a/"), "{}", lines[0]);
    assert!(lines[3].contains("a/hello.txt link to a/hard"), "{}", lines[3]);
    assert!(lines[4].starts_with("lrwxrwxrwx 0/0") && lines[4].ends_with("a/link -> hello.txt"), "{}", lines[4]);
    assert!(lines[6].starts_with("-rwxr-xr-x 0/0") && lines[6].contains(" 3000 "), "{}", lines[6]);
    assert!(lines[9].ends_with(&long_name()), "{}", lines[9]);

    let dest = tempfile::tempdir().unwrap();
    let x = std::process::Command::new("tar").arg("-xf").arg(&*archive).arg("-C").arg(dest.path()).output().unwrap();
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
    let d = dest.path();
    assert_eq!(std::fs::read(d.join("bin/tool")).unwrap(), std::fs::read(dir.path().join("bin/tool")).unwrap());
    assert_eq!(
        std::fs::metadata(d.join("a/hard")).unwrap().ino(),
        std::fs::metadata(d.join("a/hello.txt")).unwrap().ino()
    );
    assert_eq!(std::fs::read_link(d.join("a/link")).unwrap(), Path::new("hello.txt"));
    assert_eq!(std::fs::read(d.join(long_name())).unwrap(), b"long: true\n");
}

#[test]
fn output_is_pinned_and_ignores_timestamps_and_read_sizes() {
    let (dir, files) = fixture();
    let first = pack_bytes(dir.path(), &files, 0, &PackConfig::default()).unwrap();
    // Same tree, newer mtimes everywhere: same bytes.
    let later = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000);
    for f in &files {
        if f.kind == FileKind::File {
            std::fs::File::options().write(true).open(dir.path().join(&f.path)).unwrap().set_modified(later).unwrap();
        }
    }
    assert_eq!(pack_bytes(dir.path(), &files, 0, &PackConfig::default()).unwrap(), first);
    // Reading in 1000-byte pieces changes nothing.
    let mut small = vec![];
    pack_with_chunk(dir.path(), &files, 0, &PackConfig::default(), &mut small, 1000).unwrap();
    assert_eq!(small, first);
    // Golden digest: the wasm build of this code must give the same bytes
    // for this fixture; a change here is a change of every layer digest.
    let digest = format!("{:x}", sha2::Sha256::digest(&first));
    assert_eq!(digest, "885eea900bda4f07f353f71dcd65fe214b42645753f0c3053415207fdc8c2572");
}

#[test]
fn a_prefix_places_the_tree_under_a_directory() {
    let (dir, files) = fixture();
    let config = PackConfig { prefix: Some("/opt/app/".into()), ..PackConfig::default() };
    let seen = read_back(&pack_bytes(dir.path(), &files, 0, &config).unwrap());
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).take(4).collect();
    assert_eq!(paths, ["opt/", "opt/app/", "opt/app/a/", "opt/app/a/empty"]);
    let hello = seen.iter().find(|s| s.path == "opt/app/a/hello.txt").unwrap();
    assert_eq!(hello.link.as_deref(), Some(Path::new("opt/app/a/hard")));
    for bad in ["../x", "a/../b", "a//b", "./a"] {
        let config = PackConfig { prefix: Some(bad.into()), ..PackConfig::default() };
        assert!(pack_bytes(dir.path(), &files, 0, &config).is_err(), "{bad}");
    }
}

#[test]
fn content_is_read_from_the_source_when_given() {
    let (dir, _) = fixture();
    let files = vec![
        FileEntry { kind: FileKind::Dir, mode: 0o755, ..file("etc", 0, 0) },
        file("etc/tool", 0o700, 3000),
        file("etc/x", 0o644, 6),
    ];
    let sources = |pairs: &[(&str, &str)]| PackConfig {
        sources: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..PackConfig::default()
    };
    let config = sources(&[("etc/tool", "bin/tool"), ("etc/x", "a/hello.txt")]);
    let seen = read_back(&pack_bytes(dir.path(), &files, 0, &config).unwrap());
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["etc/", "etc/tool", "etc/x"]);
    assert_eq!(seen[1].data, std::fs::read(dir.path().join("bin/tool")).unwrap());
    assert_eq!(seen[1].mode, 0o700);
    assert_eq!(seen[2].data, b"hello\n");
    for bad in ["../outside", "/etc/passwd", "a/../../x"] {
        let list = vec![file("x", 0o644, 1)];
        let e = pack_bytes(dir.path(), &list, 0, &sources(&[("x", bad)])).unwrap_err();
        assert!(e.0.contains("invalid source path"), "{bad}: {e}");
    }
}

#[test]
fn files_that_changed_since_listing_fail_clearly() {
    let (dir, mut files) = fixture();
    let tool = files.iter().position(|f| f.path == "bin/tool").unwrap();
    files[tool].size = 4000;
    let e = pack_bytes(dir.path(), &files, 0, &PackConfig::default()).unwrap_err();
    assert!(e.0.contains("bin/tool shrank"), "{e}");
    files[tool].size = 2999;
    let e = pack_bytes(dir.path(), &files, 0, &PackConfig::default()).unwrap_err();
    assert!(e.0.contains("bin/tool grew"), "{e}");
    // Also across chunk boundaries.
    let mut out = vec![];
    let e = pack_with_chunk(dir.path(), &files, 0, &PackConfig::default(), &mut out, 1000).unwrap_err();
    assert!(e.0.contains("bin/tool grew"), "{e}");
    files[tool].size = 3000;
    std::fs::remove_file(dir.path().join("bin/tool")).unwrap();
    let e = pack_bytes(dir.path(), &files, 0, &PackConfig::default()).unwrap_err();
    assert!(e.0.contains("cannot open bin/tool"), "{e}");
}

#[test]
fn bad_listings_are_refused() {
    let (dir, files) = fixture();
    for bad in ["../etc/passwd", "/etc/passwd", "a//b", "a/./b", "", "a/"] {
        let mut list = files.clone();
        list.push(file(bad, 0o644, 0));
        let e = pack_bytes(dir.path(), &list, 0, &PackConfig::default()).unwrap_err();
        assert!(e.0.contains("invalid path"), "{bad:?}: {e}");
    }
    let mut list = files.clone();
    list.insert(0, FileEntry { hardlink: Some("a/hard".into()), ..file("0first", 0o644, 0) });
    let e = pack_bytes(dir.path(), &list, 0, &PackConfig::default()).unwrap_err();
    assert!(e.0.contains("not an earlier file"), "{e}");
    let mut list = files.clone();
    list.push(FileEntry {
        path: "zz".into(),
        kind: FileKind::Symlink,
        mode: 0o777,
        size: 0,
        link: None,
        hardlink: None,
    });
    assert!(pack_bytes(dir.path(), &list, 0, &PackConfig::default()).unwrap_err().0.contains("without a target"));
}

#[test]
fn handle_reads_config_and_reports_counts() {
    let (dir, files) = fixture();
    let mut req = Request { files: files.clone(), ..Default::default() };
    req.image.source_date_epoch = 5;
    let mut out = vec![];
    let response = handle(&req, dir.path(), &mut out).unwrap();
    assert_eq!(response.data, serde_json::json!({"entries": files.len(), "bytes": out.len()}));
    req.config = serde_json::json!({"prefix": "x", "unknown": 1});
    let e = handle(&req, dir.path(), &mut vec![]).unwrap_err();
    assert!(e.0.contains("invalid pack config"), "{e}");
}
