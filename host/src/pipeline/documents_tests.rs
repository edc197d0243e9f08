//! The documents view is made by the builtin in the sandbox, kept in the
//! step cache by tree digest, and made again when its blob is damaged.

use super::*;
use crate::pipeline::outputs::list_rootfs;
use crate::sandbox::Sandbox;

fn view_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(VIEW_FILE)).expect("the view file")
}

#[test]
fn a_view_is_made_once_per_tree_digest_and_checked_when_taken_from_the_cache() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (tree, work) = (tmp.path().join("tree"), tmp.path().join("work"));
    std::fs::create_dir_all(tree.join("m")).expect("tree");
    std::fs::create_dir_all(&work).expect("work");
    std::fs::write(tree.join("m/pod.yaml"), "kind: Pod\nspec:\n  privileged: yes\n").expect("write");
    std::fs::write(tree.join("m/bad.yaml"), "a: 1\na: 2\n").expect("write");
    std::fs::write(tree.join("notes.txt"), "privileged: yes\n").expect("write");
    let store = Store::open(&tmp.path().join("store")).expect("store");
    let cache = StepCache::new(&tmp.path().join("store"), true);
    let steps = ModuleRunner::new(Sandbox::new(None).expect("sandbox"), Default::default());
    let maker = ViewMaker { steps: &steps, cache: Some(&cache), store: &store, work: &work };
    let files = list_rootfs(&tree).expect("listing");

    let first = view_text(&maker.view(&tree, &files, Some("digest-1")).expect("view"));
    let records: Vec<serde_json::Value> = first.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(records.len(), 2, "{first}");
    assert_eq!(records[0]["file"], "m/bad.yaml");
    assert_eq!(records[0]["error"]["line"], 2, "a parse error is a record, not a failed step");
    assert_eq!(records[1]["value"]["spec"]["privileged"], true, "YAML 1.1, as Kubernetes reads it");
    let entries = cache.touched_entries();
    assert_eq!(entries.len(), 1, "one cache entry");
    let entry = entries.values().next().expect("entry");
    assert_eq!(entry["mediaType"], MEDIA_TYPE);

    // Same digest: from the cache, whatever the tree holds now.
    std::fs::write(tree.join("m/pod.yaml"), "kind: Pod\nspec:\n  privileged: no\n").expect("write");
    assert_eq!(view_text(&maker.view(&tree, &files, Some("digest-1")).expect("cached view")), first);
    // A damaged blob is not used: the view is made again.
    let blob = store.layout().blob_path(&Digest::parse(entry["digest"].as_str().expect("digest")).expect("digest"));
    std::fs::remove_file(&blob).expect("blob");
    std::fs::write(&blob, first.replace("true", "fals")).expect("damage");
    let again = view_text(&maker.view(&tree, &files, Some("digest-1")).expect("view made again"));
    assert!(again.contains("\"privileged\":false"), "{again}");
    // Another digest, another view.
    let other = view_text(&maker.view(&tree, &files, Some("digest-2")).expect("view"));
    assert!(other.contains("\"privileged\":false"));
}
