//! The functions Helm adds to Go templates, and the sprig functions charts
//! use that the render engine does not already have.
//!
//! Everything here is deterministic: functions that are random or read the
//! clock in sprig (`randAlphaNum`, `uuidv4`, `now`, certificate generation)
//! return fixed values, which cannot change which images a chart uses.
//! Functions that mutate a map in Go (`set`, `unset`, `merge`) return the
//! changed map instead, since template values are immutable here; charts that
//! rely on the mutation through another variable see the unchanged map.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use sealbox_render::engine::{Func, FuncCtx, Templates, Value, to_yaml};
use sha2::Digest;

use super::files::{as_config, as_secrets, glob};
use super::semver::semver_compare;
use super::values::{coalesce, parse_values};

/// How deeply `tpl` calls may nest.
pub const MAX_TPL_DEPTH: usize = 4;

const TPL_TOO_DEEP: &str = "tpl calls nested too deeply";

/// The largest string `repeat` builds.
const MAX_REPEAT_BYTES: usize = 16 << 20;

/// The template set `tpl` parses into; filled once every chart template is
/// parsed.
pub type TplSet = Rc<RefCell<Option<Templates>>>;

/// Adds functions to a template set, remembering them so that aliases can
/// share them.
struct Registry<'t> {
    set: &'t mut Templates,
    funcs: HashMap<&'static str, Func>,
}

impl Registry<'_> {
    fn add_func(&mut self, name: &'static str, func: Func) {
        self.funcs.insert(name, func.clone());
        self.set.add_func(name, func);
    }

    fn add_fn(&mut self, name: &'static str, f: impl Fn(&[Value]) -> Result<Value, String> + 'static) {
        self.add_func(name, Rc::new(move |_ctx: &mut FuncCtx<'_, '_>, args: &[Value]| f(args)));
    }

    fn alias(&mut self, alias: &'static str, name: &str) {
        if let Some(func) = self.funcs.get(name).cloned() {
            self.add_func(alias, func);
        }
    }
}

/// Adds the Helm and extra sprig functions to `set`.
pub fn register(set: &mut Templates, tpl_set: TplSet) {
    let set = &mut Registry { set, funcs: HashMap::new() };
    set.add_func(
        "include",
        Rc::new(|ctx: &mut FuncCtx<'_, '_>, args: &[Value]| {
            let name = str_arg(args, 0, "include")?;
            let data = args.get(1).cloned().unwrap_or_default();
            ctx.execute_template(name, &data).map(Value::String)
        }),
    );
    // Each `tpl` runs a fresh execution with its own limits, so nesting is
    // bounded here: a value that `tpl`s itself must not recurse forever.
    let depth = Rc::new(std::cell::Cell::new(0usize));
    set.add_fn("tpl", move |args| {
        let text = str_arg(args, 0, "tpl")?;
        let data = args.get(1).cloned().unwrap_or_default();
        if depth.get() >= MAX_TPL_DEPTH {
            return Err(format!("{TPL_TOO_DEEP} ({MAX_TPL_DEPTH})"));
        }
        // Text without actions is itself; this also keeps an empty text from
        // leaving the calling template in place and running it again.
        if !text.contains("{{") {
            return Ok(Value::String(text.to_string()));
        }
        let mut set = tpl_set.borrow().clone().ok_or("tpl called before the chart was loaded")?;
        let name = template_name(&data).unwrap_or_else(|| "tpl".to_string());
        set.remove(&name);
        set.parse(&name, text).map_err(|e| e.to_string())?;
        // Only comments and definitions: nothing to print.
        if !set.has_template(&name) {
            return Ok(Value::String(String::new()));
        }
        let mut opts = super::render::options();
        opts.limits.max_depth = super::render::MAX_TPL_TEMPLATE_DEPTH;
        depth.set(depth.get() + 1);
        let out = set.execute(&name, &data, &opts);
        depth.set(depth.get() - 1);
        match out {
            Ok(text) => Ok(Value::String(text.replace("<no value>", ""))),
            // Only the innermost cause of a runaway tpl chain is worth reading.
            Err(e) if e.message.contains(TPL_TOO_DEEP) => Err(e.message.clone()),
            Err(e) => Err(e.to_string()),
        }
    });
    set.add_fn("lookup", |_| Ok(Value::map(BTreeMap::new())));
    set.add_fn("fail", |args| Err(str_arg(args, 0, "fail").unwrap_or("fail").to_string()));
    set.add_fn("fromYaml", |args| {
        Ok(match parse_values(str_arg(args, 0, "fromYaml")?) {
            Ok(v @ Value::Map(_)) => v,
            Ok(_) => Value::map(BTreeMap::new()),
            Err(e) => error_map(e.to_string()),
        })
    });
    set.add_fn("fromYamlArray", |args| {
        Ok(match parse_values(str_arg(args, 0, "fromYamlArray")?) {
            Ok(v @ Value::List(_)) => v,
            Ok(_) => Value::list(Vec::new()),
            Err(e) => Value::list(vec![Value::String(e.to_string())]),
        })
    });
    set.add_fn("fromJson", |args| {
        Ok(match serde_json::from_str::<serde_json::Value>(str_arg(args, 0, "fromJson")?) {
            Ok(v) => Value::from(&v),
            Err(e) => error_map(e.to_string()),
        })
    });
    set.add_fn("toPrettyJson", |args| {
        let v = one(args, "toPrettyJson")?.to_json();
        serde_json::to_string_pretty(&v).map(Value::String).map_err(|e| e.to_string())
    });
    set.add_fn("toRawJson", |args| Ok(Value::String(one(args, "toRawJson")?.to_json().to_string())));
    set.add_fn("mustToJson", |args| Ok(Value::String(one(args, "mustToJson")?.to_json().to_string())));
    set.add_fn("mustToYaml", |args| Ok(Value::String(to_yaml(one(args, "mustToYaml")?).trim_end().to_string())));
    set.add_fn("semverCompare", |args| {
        let constraint = str_arg(args, 0, "semverCompare")?;
        let version = str_arg(args, 1, "semverCompare")?;
        semver_compare(constraint, version).map(Value::Bool)
    });
    set.add_fn("sha256sum", |args| {
        Ok(Value::String(hex(&sha2::Sha256::digest(str_arg(args, 0, "sha256sum")?.as_bytes()))))
    });
    set.add_fn("sha1sum", |args| {
        use sha1::Digest as _;
        Ok(Value::String(hex(&sha1::Sha1::digest(str_arg(args, 0, "sha1sum")?.as_bytes()))))
    });
    set.add_fn("adler32sum", |args| Ok(Value::String(adler32(str_arg(args, 0, "adler32sum")?.as_bytes()).to_string())));
    set.add_fn("fromJsonArray", |args| {
        Ok(match serde_json::from_str::<serde_json::Value>(str_arg(args, 0, "fromJsonArray")?) {
            Ok(v @ serde_json::Value::Array(_)) => Value::from(&v),
            Ok(_) => Value::list(Vec::new()),
            Err(e) => Value::list(vec![Value::String(e.to_string())]),
        })
    });
    set.add_fn("mustFromJson", |args| {
        serde_json::from_str::<serde_json::Value>(str_arg(args, 0, "mustFromJson")?)
            .map(|v| Value::from(&v))
            .map_err(|e| e.to_string())
    });
    set.add_fn("deepEqual", |args| Ok(Value::Bool(args.first() == args.get(1))));
    set.add_fn("getHostByName", |_| Ok(Value::String(String::new())));
    add_map_functions(set);
    add_list_functions(set);
    add_string_functions(set);
    add_number_functions(set);
    add_placeholder_functions(set);
    add_files_functions(set);
    super::more_funcs::register(set.set, &mut |t: &mut Templates, alias, name| {
        if let Some(func) = t.func(name) {
            t.add_func(alias, func);
        }
    });
    // sprig's must* variants differ only in how they fail, and these fail loudly already.
    for (alias, name) in [
        ("mustFirst", "first"),
        ("mustLast", "last"),
        ("mustRest", "rest"),
        ("mustInitial", "initial"),
        ("mustPrepend", "prepend"),
        ("mustUniq", "uniq"),
        ("mustWithout", "without"),
        ("mustHas", "has"),
        ("mustCompact", "compact"),
        ("mustReverse", "reverse"),
        ("mustChunk", "chunk"),
        ("mustRegexMatch", "regexMatch"),
        ("mustRegexFind", "regexFind"),
        ("mustRegexFindAll", "regexFindAll"),
        ("mustRegexSplit", "regexSplit"),
        ("mustRegexReplaceAll", "regexReplaceAll"),
        ("mustRegexReplaceAllLiteral", "regexReplaceAllLiteral"),
        ("mustFromYaml", "fromYaml"),
        ("trimall", "trimAll"),
        ("unixEpoch", "now"),
        ("dateInZone", "date"),
        ("htmlDate", "date"),
        ("toDate", "date"),
        ("dateModify", "now"),
        ("randInt", "int"),
    ] {
        set.alias(alias, name);
    }
}

fn add_map_functions(set: &mut Registry<'_>) {
    set.add_fn("hasKey", |args| Ok(Value::Bool(map_arg(args, 0)?.contains_key(str_arg(args, 1, "hasKey")?))));
    set.add_fn("get", |args| {
        Ok(map_arg(args, 0)?.get(str_arg(args, 1, "get")?).cloned().unwrap_or(Value::String(String::new())))
    });
    set.add_fn("set", |args| {
        let mut m = map_arg(args, 0)?.into_owned();
        m.insert(str_arg(args, 1, "set")?.to_string(), args.get(2).cloned().unwrap_or_default());
        Ok(Value::map(m))
    });
    set.add_fn("unset", |args| {
        let mut m = map_arg(args, 0)?.into_owned();
        m.remove(str_arg(args, 1, "unset")?);
        Ok(Value::map(m))
    });
    set.add_fn("keys", |args| {
        let mut keys = Vec::new();
        for i in 0..args.len() {
            keys.extend(map_arg(args, i)?.keys().map(|k| Value::String(k.clone())));
        }
        Ok(Value::list(keys))
    });
    set.add_fn("values", |args| Ok(Value::list(map_arg(args, 0)?.values().cloned().collect())));
    set.add_fn("pluck", |args| {
        let key = str_arg(args, 0, "pluck")?;
        let mut out = Vec::new();
        for i in 1..args.len() {
            if let Some(v) = map_arg(args, i)?.get(key) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    set.add_fn("pick", |args| {
        let m = map_arg(args, 0)?;
        let keep: Vec<&str> = args[1..].iter().filter_map(Value::as_str).collect();
        Ok(Value::map(
            m.iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    });
    set.add_fn("omit", |args| {
        let m = map_arg(args, 0)?;
        let drop: Vec<&str> = args[1..].iter().filter_map(Value::as_str).collect();
        Ok(Value::map(
            m.iter().filter(|(k, _)| !drop.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    });
    set.add_fn("dig", |args| {
        let (map, rest) = args.split_last().ok_or("dig needs arguments")?;
        let (default, keys) = rest.split_last().ok_or("dig needs a default")?;
        let mut cur = map.clone();
        for key in keys {
            let key = key.as_str().ok_or("dig keys must be strings")?;
            cur = match &cur {
                Value::Map(m) => match m.get(key) {
                    Some(v) => v.clone(),
                    None => return Ok(default.clone()),
                },
                _ => return Ok(default.clone()),
            };
        }
        Ok(cur)
    });
    set.add_fn("merge", |args| merge(args, false));
    set.add_fn("mustMerge", |args| merge(args, false));
    set.add_fn("mergeOverwrite", |args| merge(args, true));
    set.add_fn("mustMergeOverwrite", |args| merge(args, true));
    set.add_fn("deepCopy", |args| Ok(one(args, "deepCopy")?.clone()));
    set.add_fn("mustDeepCopy", |args| Ok(one(args, "mustDeepCopy")?.clone()));
}

fn merge(args: &[Value], overwrite: bool) -> Result<Value, String> {
    let (first, rest) = args.split_first().ok_or("merge needs a destination")?;
    let mut out = first.clone();
    for src in rest {
        out = if overwrite { coalesce(src, &out) } else { coalesce(&out, src) };
    }
    Ok(out)
}

fn add_list_functions(set: &mut Registry<'_>) {
    set.add_fn("first", |args| Ok(list_arg(args, 0)?.first().cloned().unwrap_or_default()));
    set.add_fn("last", |args| Ok(list_arg(args, 0)?.last().cloned().unwrap_or_default()));
    set.add_fn("rest", |args| Ok(Value::list(list_arg(args, 0)?.iter().skip(1).cloned().collect())));
    set.add_fn("initial", |args| {
        let l = list_arg(args, 0)?;
        Ok(Value::list(l[..l.len().saturating_sub(1)].to_vec()))
    });
    for name in ["append", "push", "mustAppend", "mustPush"] {
        set.add_fn(name, |args| {
            let mut l = list_arg(args, 0)?.to_vec();
            l.push(args.get(1).cloned().unwrap_or_default());
            Ok(Value::list(l))
        });
    }
    set.add_fn("prepend", |args| {
        let mut l = vec![args.get(1).cloned().unwrap_or_default()];
        l.extend(list_arg(args, 0)?.iter().cloned());
        Ok(Value::list(l))
    });
    set.add_fn("concat", |args| {
        let mut out = Vec::new();
        for i in 0..args.len() {
            out.extend(list_arg(args, i)?.iter().cloned());
        }
        Ok(Value::list(out))
    });
    set.add_fn("uniq", |args| {
        let mut out: Vec<Value> = Vec::new();
        for v in list_arg(args, 0)? {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    set.add_fn("has", |args| Ok(Value::Bool(list_arg(args, 1)?.contains(args.first().unwrap_or(&Value::Null)))));
    set.add_fn("compact", |args| Ok(Value::list(list_arg(args, 0)?.iter().filter(|v| v.is_true()).cloned().collect())));
    set.add_fn("without", |args| {
        let drop = &args[1.min(args.len())..];
        Ok(Value::list(list_arg(args, 0)?.iter().filter(|v| !drop.contains(v)).cloned().collect()))
    });
    set.add_fn("sortAlpha", |args| {
        let mut l: Vec<String> = list_arg(args, 0)?.iter().map(Value::to_go_string).collect();
        l.sort();
        Ok(Value::list(l.into_iter().map(Value::String).collect()))
    });
    set.add_fn("reverse", |args| Ok(Value::list(list_arg(args, 0)?.iter().rev().cloned().collect())));
    set.add_fn("until", |args| Ok(Value::list((0..int_arg(args, 0)?.clamp(0, 100_000)).map(Value::Int).collect())));
    set.add_fn("untilStep", |args| {
        let (start, stop, step) = (int_arg(args, 0)?, int_arg(args, 1)?, int_arg(args, 2)?);
        if step == 0 {
            return Ok(Value::list(Vec::new()));
        }
        let mut out = Vec::new();
        let mut i = start;
        while (step > 0 && i < stop) || (step < 0 && i > stop) {
            out.push(Value::Int(i));
            if out.len() > 100_000 {
                return Err("untilStep: too many items".into());
            }
            i += step;
        }
        Ok(Value::list(out))
    });
    set.add_fn("seq", |args| {
        let ints: Vec<i64> = args.iter().map(to_int).collect();
        let (start, step, end) = match ints.as_slice() {
            [end] => (1, if *end >= 1 { 1 } else { -1 }, *end),
            [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
            [start, step, end] => (*start, *step, *end),
            _ => return Err("seq: wrong number of arguments".into()),
        };
        if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
            return Ok(Value::String(String::new()));
        }
        let mut out = Vec::new();
        let mut i = start;
        while (step > 0 && i <= end) || (step < 0 && i >= end) {
            out.push(i.to_string());
            if out.len() > 100_000 {
                return Err("seq: too many items".into());
            }
            i += step;
        }
        Ok(Value::String(out.join(" ")))
    });
    set.add_fn("chunk", |args| {
        let size = int_arg(args, 0)?.max(1) as usize;
        Ok(Value::list(list_arg(args, 1)?.chunks(size).map(|c| Value::list(c.to_vec())).collect()))
    });
    set.add_fn("shuffle", |args| Ok(Value::String(str_arg(args, 0, "shuffle")?.to_string())));
    set.add_fn("toStrings", |args| {
        Ok(Value::list(list_arg(args, 0)?.iter().map(|v| Value::String(v.to_go_string())).collect()))
    });
}

fn add_string_functions(set: &mut Registry<'_>) {
    set.add_fn("trunc", |args| {
        let n = int_arg(args, 0)?;
        let s: Vec<char> = str_arg(args, 1, "trunc")?.chars().collect();
        let len = s.len() as i64;
        let out: String = if n >= 0 {
            s[..n.min(len) as usize].iter().collect()
        } else {
            s[(len + n).max(0) as usize..].iter().collect()
        };
        Ok(Value::String(out))
    });
    set.add_fn("substr", |args| {
        let (start, end) = (int_arg(args, 0)?, int_arg(args, 1)?);
        let s: Vec<char> = str_arg(args, 2, "substr")?.chars().collect();
        let len = s.len() as i64;
        let start = start.clamp(0, len) as usize;
        let end = if end < 0 || end > len { len as usize } else { end as usize };
        Ok(Value::String(if start < end { s[start..end].iter().collect() } else { String::new() }))
    });
    set.add_fn("repeat", |args| {
        let s = str_arg(args, 1, "repeat")?;
        let n = int_arg(args, 0)?.max(0) as usize;
        if n.saturating_mul(s.len()) > MAX_REPEAT_BYTES {
            return Err(format!("repeat: result larger than {MAX_REPEAT_BYTES} bytes"));
        }
        Ok(Value::String(s.repeat(n)))
    });
    set.add_fn("cat", |args| {
        let parts: Vec<String> = args.iter().filter(|v| !matches!(v, Value::Null)).map(Value::to_go_string).collect();
        Ok(Value::String(parts.join(" ")))
    });
    set.add_fn("nospace", |args| Ok(Value::String(str_arg(args, 0, "nospace")?.split_whitespace().collect())));
    set.add_fn("trimAll", |args| {
        let cut: Vec<char> = str_arg(args, 0, "trimAll")?.chars().collect();
        Ok(Value::String(str_arg(args, 1, "trimAll")?.trim_matches(|c| cut.contains(&c)).to_string()))
    });
    set.add_fn("title", |args| Ok(Value::String(title(str_arg(args, 0, "title")?))));
    set.add_fn("camelcase", |args| {
        Ok(Value::String(str_arg(args, 0, "camelcase")?.split(['_', '-', ' ']).map(title).collect()))
    });
    set.add_fn("snakecase", |args| Ok(Value::String(separate(str_arg(args, 0, "snakecase")?, '_'))));
    set.add_fn("kebabcase", |args| Ok(Value::String(separate(str_arg(args, 0, "kebabcase")?, '-'))));
    set.add_fn("abbrev", |args| {
        let n = int_arg(args, 0)?.max(3) as usize;
        let s = str_arg(args, 1, "abbrev")?;
        Ok(Value::String(if s.chars().count() <= n {
            s.to_string()
        } else {
            format!("{}...", s.chars().take(n - 3).collect::<String>())
        }))
    });
    set.add_fn("splitn", |args| {
        let sep = str_arg(args, 0, "splitn")?;
        let n = int_arg(args, 1)?.max(0) as usize;
        let s = str_arg(args, 2, "splitn")?;
        let parts: Vec<&str> = if sep.is_empty() { vec![s] } else { s.splitn(n.max(1), sep).collect() };
        Ok(Value::map(
            parts.into_iter().enumerate().map(|(i, p)| (format!("_{i}"), Value::String(p.to_string()))).collect(),
        ))
    });
    set.add_fn("swapcase", |args| {
        Ok(Value::String(
            str_arg(args, 0, "swapcase")?
                .chars()
                .map(
                    |c| {
                        if c.is_uppercase() { c.to_lowercase().collect::<String>() } else { c.to_uppercase().collect() }
                    },
                )
                .collect(),
        ))
    });
    set.add_fn("untitle", |args| {
        let mut out = String::new();
        let mut start = true;
        for c in str_arg(args, 0, "untitle")?.chars() {
            if start {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
            start = c.is_whitespace();
        }
        Ok(Value::String(out))
    });
    set.add_fn("initials", |args| {
        Ok(Value::String(str_arg(args, 0, "initials")?.split_whitespace().filter_map(|w| w.chars().next()).collect()))
    });
    set.add_fn("plural", |args| {
        let (one, many) = (str_arg(args, 0, "plural")?, str_arg(args, 1, "plural")?);
        Ok(Value::String(if int_arg(args, 2)? == 1 { one } else { many }.to_string()))
    });
    set.add_fn("wrap", |args| {
        let width = int_arg(args, 0)?.max(1) as usize;
        Ok(Value::String(wrap(str_arg(args, 1, "wrap")?, width)))
    });
    set.add_fn("regexSplit", |args| {
        let re = regex(str_arg(args, 0, "regexSplit")?)?;
        let s = str_arg(args, 1, "regexSplit")?;
        let n = int_arg(args, 2)?;
        let parts: Vec<Value> = if n < 0 {
            re.split(s).map(|p| Value::String(p.to_string())).collect()
        } else {
            re.splitn(s, n as usize).map(|p| Value::String(p.to_string())).collect()
        };
        Ok(Value::list(parts))
    });
    set.add_fn("regexFindAll", |args| {
        let re = regex(str_arg(args, 0, "regexFindAll")?)?;
        let s = str_arg(args, 1, "regexFindAll")?;
        let n = int_arg(args, 2)?;
        let limit = if n < 0 { usize::MAX } else { n as usize };
        Ok(Value::list(re.find_iter(s).take(limit).map(|m| Value::String(m.as_str().to_string())).collect()))
    });
    set.add_fn("regexMatch", |args| {
        Ok(Value::Bool(regex(str_arg(args, 0, "regexMatch")?)?.is_match(str_arg(args, 1, "regexMatch")?)))
    });
    set.add_fn("regexFind", |args| {
        let re = regex(str_arg(args, 0, "regexFind")?)?;
        let s = str_arg(args, 1, "regexFind")?;
        Ok(Value::String(re.find(s).map(|m| m.as_str().to_string()).unwrap_or_default()))
    });
    set.add_fn("regexReplaceAll", |args| {
        let re = regex(str_arg(args, 0, "regexReplaceAll")?)?;
        let (s, repl) = (str_arg(args, 1, "regexReplaceAll")?, str_arg(args, 2, "regexReplaceAll")?);
        Ok(Value::String(re.replace_all(s, repl).into_owned()))
    });
    set.add_fn("regexReplaceAllLiteral", |args| {
        let re = regex(str_arg(args, 0, "regexReplaceAllLiteral")?)?;
        let (s, repl) = (str_arg(args, 1, "regexReplaceAllLiteral")?, str_arg(args, 2, "regexReplaceAllLiteral")?);
        Ok(Value::String(re.replace_all(s, regex::NoExpand(repl)).into_owned()))
    });
    set.add_fn("base", |args| {
        Ok(Value::String(str_arg(args, 0, "base")?.rsplit('/').next().unwrap_or_default().to_string()))
    });
    set.add_fn("dir", |args| {
        let s = str_arg(args, 0, "dir")?;
        Ok(Value::String(s.rsplit_once('/').map_or(".", |(d, _)| if d.is_empty() { "/" } else { d }).to_string()))
    });
    set.add_fn("ext", |args| {
        let base = str_arg(args, 0, "ext")?.rsplit('/').next().unwrap_or_default();
        Ok(Value::String(base.rfind('.').map(|i| base[i..].to_string()).unwrap_or_default()))
    });
}

fn add_number_functions(set: &mut Registry<'_>) {
    set.add_fn("int", |args| Ok(Value::Int(to_int(one(args, "int")?))));
    set.add_fn("int64", |args| Ok(Value::Int(to_int(one(args, "int64")?))));
    set.add_fn("atoi", |args| Ok(Value::Int(str_arg(args, 0, "atoi")?.trim().parse().unwrap_or(0))));
    set.add_fn("float64", |args| {
        Ok(Value::Float(match one(args, "float64")? {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::String(s) => s.trim().parse().unwrap_or(0.0),
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }))
    });
    set.add_fn("add", |args| Ok(Value::Int(args.iter().map(to_int).fold(0i64, i64::wrapping_add))));
    set.add_fn("add1", |args| Ok(Value::Int(to_int(one(args, "add1")?).wrapping_add(1))));
    set.add_fn("sub", |args| Ok(Value::Int(int_arg(args, 0)?.wrapping_sub(int_arg(args, 1)?))));
    set.add_fn("mul", |args| Ok(Value::Int(args.iter().map(to_int).fold(1i64, i64::wrapping_mul))));
    set.add_fn("div", |args| {
        let d = int_arg(args, 1)?;
        if d == 0 { Err("integer divide by zero".into()) } else { Ok(Value::Int(int_arg(args, 0)?.wrapping_div(d))) }
    });
    set.add_fn("mod", |args| {
        let d = int_arg(args, 1)?;
        if d == 0 { Err("integer divide by zero".into()) } else { Ok(Value::Int(int_arg(args, 0)?.wrapping_rem(d))) }
    });
    set.add_fn("max", |args| Ok(Value::Int(args.iter().map(to_int).max().unwrap_or(0))));
    set.add_fn("min", |args| Ok(Value::Int(args.iter().map(to_int).min().unwrap_or(0))));
    let float_fold = |name: &'static str, op: fn(f64, f64) -> f64| {
        move |args: &[Value]| -> Result<Value, String> {
            let mut nums = args.iter().map(to_float);
            let first = nums.next().ok_or_else(|| format!("{name}: missing arguments"))?;
            Ok(Value::Float(nums.fold(first, op)))
        }
    };
    set.add_fn("addf", float_fold("addf", |a, b| a + b));
    set.add_fn("subf", float_fold("subf", |a, b| a - b));
    set.add_fn("mulf", float_fold("mulf", |a, b| a * b));
    set.add_fn("divf", float_fold("divf", |a, b| a / b));
    set.add_fn("maxf", float_fold("maxf", f64::max));
    set.add_fn("minf", float_fold("minf", f64::min));
    set.add_fn("add1f", |args| Ok(Value::Float(to_float(one(args, "add1f")?) + 1.0)));
    set.add_fn("floor", |args| Ok(Value::Float(to_float(one(args, "floor")?).floor())));
    set.add_fn("ceil", |args| Ok(Value::Float(to_float(one(args, "ceil")?).ceil())));
    set.add_fn("round", |args| {
        let v = to_float(one(args, "round")?);
        let places = args.get(1).map(to_int).unwrap_or(0).clamp(0, 15) as i32;
        let scale = 10f64.powi(places);
        Ok(Value::Float((v * scale).round() / scale))
    });
    set.add_fn("toDecimal", |args| {
        Ok(Value::Int(i64::from_str_radix(&one(args, "toDecimal")?.to_go_string(), 8).unwrap_or(0)))
    });
    set.add_fn("kindOf", |args| Ok(Value::String(kind_of(one(args, "kindOf")?).into())));
    set.add_fn("kindIs", |args| {
        Ok(Value::Bool(str_arg(args, 0, "kindIs")? == kind_of(args.get(1).unwrap_or(&Value::Null))))
    });
    set.add_fn("typeOf", |args| Ok(Value::String(one(args, "typeOf")?.type_name().into())));
    set.add_fn("typeIs", |args| {
        Ok(Value::Bool(str_arg(args, 0, "typeIs")? == args.get(1).unwrap_or(&Value::Null).type_name()))
    });
}

/// Sprig functions whose real results are random, time-dependent or key
/// material: fixed stand-ins, so rendering stays reproducible.
fn add_placeholder_functions(set: &mut Registry<'_>) {
    for name in ["randAlphaNum", "randAlpha", "randNumeric", "randAscii"] {
        set.add_fn(name, |args| Ok(Value::String("x".repeat(int_arg(args, 0).unwrap_or(0).clamp(0, 4096) as usize))));
    }
    set.add_fn("uuidv4", |_| Ok(Value::String("00000000-0000-4000-8000-000000000000".into())));
    set.add_fn("now", |_| Ok(Value::String("1970-01-01T00:00:00Z".into())));
    set.add_fn("date", |_| Ok(Value::String("1970-01-01".into())));
    set.add_fn("htpasswd", |args| Ok(Value::String(format!("{}:placeholder", str_arg(args, 0, "htpasswd")?))));
    for name in ["genCA", "genSelfSignedCert", "genSignedCert", "genPrivateKey", "buildCustomCert"] {
        set.add_fn(name, |_| {
            Ok(Value::map(BTreeMap::from([
                ("Cert".to_string(), Value::String(String::new())),
                ("Key".to_string(), Value::String(String::new())),
            ])))
        });
    }
}

/// `.Files` methods, reached through the rewrite in [`super::methods`].
fn add_files_functions(set: &mut Registry<'_>) {
    set.add_fn("helmFilesGet", |args| {
        Ok(map_arg(args, 0)?.get(str_arg(args, 1, "Files.Get")?).cloned().unwrap_or(Value::String(String::new())))
    });
    set.add_fn("helmFilesLines", |args| {
        let text = map_arg(args, 0)?.get(str_arg(args, 1, "Files.Lines")?).cloned().unwrap_or_default();
        Ok(Value::list(text.as_str().unwrap_or("").lines().map(|l| Value::String(l.to_string())).collect()))
    });
    set.add_fn("helmFilesGlob", |args| {
        let pattern = str_arg(args, 1, "Files.Glob")?;
        Ok(Value::map(
            map_arg(args, 0)?.iter().filter(|(k, _)| glob(pattern, k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    });
    set.add_fn("helmFilesAsConfig", |args| Ok(Value::String(as_config(&*map_arg(args, 0)?))));
    set.add_fn("helmFilesAsSecrets", |args| Ok(Value::String(as_secrets(&*map_arg(args, 0)?))));
    set.add_fn("helmApiVersionsHas", |args| {
        let want = str_arg(args, 1, "APIVersions.Has")?;
        Ok(Value::Bool(list_arg(args, 0)?.iter().any(|v| v.as_str() == Some(want))))
    });
}

fn template_name(data: &Value) -> Option<String> {
    match data {
        Value::Map(m) => match m.get("Template") {
            Some(Value::Map(t)) => t.get("Name").and_then(Value::as_str).map(str::to_string),
            _ => None,
        },
        _ => None,
    }
}

fn error_map(message: String) -> Value {
    Value::map(BTreeMap::from([("Error".to_string(), Value::String(message))]))
}

fn one<'v>(args: &'v [Value], name: &str) -> Result<&'v Value, String> {
    args.first().ok_or_else(|| format!("wrong number of args for {name}: want 1 got 0"))
}

pub(super) fn str_arg<'v>(args: &'v [Value], i: usize, name: &str) -> Result<&'v str, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("{name}: wrong type for value; expected string; got {}", other.type_name())),
        None => Err(format!("{name}: missing argument {}", i + 1)),
    }
}

/// A map argument; Go passes nil as the nil map (an empty one to read), so
/// `hasKey $missing "k"` is false rather than an error.
fn map_arg(args: &[Value], i: usize) -> Result<std::borrow::Cow<'_, BTreeMap<String, Value>>, String> {
    match args.get(i) {
        Some(Value::Map(m)) => Ok(std::borrow::Cow::Borrowed(m)),
        Some(Value::Null) => Ok(std::borrow::Cow::Owned(BTreeMap::new())),
        Some(other) => {
            Err(format!("wrong type for value; expected map[string]interface {{}}; got {}", other.type_name()))
        }
        None => Err(format!("missing argument {}", i + 1)),
    }
}

fn list_arg(args: &[Value], i: usize) -> Result<&[Value], String> {
    match args.get(i) {
        Some(Value::List(l)) => Ok(l),
        Some(Value::Null) => Ok(&[]),
        Some(other) => Err(format!("cannot use type {} as a list", other.type_name())),
        None => Err(format!("missing argument {}", i + 1)),
    }
}

pub(super) fn int_arg(args: &[Value], i: usize) -> Result<i64, String> {
    args.get(i).map(to_int).ok_or_else(|| format!("missing argument {}", i + 1))
}

/// sprig's `toInt64` (via cast): numbers truncate, strings parse, else 0.
fn to_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::String(s) => {
            s.trim().parse::<i64>().ok().or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64)).unwrap_or(0)
        }
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Func(_) => "func",
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    out
}

fn separate(s: &str, sep: char) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 && !out.ends_with(sep) {
                out.push(sep);
            }
            out.extend(c.to_lowercase());
        } else if c == '-' || c == '_' || c == ' ' {
            out.push(sep);
        } else {
            out.push(c);
        }
    }
    out
}

/// sprig's `toFloat64` (via cast): numbers convert, strings parse, else 0.
fn to_float(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// Word-wraps `s` at `width` columns, breaking only at spaces (sprig's `wrap`).
fn wrap(s: &str, width: usize) -> String {
    let mut out = String::new();
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut col = 0;
        for (j, word) in line.split(' ').enumerate() {
            if j > 0 {
                if col + 1 + word.chars().count() > width {
                    out.push('\n');
                    col = 0;
                } else {
                    out.push(' ');
                    col += 1;
                }
            }
            out.push_str(word);
            col += word.chars().count();
        }
    }
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("invalid regex {pattern:?}: {e}"))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbox_render::engine::Options;

    fn run(template: &str) -> Result<String, String> {
        let mut set = Templates::new();
        register(&mut set, Rc::new(RefCell::new(None)));
        set.parse("t", template).map_err(|e| e.to_string())?;
        set.execute("t", &Value::map(BTreeMap::new()), &Options::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn sprig_functions_charts_use() {
        let cases = [
            (r#"{{ "abcdef" | trunc 3 }}|{{ "abcdef" | trunc -2 }}"#, "abc|ef"),
            (r#"{{ hasKey (dict "a" 1) "a" }}|{{ hasKey (dict "a" 1) "b" }}"#, "true|false"),
            (r#"{{ $m := merge (dict "a" 1) (dict "a" 2 "b" 3) }}{{ $m.a }}{{ $m.b }}"#, "13"),
            (r#"{{ $m := mergeOverwrite (dict "a" 1) (dict "a" 2) }}{{ $m.a }}"#, "2"),
            (r#"{{ semverCompare ">=1.19-0" "v1.30.0" }}"#, "true"),
            (r#"{{ list 3 1 2 | sortAlpha | join "," }}"#, "1,2,3"),
            (
                r#"{{ "a-b_c" | camelcase }}|{{ "FooBar" | snakecase }}|{{ "FooBar" | kebabcase }}"#,
                "ABC|foo_bar|foo-bar",
            ),
            (
                r#"{{ add 1 2 3 }}|{{ sub 5 2 }}|{{ mul 2 3 }}|{{ div 7 2 }}|{{ mod 7 2 }}|{{ max 1 5 3 }}"#,
                "6|3|6|3|1|5",
            ),
            (r#"{{ "hello" | sha256sum }}"#, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
            (r#"{{ "hello" | sha1sum }}"#, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
            (r#"{{ "hello" | adler32sum }}"#, "103547413"),
            (r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}"#, "-W-xxW-"),
            (r#"{{ (fromYaml "a: {b: 1}").a.b }}|{{ (fromYaml ": bad: [").Error | empty | not }}"#, "1|true"),
            (r#"{{ (fromJson `{"a": [1, 2]}`).a | len }}"#, "2"),
            (r#"{{ dig "a" "b" "none" (dict "a" (dict "b" "found")) }}|{{ dig "x" "y" "none" (dict) }}"#, "found|none"),
            (r#"{{ seq 3 }}|{{ seq 2 4 }}|{{ until 3 | len }}"#, "1 2 3|2 3 4|3"),
            (r#"{{ splitn "." 2 "a.b.c" | toJson }}"#, r#"{"_0":"a","_1":"b.c"}"#),
            (r#"{{ "a b c" | wrap 3 }}"#, "a b\nc"),
            (r#"{{ 1.5 | addf 1 }}|{{ round 2.345 2 }}|{{ floor 1.7 }}"#, "2.5|2.35|1"),
            (r#"{{ lookup "v1" "Secret" "ns" "name" | len }}"#, "0"),
            (r#"{{ list "a" "b" | mustLast }}|{{ trimall "-" "--x--" }}"#, "b|x"),
            (r#"{{ kindIs "map" (dict) }}|{{ typeOf (list) }}|{{ kindOf 1.5 }}"#, "true|[]interface {}|float64"),
        ];
        for (template, want) in cases {
            assert_eq!(run(template).as_deref(), Ok(want), "{template}");
        }
        assert!(run(r#"{{ fail "stop here" }}"#).is_err_and(|e| e.contains("stop here")));
        assert!(run(r#"{{ repeat 100000000 "xxxxxxxxxx" }}"#).is_err());
    }
}
