//! `ADD` of archives: the host trusts nothing the `unpack` module says
//! about its output until it matches the disk, and assembling a layer
//! from several sources never writes below a link or file an earlier
//! source made.

use std::path::Path;

use sealbox_guest::{FileEntry, FileKind};

use super::{Layer, check_against_disk, is_plain_path};
use crate::tree::{Existing, TreeWriter};

fn entry(path: &str, kind: FileKind, size: u64) -> FileEntry {
    FileEntry {
        path: path.into(),
        kind,
        mode: if kind == FileKind::Dir { 0o755 } else { 0o644 },
        size,
        link: (kind == FileKind::Symlink).then(|| "/etc/passwd".into()),
        hardlink: None,
    }
}

fn file(path: &str, size: u64) -> FileEntry {
    entry(path, FileKind::File, size)
}

fn dir(path: &str) -> FileEntry {
    entry(path, FileKind::Dir, 0)
}

fn link(path: &str) -> FileEntry {
    entry(path, FileKind::Symlink, 0)
}

fn err(r: anyhow::Result<()>) -> String {
    format!("{:#}", r.expect_err("refused"))
}

#[test]
fn a_listing_that_matches_the_disk_is_accepted() {
    let listed = [dir("etc"), file("etc/a", 3), link("etc/l")];
    let disk = [dir("etc"), file("etc/a", 3)];
    check_against_disk(&listed, &disk).expect("matches");
}

#[test]
fn a_listed_size_the_disk_does_not_have_is_refused() {
    // A module lying about sizes would defeat the ratio guard.
    let e = err(check_against_disk(&[file("a", 1)], &[file("a", 1 << 40)]));
    assert!(e.contains("a is listed as a File of 1 bytes"), "{e}");
}

#[test]
fn a_file_on_disk_that_the_listing_hides_is_refused() {
    let e = err(check_against_disk(&[file("a", 1)], &[file("a", 1), file("hidden", 9)]));
    assert_eq!(e, "hidden is on disk but not in the listing");
}

#[test]
fn a_symlink_or_directory_standing_where_the_listing_says_file_is_refused() {
    // Symlinks travel only in the listing: one on disk could be written through.
    let e = err(check_against_disk(&[link("l")], &[file("l", 0)]));
    assert!(e.contains("l is listed as a Symlink"), "{e}");
    let e = err(check_against_disk(&[file("d", 0)], &[dir("d")]));
    assert!(e.contains("d is listed as a File"), "{e}");
    let e = err(check_against_disk(&[file("missing", 0)], &[]));
    assert!(e.contains("missing is listed as a File"), "{e}");
}

#[test]
fn listed_paths_that_are_not_plain_and_relative_are_refused() {
    for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "."] {
        assert!(!is_plain_path(bad), "{bad:?} passed");
        let e = err(check_against_disk(&[file(bad, 0)], &[file(bad, 0)]));
        assert!(e.contains("is not a plain relative path"), "{bad:?}: {e}");
    }
    for good in ["a", "a/b", "..a", "a..", ".hidden/x"] {
        assert!(is_plain_path(good), "{good:?} refused");
    }
}

/// A layer staged in a fresh temporary directory.
fn layer() -> (tempfile::TempDir, Layer) {
    let tmp = tempfile::tempdir().expect("tmp");
    let writer = TreeWriter::open(tmp.path(), Existing::Refuse).expect("writer");
    (tmp, Layer { writer, entries: Default::default() })
}

/// Places a file with `content` through the layer's own writer.
fn put(layer: &mut Layer, e: FileEntry, content: &str) -> anyhow::Result<()> {
    layer.place(e.into(), |w, dest| {
        w.write(dest, &mut content.as_bytes(), 0o644)?;
        Ok(())
    })
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).expect("staged file")
}

#[test]
fn a_later_file_replaces_an_earlier_one_and_parents_are_made_implicitly() {
    let (tmp, mut l) = layer();
    put(&mut l, file("opt/app/conf", 3), "old").expect("first");
    put(&mut l, file("opt/app/conf", 3), "new").expect("second");
    assert_eq!(read(tmp.path(), "opt/app/conf"), "new");
    let listing = l.finish();
    let paths: Vec<(&str, FileKind)> = listing.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    assert_eq!(paths, [("opt", FileKind::Dir), ("opt/app", FileKind::Dir), ("opt/app/conf", FileKind::File)]);
}

#[test]
fn nothing_goes_below_a_symlink_or_file_an_earlier_source_made() {
    let (tmp, mut l) = layer();
    l.place(link("etc").into(), |_, _| Ok(())).expect("link");
    // Through the link this would land on the host's /etc/passwd.
    let e = err(put(&mut l, file("etc/passwd", 4), "evil"));
    assert_eq!(e, "etc/passwd would go below etc, which an earlier source made a file or symlink");
    let e = err(l.place(dir("etc").into(), |_, _| Ok(())));
    assert!(e.contains("etc is a directory in this source, but an earlier source made it"), "{e}");
    put(&mut l, file("f", 1), "x").expect("file");
    let e = err(put(&mut l, file("f/g", 1), "y"));
    assert!(e.contains("would go below f"), "{e}");
    // Nothing was written anywhere below the staging dir's links.
    assert!(std::fs::symlink_metadata(tmp.path().join("etc")).is_err(), "links are never made on disk");
}

#[test]
fn a_directory_an_earlier_source_filled_is_not_replaced_but_an_empty_one_is() {
    let (tmp, mut l) = layer();
    put(&mut l, file("d/keep", 1), "k").expect("file");
    let e = err(put(&mut l, file("d", 1), "x"));
    assert_eq!(e, "d would replace a directory that an earlier source filled");
    assert_eq!(read(tmp.path(), "d/keep"), "k");
    l.place(dir("empty").into(), |_, _| Ok(())).expect("dir");
    put(&mut l, file("empty", 2), "ok").expect("an empty directory is replaced");
    assert_eq!(read(tmp.path(), "empty"), "ok");
    // A directory named again keeps its place and takes the later mode.
    let mut again = dir("d");
    again.mode = 0o700;
    l.place(again.into(), |_, _| Ok(())).expect("dir again");
    let listing = l.finish();
    assert_eq!(listing.iter().find(|e| e.path == "d").map(|e| e.mode), Some(0o700));
}

#[test]
fn hard_links_to_a_replaced_or_later_name_become_plain_files() {
    let (_tmp, mut l) = layer();
    put(&mut l, file("a", 1), "a").expect("a");
    let mut b = file("b", 1);
    b.hardlink = Some("a".into());
    put(&mut l, b, "a").expect("b");
    // A link pointing at a name sorted after it cannot be packed as a link.
    let mut c = file("c", 1);
    c.hardlink = Some("y".into());
    put(&mut l, c, "y").expect("c");
    put(&mut l, file("y", 1), "y").expect("y");
    put(&mut l, file("z", 1), "z").expect("z");
    let mut d = file("d", 1);
    d.hardlink = Some("z".into());
    put(&mut l, d, "z").expect("d");
    // Replacing `z` unlinks the names that shared its content.
    put(&mut l, file("z", 2), "zz").expect("z again");
    let links: Vec<(String, Option<String>)> = l.finish().into_iter().map(|e| (e.path, e.hardlink)).collect();
    assert_eq!(
        links,
        [
            ("a".to_string(), None),
            ("b".to_string(), Some("a".to_string())),
            ("c".to_string(), None),
            ("d".to_string(), None),
            ("y".to_string(), None),
            ("z".to_string(), None)
        ]
    );
}

#[test]
fn unpacked_entries_land_under_the_target_with_their_links_renamed() {
    let (tmp, mut l) = layer();
    let out = tempfile::tempdir().expect("out");
    std::fs::create_dir(out.path().join("sub")).expect("sub");
    std::fs::write(out.path().join("sub/one"), "1").expect("one");
    std::fs::write(out.path().join("two"), "1").expect("two");
    let mut two = file("two", 1);
    two.hardlink = Some("sub/one".into());
    let unpacked = vec![dir("sub"), file("sub/one", 1), two];
    // The output dir is taken away once its entries are moved.
    let out_path = out.path().to_path_buf();
    l.add_unpacked(&out_path, "opt/x", unpacked).expect("unpacked");
    assert!(!out_path.exists());
    assert_eq!(read(tmp.path(), "opt/x/sub/one"), "1");
    let listing = l.finish();
    let got: Vec<(&str, Option<&str>)> = listing.iter().map(|e| (e.path.as_str(), e.hardlink.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("opt", None),
            ("opt/x", None),
            ("opt/x/sub", None),
            ("opt/x/sub/one", None),
            ("opt/x/two", Some("opt/x/sub/one"))
        ]
    );
}
