//! Hostile trees against the writer and the walk: every test plants links
//! (chains, loops, absolute, through directories), hard links and races
//! in a tree, writes through [`TreeWriter`], and checks that a sentinel
//! tree beside it is byte for byte what it was.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use super::*;

/// A directory outside the tree under attack, and what it held at first.
struct Sentinel {
    dir: PathBuf,
    before: BTreeMap<String, String>,
}

impl Sentinel {
    /// Makes `base/sentinel` with a file, a nested file and a directory.
    fn new(base: &Path) -> Sentinel {
        let dir = base.join("sentinel");
        std::fs::create_dir_all(dir.join("sub")).expect("sentinel");
        std::fs::write(dir.join("secret"), "do not touch\n").expect("secret");
        std::fs::write(dir.join("sub/config"), "[core]\n").expect("config");
        let before = snapshot(&dir);
        Sentinel { dir, before }
    }

    fn assert_untouched(&self, case: &str) {
        assert_eq!(snapshot(&self.dir), self.before, "{case}: the sentinel tree changed");
    }
}

/// Every entry under `dir`: kind, mode, link count and content or target.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&p).expect("meta");
            let what = if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).expect("link"))
            } else if meta.is_dir() {
                todo.push(p.clone());
                "dir".to_string()
            } else {
                format!("file {:?}", std::fs::read(&p).expect("read"))
            };
            let key = p.strip_prefix(dir).expect("prefix").display().to_string();
            out.insert(key, format!("{what} mode {:o} nlink {}", meta.mode(), meta.nlink()));
        }
    }
    out
}

/// A tree and a sentinel beside it in one temp dir.
fn setup() -> (tempfile::TempDir, PathBuf, Sentinel) {
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).expect("tree");
    let sentinel = Sentinel::new(tmp.path());
    (tmp, tree, sentinel)
}

/// The chain from the issue: `z/s -> ..`, `z/u1 -> s/..`, … `z/u{depth}`
/// climbs `depth` levels above the tree, where the sentinel's absolute
/// path then leads to it.
fn plant_chain(tree: &Path, depth: usize, sentinel: &Path) -> String {
    std::fs::create_dir_all(tree.join("z")).expect("z");
    symlink("..", tree.join("z/s")).expect("s");
    for i in 1..=depth {
        let prev = if i == 1 { "s".to_string() } else { format!("u{}", i - 1) };
        symlink(format!("{prev}/.."), tree.join(format!("z/u{i}"))).expect("u");
    }
    // Enough levels up reach `/`; from there the sentinel's absolute path.
    format!("../z/u{depth}{}", sentinel.display())
}

#[test]
fn chains_of_links_of_every_depth_cannot_carry_a_write_out() {
    for depth in 1..=40 {
        let (_tmp, tree, sentinel) = setup();
        let target = plant_chain(&tree, depth, &sentinel.dir.join("secret"));
        std::fs::create_dir(tree.join("etc")).expect("etc");
        symlink(&target, tree.join("etc/victim.txt")).expect("victim");
        let writer = TreeWriter::open(&tree, Existing::Replace).expect("writer");
        writer.write("etc/victim.txt", &mut "rendered\n".as_bytes(), 0o644).expect("write");
        sentinel.assert_untouched(&format!("chain of depth {depth}"));
        let meta = std::fs::symlink_metadata(tree.join("etc/victim.txt")).expect("victim");
        assert!(meta.is_file(), "depth {depth}: the link is replaced by the file");
        assert_eq!(std::fs::read_to_string(tree.join("etc/victim.txt")).expect("read"), "rendered\n");

        // The operator's tree: the link is refused, naming it.
        let (_tmp, tree, sentinel) = setup();
        let target = plant_chain(&tree, depth, &sentinel.dir.join("secret"));
        std::fs::create_dir(tree.join("etc")).expect("etc");
        symlink(&target, tree.join("etc/victim.txt")).expect("victim");
        let writer = TreeWriter::open(&tree, Existing::Refuse).expect("writer");
        let err = writer.write("etc/victim.txt", &mut "x".as_bytes(), 0o644).unwrap_err().to_string();
        assert!(err.contains("etc/victim.txt: is a symlink"), "depth {depth}: {err}");
        sentinel.assert_untouched(&format!("refused chain of depth {depth}"));
    }
}

#[test]
fn the_walk_refuses_a_chain_that_only_escapes_as_a_whole() {
    let (_tmp, tree, sentinel) = setup();
    let target = plant_chain(&tree, 9, &sentinel.dir.join("secret"));
    std::fs::create_dir(tree.join("etc")).expect("etc");
    symlink(&target, tree.join("etc/victim.txt")).expect("victim");
    let dir = cap_std::fs::Dir::open_ambient_dir(&tree, cap_std::ambient_authority()).expect("dir");
    let err = walk(&dir, &WalkOptions::default()).unwrap_err().to_string();
    assert!(err.starts_with("etc/victim.txt: symlink to"), "{err}");
    assert!(err.contains("points outside the tree (through the link z/u1)"), "{err}");
    let listed = walk(&dir, &WalkOptions { list_escaping_symlinks: true, ..WalkOptions::default() }).expect("listed");
    assert!(listed.iter().any(|e| e.path == "z/u9" && e.link.as_deref() == Some("u8/..")));
}

#[test]
fn links_to_links_and_absolute_targets_are_replaced_not_followed() {
    let (_tmp, tree, sentinel) = setup();
    let secret = sentinel.dir.join("secret");
    symlink(&secret, tree.join("abs")).expect("abs");
    symlink("abs", tree.join("l1")).expect("l1");
    symlink("l1", tree.join("l2")).expect("l2");
    symlink("../sentinel/secret", tree.join("rel")).expect("rel");
    let writer = TreeWriter::open(&tree, Existing::Replace).expect("writer");
    for name in ["l2", "l1", "abs", "rel"] {
        writer.write(name, &mut "mine".as_bytes(), 0o600).expect(name);
        sentinel.assert_untouched(name);
    }
    // A hard link written over, symlinked over or removed: the name goes,
    // the other name's file stays.
    std::fs::hard_link(&secret, tree.join("hard")).expect("hard link");
    writer.write("hard", &mut "mine".as_bytes(), 0o777).expect("hard");
    writer.symlink("hard", "elsewhere").expect("symlink over");
    writer.remove("hard").expect("remove");
    // A link made by the writer is stored as text, whatever it says.
    writer.symlink("new", &format!("{}", secret.display())).expect("new");
    assert_eq!(std::fs::read_link(tree.join("new")).expect("new"), secret);
    writer.remove("new").expect("remove link");
    sentinel.assert_untouched("hard link, absolute link");
}

#[test]
fn a_directory_link_in_the_middle_of_a_path_is_replaced_or_refused_never_entered() {
    for existing in [Existing::Replace, Existing::Refuse] {
        let (_tmp, tree, sentinel) = setup();
        symlink(&sentinel.dir, tree.join("abs")).expect("abs");
        symlink("../sentinel", tree.join("rel")).expect("rel");
        std::fs::create_dir(tree.join("d")).expect("d");
        symlink("../../sentinel/sub", tree.join("d/deep")).expect("deep");
        let writer = TreeWriter::open(&tree, existing).expect("writer");
        for dir in ["abs", "rel", "d/deep"] {
            let results = [
                writer.write(&format!("{dir}/secret"), &mut "x".as_bytes(), 0o644).map(|_| ()),
                writer.write(&format!("{dir}/new/file"), &mut "x".as_bytes(), 0o644).map(|_| ()),
                writer.create_dir(&format!("{dir}/made"), 0o755),
                writer.symlink(&format!("{dir}/link"), "x"),
            ];
            for r in &results {
                match (existing, r) {
                    (Existing::Replace, Err(e)) => panic!("{dir}: {e:#}"),
                    (Existing::Refuse, Ok(())) => panic!("{dir}: a write below a link was not refused"),
                    (Existing::Refuse, Err(e)) => {
                        let msg = format!("{e:#}");
                        assert!(msg.contains(&format!("{dir}: is a symlink")), "{msg}");
                    }
                    (Existing::Replace, Ok(())) => {}
                }
            }
            sentinel.assert_untouched(&format!("{existing:?} below {dir}"));
        }
        // Removing below a link removes nothing: that path is not in this tree.
        let (_tmp2, tree2, sentinel2) = setup();
        symlink("../sentinel", tree2.join("lnk")).expect("lnk");
        let writer = TreeWriter::open(&tree2, existing).expect("writer");
        writer.remove("lnk/secret").expect("below a link");
        writer.remove("lnk/sub").expect("below a link");
        assert!(writer.metadata("lnk/secret").expect("meta").is_none());
        sentinel2.assert_untouched("whiteout through a link");
        writer.remove("lnk").expect("the link itself");
        assert!(std::fs::symlink_metadata(tree2.join("lnk")).is_err());
        sentinel2.assert_untouched("removing the link");
    }
}

#[test]
fn paths_that_are_not_plain_are_refused() {
    let (_tmp, tree, sentinel) = setup();
    let writer = TreeWriter::open(&tree, Existing::Replace).expect("writer");
    for path in ["", "/etc/x", "../sentinel/secret", "a/../../sentinel/secret", "a//b", "./a", "a/.", "a\0b"] {
        let err = writer.write(path, &mut "x".as_bytes(), 0o644).unwrap_err().to_string();
        assert!(err.contains("not a plain relative path"), "{path:?}: {err}");
        assert!(writer.remove(path).is_err(), "{path:?}");
        assert!(writer.symlink(path, "x").is_err(), "{path:?}");
    }
    sentinel.assert_untouched("plain paths");
}

#[test]
fn modes_are_exact_whatever_the_umask_and_never_set_id() {
    let (_tmp, tree, _sentinel) = setup();
    let writer = TreeWriter::open(&tree, Existing::Replace).expect("writer");
    writer.write("a/b/setuid", &mut "x".as_bytes(), 0o4755).expect("write");
    writer.write("a/private", &mut "x".as_bytes(), 0o600).expect("write");
    writer.create_dir("a/sticky", 0o1777).expect("dir");
    let mode = |p: &str| std::fs::symlink_metadata(tree.join(p)).expect(p).mode() & 0o7777;
    assert_eq!(mode("a/b/setuid"), 0o755);
    assert_eq!(mode("a/private"), 0o600);
    assert_eq!(mode("a/sticky"), 0o777);
    assert_eq!(mode("a"), IMPLICIT_DIR_MODE);
    assert_eq!(mode("a/b"), IMPLICIT_DIR_MODE);
}

#[test]
fn a_file_swapped_for_a_link_while_the_writer_works_never_lets_a_write_out() {
    // One thread swaps `d` between a real directory and a link to the
    // sentinel as fast as it can; the other writes below `d`. Whatever
    // the interleaving, nothing lands in the sentinel.
    let (_tmp, tree, sentinel) = setup();
    std::fs::create_dir(tree.join("d")).expect("d");
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let swapper = scope.spawn(|| {
            let d = tree.join("d");
            let mut swaps = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && swaps < 200_000 {
                let _ = std::fs::remove_dir_all(&d).or_else(|_| std::fs::remove_file(&d));
                let _ = symlink("../sentinel", &d);
                let _ = std::fs::remove_file(&d);
                let _ = std::fs::create_dir(&d);
                swaps += 1;
            }
        });
        let writer = TreeWriter::open(&tree, Existing::Replace).expect("writer");
        for i in 0..3000 {
            let _ = writer.write("d/secret", &mut format!("{i}").as_bytes(), 0o644);
            let _ = writer.write("d/sub/config", &mut "x".as_bytes(), 0o644);
            let _ = writer.remove("d/sub");
            let _ = writer.symlink("d/secret", "y");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().expect("swapper");
    });
    sentinel.assert_untouched("racing swaps");
}

mod property {
    //! Random trees of directories, files and links (in-tree, chained,
    //! absolute, relative out), random operations through the writer:
    //! the sentinel beside the tree never changes and nothing panics.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Plant {
        Dir(String),
        File(String),
        Link(String, String),
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(String, u32),
        CreateDir(String),
        Symlink(String, String),
        HardLink(String, String),
        Remove(String),
        RenameIn(String),
        Metadata(String),
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "..", "."]), 1..4).prop_map(|p| p.join("/"))
    }

    fn target() -> impl Strategy<Value = String> {
        prop_oneof![
            path(),
            Just("..".to_string()),
            Just("../..".to_string()),
            Just("../sentinel".to_string()),
            Just("../sentinel/secret".to_string()),
            Just("../../sentinel/sub".to_string()),
            Just("__ABS__".to_string()),
            Just("__ABS__/secret".to_string()),
            (path(), path()).prop_map(|(a, b)| format!("{a}/../{b}")),
        ]
    }

    fn plant() -> impl Strategy<Value = Plant> {
        prop_oneof![
            path().prop_map(Plant::Dir),
            path().prop_map(Plant::File),
            (path(), target()).prop_map(|(p, t)| Plant::Link(p, t)),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (path(), prop::sample::select(vec![0o644u32, 0o4755, 0o7777, 0o000])).prop_map(|(p, m)| Op::Write(p, m)),
            path().prop_map(Op::CreateDir),
            (path(), target()).prop_map(|(p, t)| Op::Symlink(p, t)),
            (path(), path()).prop_map(|(p, e)| Op::HardLink(p, e)),
            path().prop_map(Op::Remove),
            path().prop_map(Op::RenameIn),
            path().prop_map(Op::Metadata),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn random_operations_on_random_hostile_trees_stay_inside(
            plants in prop::collection::vec(plant(), 0..12),
            ops in prop::collection::vec(op(), 1..16),
            refuse in any::<bool>(),
        ) {
            let (tmp, tree, sentinel) = setup();
            let abs = sentinel.dir.display().to_string();
            let fix = |t: &str| t.replace("__ABS__", &abs);
            // Planted with std (following links, as an attacker's own
            // tools would); failures just leave a smaller tree.
            for p in &plants {
                let at = tree.join(match p { Plant::Dir(p) | Plant::File(p) | Plant::Link(p, _) => p });
                if !at.starts_with(&tree) || at.components().any(|c| c == std::path::Component::ParentDir) {
                    continue;
                }
                let _ = match p {
                    Plant::Dir(_) => std::fs::create_dir_all(&at),
                    Plant::File(_) => std::fs::write(&at, "planted"),
                    Plant::Link(_, t) => symlink(fix(t), &at),
                };
            }
            // Planting may itself have written through a link into the
            // sentinel; start the check from what is there now.
            let sentinel = Sentinel { before: snapshot(&sentinel.dir), dir: sentinel.dir };
            let staging = tmp.path().join("staging");
            std::fs::create_dir(&staging).expect("staging");
            let staging_dir = cap_std::fs::Dir::open_ambient_dir(&staging, cap_std::ambient_authority()).expect("dir");
            let existing = if refuse { Existing::Refuse } else { Existing::Replace };
            let writer = TreeWriter::open(&tree, existing).expect("writer");
            for op in &ops {
                let _ = match op {
                    Op::Write(p, mode) => writer.write(p, &mut "written".as_bytes(), *mode).map(|_| ()),
                    Op::CreateDir(p) => writer.create_dir(p, 0o755),
                    Op::Symlink(p, t) => writer.symlink(p, &fix(t)),
                    Op::HardLink(p, e) => writer.hard_link(p, e),
                    Op::Remove(p) => writer.remove(p),
                    Op::RenameIn(p) => {
                        std::fs::write(staging.join("f"), "moved").expect("staged");
                        writer.rename_from(&staging_dir, "f", p)
                    }
                    Op::Metadata(p) => writer.metadata(p).map(|_| ()),
                };
            }
            prop_assert_eq!(snapshot(&sentinel.dir), sentinel.before);
        }
    }
}

#[test]
fn a_sparse_file_is_copied_as_what_it_holds_not_what_it_claims() {
    use std::os::unix::fs::FileExt;
    let (tmp, tree, _sentinel) = setup();
    let claimed = 4u64 << 30;
    let source = tmp.path().join("sparse");
    let file = std::fs::File::create(&source).expect("sparse");
    file.set_len(claimed).expect("set_len");
    file.write_all_at(b"data in the middle", 1 << 30).expect("write");
    let from = std::fs::File::open(&source).expect("open");
    let writer = TreeWriter::open(&tree, Existing::Replace).expect("writer");
    let (to, copied) = writer.copy_file("big", &from, claimed, 0o644).expect("copy");
    drop(to);
    assert_eq!(copied, claimed);
    let meta = std::fs::metadata(tree.join("big")).expect("big");
    assert_eq!(meta.len(), claimed);
    assert!(meta.blocks() * 512 < 16 << 20, "the copy holds {} bytes on disk", meta.blocks() * 512);
    let mut buf = [0u8; 18];
    std::fs::File::open(tree.join("big")).expect("big").read_exact_at(&mut buf, 1 << 30).expect("read");
    assert_eq!(&buf, b"data in the middle");
    // A listing that says less than the file holds copies only that much.
    let (_, copied) = writer.copy_file("short", &from, 10, 0o644).expect("copy");
    assert_eq!((copied, std::fs::metadata(tree.join("short")).expect("short").len()), (10, 10));
}
