//! Judging where a symlink leads, as the kernel would.
//!
//! Counting `..` in the text of one link is not enough: `z/s -> ..`,
//! `z/u1 -> s/..`, `z/u2 -> u1/..` each look harmless alone, yet `z/u2`
//! climbs two levels above the tree. [`resolve_link`] follows every link it
//! meets on the way, through the tree's other links, the way path
//! resolution does, and says whether the walk ever leaves the tree.

use std::collections::{HashMap, VecDeque};

/// How many links one resolution may follow; Linux gives up (`ELOOP`) past
/// the same number.
pub const MAX_LINK_HOPS: usize = 40;

/// Where a symlink leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkVerdict {
    /// Every step of the resolution stays in the tree (it may end at a name
    /// that does not exist: that is still inside).
    Inside,
    /// The resolution leaves the tree; `via` is the link whose text holds
    /// the `..` that took it out (the link itself, or one on the way).
    Outside { via: String },
    /// An absolute target: it means the host's root to any tool that
    /// follows it outside a chroot.
    Absolute { via: String },
    /// More than [`MAX_LINK_HOPS`] links, as the kernel's `ELOOP`.
    Loop,
}

impl LinkVerdict {
    /// Whether the link stays inside the tree.
    pub fn is_inside(&self) -> bool {
        matches!(self, LinkVerdict::Inside)
    }
}

/// Resolves the symlink at `link_path` (a relative path in the tree) with
/// `target`, following the tree's other symlinks (`links`: path to target)
/// wherever the walk meets them. Names that are not links are taken as
/// directories: a walk that would fail on a file fails in the kernel too,
/// so it cannot escape there.
pub fn resolve_link(links: &HashMap<&str, &str>, link_path: &str, target: &str) -> LinkVerdict {
    let mut at: Vec<&str> = link_path.split('/').filter(|c| !c.is_empty()).collect();
    at.pop();
    // Each component to resolve, with the link whose text it comes from.
    let mut pending: VecDeque<(&str, &str)> = VecDeque::new();
    if let Some(verdict) = enqueue(target, link_path, &mut pending) {
        return verdict;
    }
    let mut hops = 1;
    let mut joined = String::new();
    while let Some((c, from)) = pending.pop_front() {
        match c {
            "" | "." => {}
            ".." => {
                if at.pop().is_none() {
                    return LinkVerdict::Outside { via: from.to_string() };
                }
            }
            name => {
                at.push(name);
                joined.clear();
                for (i, part) in at.iter().enumerate() {
                    if i > 0 {
                        joined.push('/');
                    }
                    joined.push_str(part);
                }
                if let Some((path, next)) = links.get_key_value(joined.as_str()) {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return LinkVerdict::Loop;
                    }
                    at.pop();
                    if let Some(verdict) = enqueue(next, path, &mut pending) {
                        return verdict;
                    }
                }
            }
        }
    }
    LinkVerdict::Inside
}

/// Puts the components of `target` (the text of the link at `via`) in
/// front of what is left to resolve; an absolute target is a verdict of
/// its own.
fn enqueue<'a>(target: &'a str, via: &'a str, pending: &mut VecDeque<(&'a str, &'a str)>) -> Option<LinkVerdict> {
    if target.is_empty() {
        // The kernel refuses an empty target (ENOENT); nothing is reached.
        return Some(LinkVerdict::Inside);
    }
    if target.starts_with('/') {
        return Some(LinkVerdict::Absolute { via: via.to_string() });
    }
    for c in target.rsplit('/') {
        pending.push_front((c, via));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(links: &[(&str, &str)], path: &str) -> LinkVerdict {
        let map: HashMap<&str, &str> = links.iter().copied().collect();
        resolve_link(&map, path, map[path])
    }

    #[test]
    fn single_links_are_judged_by_their_own_text() {
        for (path, target, inside) in [
            ("a/link", "b", true),
            ("a/link", "../c", true),
            ("a/link", "../../c", false),
            ("a/link", "b/../../../x", false),
            ("a/b/link", "../../x", true),
            ("a/link", "./././b", true),
            ("link", "..", false),
        ] {
            assert_eq!(verdict(&[(path, target)], path).is_inside(), inside, "{path} -> {target}");
        }
        assert_eq!(verdict(&[("l", "/etc/passwd")], "l"), LinkVerdict::Absolute { via: "l".into() });
    }

    #[test]
    fn a_chain_of_harmless_looking_links_is_followed_out() {
        // The attack from the issue: each link alone stays inside.
        let mut links: Vec<(String, String)> = vec![("z/s".into(), "..".into()), ("z/u1".into(), "s/..".into())];
        for i in 2..=9 {
            links.push((format!("z/u{i}"), format!("u{}/..", i - 1)));
        }
        links.push(("etc/victim.txt".into(), "../z/u9/proc/self/cwd/.git/config".into()));
        let refs: Vec<(&str, &str)> = links.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert!(verdict(&refs, "z/s").is_inside());
        assert_eq!(verdict(&refs, "z/u1"), LinkVerdict::Outside { via: "z/u1".into() });
        assert_eq!(verdict(&refs, "etc/victim.txt"), LinkVerdict::Outside { via: "z/u1".into() });
    }

    #[test]
    fn chains_of_every_depth_up_to_the_kernels_limit() {
        for depth in 1..=45usize {
            // l0 -> l1 -> ... -> l{depth-1} -> "x" (inside), or ".." at the end (outside).
            for escape in [false, true] {
                let mut links: Vec<(String, String)> =
                    (0..depth - 1).map(|i| (format!("d/l{i}"), format!("l{}", i + 1))).collect();
                links.push((format!("d/l{}", depth - 1), if escape { "../..".into() } else { "x".into() }));
                let refs: Vec<(&str, &str)> = links.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                let got = verdict(&refs, "d/l0");
                let want = match (depth > MAX_LINK_HOPS, escape) {
                    (true, _) => LinkVerdict::Loop,
                    (false, true) => LinkVerdict::Outside { via: format!("d/l{}", depth - 1) },
                    (false, false) => LinkVerdict::Inside,
                };
                assert_eq!(got, want, "depth {depth}, escape {escape}");
            }
        }
    }

    #[test]
    fn a_directory_link_in_the_middle_of_a_target_is_followed() {
        // `deep` is a link to a directory one level up; `deep/..` is then
        // the tree's parent, not `a`.
        let links = [("a/deep", ".."), ("a/out", "deep/../x")];
        assert_eq!(verdict(&links, "a/out"), LinkVerdict::Outside { via: "a/out".into() });
        let links = [("a/b/up", ".."), ("a/l", "b/up/c")];
        assert!(verdict(&links, "a/l").is_inside());
        // `..` after a normal name that is a link to an absolute path.
        let links = [("a/abs", "/"), ("a/l", "abs/../etc")];
        assert_eq!(verdict(&links, "a/l"), LinkVerdict::Absolute { via: "a/abs".into() });
    }

    #[test]
    fn loops_are_refused_not_followed_forever() {
        assert_eq!(verdict(&[("a", "b"), ("b", "a")], "a"), LinkVerdict::Loop);
        assert_eq!(verdict(&[("a", "a/x")], "a"), LinkVerdict::Loop);
    }
}
