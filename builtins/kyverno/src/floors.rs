//! Conformance floors: the scores a conformance run must reach, kept in
//! `conformance/floors.txt` (one `key value` per line) so the tests, the
//! scoreboard example and `scripts/conformance.sh` judge against one list.
//!
//! A key ending in `.pass` is a floor (the score may not fall below it);
//! a key ending in `-max` is a ceiling (the score may not rise above it).

use std::collections::BTreeMap;

use crate::testfile::{FeatureClass, TestFileReport, scoreboard, summarize};

/// Parsed floors: key to bound.
pub type Floors = BTreeMap<String, u64>;

/// Parses floors text; a line that is not `key number` is an error naming
/// its line, so a typo cannot silently drop a floor.
pub fn parse(text: &str) -> Result<Floors, String> {
    let mut floors = Floors::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("floors line {}: expected `key value`, got {line:?}", i + 1));
        };
        let value = value
            .parse::<u64>()
            .map_err(|_| format!("floors line {}: {value:?} is not a non-negative whole number", i + 1))?;
        if floors.insert(key.to_string(), value).is_some() {
            return Err(format!("floors line {}: {key} given twice", i + 1));
        }
    }
    Ok(floors)
}

/// The scoreboard key of a feature class.
pub fn class_key(class: FeatureClass) -> &'static str {
    match class {
        FeatureClass::Pattern => "pattern",
        FeatureClass::Deny => "deny",
        FeatureClass::Foreach => "foreach",
        FeatureClass::Cel => "cel",
        FeatureClass::Mutate => "mutate",
        FeatureClass::ExternalContext => "external-context",
        FeatureClass::Other => "other",
    }
}

/// Every score of one Kyverno set (`policies`, `cli-tests`) as `key value`:
/// per class a pass floor and fail, excluded and unsupported ceilings, the
/// totals, and the count of test files that failed to load.
pub fn kyverno_scores(set: &str, reports: &[TestFileReport]) -> Vec<(String, u64)> {
    let mut scores = Vec::new();
    for (class, [p, f, e, u]) in scoreboard(reports) {
        let k = class_key(class);
        scores.push((format!("kyverno.{set}.{k}.pass"), p as u64));
        scores.push((format!("kyverno.{set}.{k}.fail-max"), f as u64));
        scores.push((format!("kyverno.{set}.{k}.excluded-max"), e as u64));
        scores.push((format!("kyverno.{set}.{k}.unsupported-max"), u as u64));
    }
    let s = summarize(reports);
    scores.push((format!("kyverno.{set}.pass"), s.pass as u64));
    scores.push((format!("kyverno.{set}.fail-max"), s.fail as u64));
    scores.push((format!("kyverno.{set}.excluded-max"), s.excluded as u64));
    scores.push((format!("kyverno.{set}.unsupported-max"), s.unsupported as u64));
    scores.push((format!("kyverno.{set}.load-errors-max"), s.errors as u64));
    scores
}

/// What is wrong with `scores` against `floors`, limited to keys starting
/// with `prefix`: a score below its floor or above its ceiling, a score
/// with no floor (every row must be guarded), and a floor with no score
/// (a class that vanished is a change to look at, not a pass).
pub fn violations(floors: &Floors, prefix: &str, scores: &[(String, u64)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (key, value) in scores {
        match floors.get(key) {
            None => bad.push(format!("{key} = {value} has no floor in conformance/floors.txt")),
            Some(bound) if key.ends_with("-max") && value > bound => {
                bad.push(format!("{key} = {value} > ceiling {bound}"))
            }
            Some(bound) if !key.ends_with("-max") && value < bound => {
                bad.push(format!("{key} = {value} < floor {bound}"))
            }
            Some(_) => {}
        }
    }
    for key in floors.keys().filter(|k| k.starts_with(prefix)) {
        if !scores.iter().any(|(k, _)| k == key) {
            bad.push(format!("{key} has a floor but no score was produced"));
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_keys_and_refuses_non_numbers() {
        let f = parse("# c\n\na.pass 3\nb.fail-max 0\n").unwrap();
        assert_eq!(f.get("a.pass"), Some(&3));
        assert_eq!(f.get("b.fail-max"), Some(&0));
        assert_eq!(parse("a.pass three\n").unwrap_err(), "floors line 1: \"three\" is not a non-negative whole number");
        assert!(parse("a.pass -1\n").is_err());
        assert!(parse("a.pass\n").is_err());
        assert!(parse("a.pass 1 2\n").is_err());
        assert!(parse("a.pass 1\na.pass 2\n").unwrap_err().contains("given twice"));
    }

    #[test]
    fn violations_check_floors_ceilings_and_missing_keys() {
        let f = parse("k.x.pass 5\nk.x.fail-max 1\nk.gone.pass 1\n").unwrap();
        let ok = vec![("k.x.pass".to_string(), 5), ("k.x.fail-max".to_string(), 1)];
        assert_eq!(violations(&f, "k.x.", &ok), Vec::<String>::new());
        let bad = vec![("k.x.pass".to_string(), 4), ("k.x.fail-max".to_string(), 2), ("k.x.new.pass".to_string(), 1)];
        assert_eq!(
            violations(&f, "k.", &bad),
            [
                "k.x.pass = 4 < floor 5",
                "k.x.fail-max = 2 > ceiling 1",
                "k.x.new.pass = 1 has no floor in conformance/floors.txt",
                "k.gone.pass has a floor but no score was produced",
            ]
        );
    }
}
