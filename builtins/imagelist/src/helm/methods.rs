//! Helm's objects have methods (`.Files.Get "x"`,
//! `.Capabilities.APIVersions.Has "apps/v1"`, `(.Files.Glob "*").AsConfig`)
//! where template values here are plain data. Before parsing, such calls
//! inside actions are rewritten into calls of the functions registered in
//! [`super::funcs`], passing the receiver: `.Files.Get "x"` becomes
//! `helmFilesGet .Files "x"`.

use std::sync::OnceLock;

use regex::Regex;

fn method_call() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // The receiver is `.`, `$` or `$name`, then fields, then the method.
        Regex::new(r"(\$[A-Za-z0-9_]*)?((?:\.[A-Za-z0-9_]+)*?)\.(Files)\.(Get|GetBytes|Glob|Lines|AsConfig|AsSecrets)\b|(\$[A-Za-z0-9_]*)?((?:\.[A-Za-z0-9_]+)*?)\.Capabilities\.APIVersions\.Has\b")
            .expect("valid regex")
    })
}

/// Rewrites method calls in the actions of a template source.
pub fn rewrite(source: &str) -> String {
    if !source.contains(".Files.") && !source.contains(".APIVersions.Has") {
        return source.to_string();
    }
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let end = start + len + 2;
        out.push_str(&rest[..start]);
        out.push_str(&rewrite_action(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn rewrite_action(action: &str) -> String {
    let replaced = method_call().replace_all(action, |c: &regex::Captures<'_>| {
        if c.get(3).is_some() {
            let recv = format!("{}{}", c.get(1).map_or("", |m| m.as_str()), c.get(2).map_or("", |m| m.as_str()));
            let method = &c[4];
            let method = if method == "GetBytes" { "Get" } else { method };
            format!("helmFiles{method} {recv}.Files")
        } else {
            let recv = format!("{}{}", c.get(5).map_or("", |m| m.as_str()), c.get(6).map_or("", |m| m.as_str()));
            format!("helmApiVersionsHas {recv}.Capabilities.APIVersions")
        }
    });
    wrap_paren_methods(&replaced)
}

/// `(X).AsConfig` → `(helmFilesAsConfig (X))`, for methods called on the
/// result of a parenthesised `Glob`.
fn wrap_paren_methods(action: &str) -> String {
    let mut s = action.to_string();
    for method in ["AsConfig", "AsSecrets"] {
        let needle = format!(").{method}");
        while let Some(close) = s.find(&needle) {
            let bytes = s.as_bytes();
            let mut depth = 0usize;
            let mut open = None;
            for i in (0..=close).rev() {
                match bytes[i] {
                    b')' => depth += 1,
                    b'(' => {
                        depth -= 1;
                        if depth == 0 {
                            open = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(open) = open else { break };
            let inner = s[open..=close].to_string();
            s = format!("{}(helmFiles{method} {inner}){}", &s[..open], &s[close + needle.len()..]);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_method_calls_in_actions_only() {
        assert_eq!(rewrite(r#"a: {{ .Files.Get "x" | quote }}"#), r#"a: {{ helmFilesGet .Files "x" | quote }}"#);
        assert_eq!(rewrite(r#"{{ $.Files.Get $p }}"#), r#"{{ helmFilesGet $.Files $p }}"#);
        assert_eq!(rewrite(r#"{{ $root.Files.Lines "l" }}"#), r#"{{ helmFilesLines $root.Files "l" }}"#);
        assert_eq!(
            rewrite(r#"{{- if .Capabilities.APIVersions.Has "policy/v1" }}"#),
            r#"{{- if helmApiVersionsHas .Capabilities.APIVersions "policy/v1" }}"#
        );
        assert_eq!(
            rewrite(r#"{{ (.Files.Glob "conf/*").AsConfig | indent 2 }}"#),
            r#"{{ (helmFilesAsConfig (helmFilesGlob .Files "conf/*")) | indent 2 }}"#
        );
        assert_eq!(rewrite("text .Files.Get outside"), "text .Files.Get outside");
    }
}
