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

/// Whether `version` satisfies `constraint`.
pub fn semver_compare(constraint: &str, version: &str) -> Result<bool, String> {
    let (v, _) = parse_version(version).ok_or_else(|| format!("invalid semantic version {version:?}"))?;
    for alternative in constraint.split("||") {
        let mut all = true;
        for part in alternative.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
            if !check_one(part, &v)? {
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
        ];
        for (c, v, want) in cases {
            assert_eq!(semver_compare(c, v), Ok(want), "{c} vs {v}");
        }
        assert!(semver_compare(">=a.b", "1.0.0").is_err());
    }
}
