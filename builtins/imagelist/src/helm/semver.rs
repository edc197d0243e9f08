//! `semverCompare`: Masterminds/semver constraints as charts write them
//! (`>=1.19-0`, `^1.2`, `~1.2.3`, `1.x`, `>1, <2 || 3`), checked against a
//! version.

use std::cmp::Ordering;

/// A version: numbers and prerelease identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    nums: [u64; 3],
    pre: Vec<String>,
}

fn parse_version(s: &str) -> Option<(Version, usize)> {
    let s = s.trim().trim_start_matches(['v', 'V']);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, p.split('+').next().unwrap_or(p)),
        None => (s.split('+').next().unwrap_or(s), ""),
    };
    let mut nums = [0u64; 3];
    let mut given = 0;
    for (i, part) in core.split('.').enumerate() {
        if i >= 3 {
            return None;
        }
        if matches!(part, "x" | "X" | "*") {
            break;
        }
        nums[i] = part.parse().ok()?;
        given = i + 1;
    }
    let pre = if pre.is_empty() { Vec::new() } else { pre.split('.').map(str::to_string).collect() };
    Some((Version { nums, pre }, given))
}

fn cmp_pre(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (x, y) in a.iter().zip(b) {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(i), Ok(j)) => i.cmp(&j),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    _ => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.len().cmp(&b.len())
        }
    }
}

fn cmp(a: &Version, b: &Version) -> Ordering {
    a.nums.cmp(&b.nums).then_with(|| cmp_pre(&a.pre, &b.pre))
}

fn bump(v: &Version, at: usize) -> Version {
    let mut nums = v.nums;
    nums[at] += 1;
    for n in nums.iter_mut().skip(at + 1) {
        *n = 0;
    }
    Version { nums, pre: vec!["0".into()] }
}

fn check_one(constraint: &str, v: &Version) -> Result<bool, String> {
    let c = constraint.trim();
    let ops = [">=", "<=", "!=", "=>", "=<", ">", "<", "=", "~>", "~", "^"];
    let op = ops.iter().find(|o| c.starts_with(**o)).copied().unwrap_or("");
    let (want, given) = parse_version(&c[op.len()..]).ok_or_else(|| format!("improper constraint: {constraint}"))?;
    // Masterminds: a version with a prerelease only matches constraints that
    // name a prerelease themselves.
    if !v.pre.is_empty() && want.pre.is_empty() {
        return Ok(false);
    }
    let o = cmp(v, &want);
    Ok(match op {
        ">=" | "=>" => o != Ordering::Less,
        "<=" | "=<" => o != Ordering::Greater || (given < 3 && v.nums[..given] == want.nums[..given]),
        ">" => o == Ordering::Greater && !(given < 3 && v.nums[..given] == want.nums[..given]),
        "<" => o == Ordering::Less,
        "!=" => o != Ordering::Equal,
        "~" | "~>" => o != Ordering::Less && cmp(v, &bump(&want, if given <= 1 { 0 } else { 1 })) == Ordering::Less,
        "^" => {
            let at = if want.nums[0] > 0 || given <= 1 {
                0
            } else if want.nums[1] > 0 || given == 2 {
                1
            } else {
                2
            };
            o != Ordering::Less && cmp(v, &bump(&want, at)) == Ordering::Less
        }
        _ if given < 3 => v.nums[..given] == want.nums[..given],
        _ => o == Ordering::Equal,
    })
}

/// The single constraints of one `||` alternative: an operator, optional
/// spaces, then a version, as Masterminds/semver v3 reads them
/// (`>= 1.22-0`, `>1.2 <2`, `>=1, <2`).
fn split_constraints(alternative: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in alternative.split(',') {
        let mut rest = part.trim();
        while !rest.is_empty() {
            let op_len = rest.find(|c: char| !matches!(c, '=' | '<' | '>' | '!' | '~' | '^')).unwrap_or(rest.len());
            let (op, after) = rest.split_at(op_len);
            let after = after.trim_start();
            let version_len = after.find(char::is_whitespace).unwrap_or(after.len());
            out.push(format!("{op}{}", &after[..version_len]));
            rest = after[version_len..].trim_start();
        }
    }
    out
}

/// Whether `version` satisfies `constraint`.
pub fn semver_compare(constraint: &str, version: &str) -> Result<bool, String> {
    let (v, _) = parse_version(version).ok_or_else(|| format!("invalid semantic version {version:?}"))?;
    for alternative in constraint.split("||") {
        let mut all = true;
        for part in split_constraints(alternative) {
            if !check_one(&part, &v)? {
                all = false;
                break;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// sprig's `semver`: the parts of a version as a map with the field names
/// of Masterminds' `Version` (`Major`, `Minor`, `Patch`, `Prerelease`,
/// `Metadata`, `Original`), or an error for what is not a version.
pub fn semver_parts(version: &str) -> Result<sealbox_render::engine::Value, String> {
    use sealbox_render::engine::Value;
    let err = || format!("Invalid Semantic Version: {version:?}");
    let (v, given) = parse_version(version).ok_or_else(err)?;
    if given == 0 {
        return Err(err());
    }
    let metadata = version.split_once('+').map(|(_, m)| m.to_string()).unwrap_or_default();
    let num = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    Ok(Value::map(std::collections::BTreeMap::from([
        ("Major".to_string(), num(v.nums[0])),
        ("Minor".to_string(), num(v.nums[1])),
        ("Patch".to_string(), num(v.nums[2])),
        ("Prerelease".to_string(), Value::String(v.pre.join("."))),
        ("Metadata".to_string(), Value::String(metadata)),
        ("Original".to_string(), Value::String(version.to_string())),
    ])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_charts_use() {
        let cases = [
            (">=1.19-0", "v1.30.0", true),
            (">=1.19-0", "v1.18.3", false),
            ("<1.19-0", "v1.30.0", false),
            (">=1.4-0, <1.19-0", "v1.16.0", true),
            ("^1.2.0", "1.9.9", true),
            ("^1.2.0", "2.0.0", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("1.x", "1.30.0", true),
            ("<1.20 || >=1.30", "v1.30.0", true),
            (">1.29", "v1.29.5", false),
            ("=1.30.0", "v1.30.0", true),
            // Spaces between operator and version, as charts write them (issue #13).
            (">= 1.22-0", "v1.30.0", true),
            ("> 1.20.0-0", "1.30.0", true),
            (">= 1.27.x", "1.30.0", true),
            (">= 1.27.x", "1.26.9", false),
            (">= v1.20", "1.30.0", true),
            ("=> 1.0", "1.30.0", true),
            (">= 1.2 < 2", "1.5.0", true),
            (">= 1.2 < 2", "2.5.0", false),
        ];
        for (c, v, want) in cases {
            assert_eq!(semver_compare(c, v), Ok(want), "{c} vs {v}");
        }
        assert!(semver_compare(">=a.b", "1.0.0").is_err());
    }

    #[test]
    fn semver_gives_the_parts() {
        let v = semver_parts("v1.2.3-rc.1+build").expect("valid");
        let sealbox_render::engine::Value::Map(m) = v else { panic!("a map") };
        assert_eq!(m.get("Major"), Some(&sealbox_render::engine::Value::Int(1)));
        assert_eq!(m.get("Patch"), Some(&sealbox_render::engine::Value::Int(3)));
        assert_eq!(m.get("Prerelease").and_then(|v| v.as_str()), Some("rc.1"));
        assert_eq!(m.get("Metadata").and_then(|v| v.as_str()), Some("build"));
        assert!(semver_parts("nope").is_err());
    }
}
