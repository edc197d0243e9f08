//! Engine behaviour beyond Go's own tables: the error-on-print missing-key
//! mode, limits, the sprig subset inside templates, and the library API
//! other builtins use (functions with access to the template set).

use std::rc::Rc;

use sealbox_render::engine::{ExecErrorKind, FuncCtx, Limits, MissingKey, Options, Templates, Value};
use serde_json::json;

fn render(src: &str, data: serde_json::Value) -> Result<String, String> {
    let mut set = Templates::new();
    set.parse("t.tmpl", src).map_err(|e| e.to_string())?;
    set.execute("t.tmpl", &Value::from(&data), &Options::default()).map_err(|e| e.to_string())
}

#[test]
fn missing_keys_may_be_tested_and_defaulted() {
    let data = json!({"Present": "p", "Empty": ""});
    let cases = [
        (r#"{{or .RegistryURL "sea.hub:5000"}}"#, "sea.hub:5000"),
        (r#"{{if .Missing}}yes{{else}}no{{end}}"#, "no"),
        (r#"{{with .Missing}}{{.}}{{else}}none{{end}}"#, "none"),
        (r#"{{if eq .Missing "a"}}a{{else}}not a{{end}}"#, "not a"),
        (r#"{{if not .Missing}}absent{{end}}"#, "absent"),
        (r#"{{and .Missing "x" | not}}"#, "true"),
        (r#"{{.Missing | default "d"}}"#, "d"),
        (r#"{{coalesce .Missing .Empty .Present}}"#, "p"),
        (r#"{{empty .Missing}}"#, "true"),
        (r#"{{ternary "set" "unset" (empty .Missing | not)}}"#, "unset"),
        (r#"{{$x := .Missing}}{{if $x}}x{{end}}ok"#, "ok"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src, data.clone()).as_deref(), Ok(want), "{src}");
    }
}

#[test]
fn printing_a_missing_key_names_it() {
    let data = json!({"A": {"B": "b"}, "N": null});
    let cases = [
        ("x: {{.PodCIDR}}", "t.tmpl:1:6: no value for key \"PodCIDR\""),
        ("{{.A.C}}", "t.tmpl:1:3: no value for key \"C\""),
        ("{{.Z.C}}", "t.tmpl:1:3: no value for key \"Z\""),
        ("{{.N}}", "t.tmpl:1:3: no value for key \"N\""),
        ("{{or .X .Y}}", "t.tmpl:1:9: no value for key \"Y\""),
        ("\n  {{$x := .Missing}}{{$x}}", "t.tmpl:2:23: no value for $x"),
        (r#"{{index .A "nope"}}"#, "t.tmpl:1:3: no value for index .A \"nope\""),
    ];
    for (src, want) in cases {
        assert_eq!(render(src, data.clone()), Err(want.to_string()), "{src}");
    }
}

#[test]
fn errors_carry_their_kind() {
    let mut set = Templates::new();
    set.parse("t", "{{.Missing}}").unwrap();
    let e = set.execute("t", &Value::Null, &Options::default()).unwrap_err();
    assert_eq!(e.kind, ExecErrorKind::NoValue(Some("Missing".into())));
}

#[test]
fn break_and_continue_cross_if_and_with() {
    let src = "{{range .}}{{if eq . 3}}{{continue}}{{end}}{{with .}}{{if gt . 4}}{{break}}{{end}}{{end}}{{.}}{{end}}";
    assert_eq!(render(src, json!([1, 2, 3, 4, 5, 6])).as_deref(), Ok("124"));
}

#[test]
fn sprig_subset_in_templates() {
    let data = json!({"name": "My App", "items": ["a", "b"], "cfg": {"port": 80, "tls": false}});
    let cases = [
        (r#"{{.name | lower | replace " " "-"}}"#, "my-app"),
        (r#"{{.name | upper | quote}} {{squote .name}}"#, "\"MY APP\" 'My App'"),
        (r#"{{join "," .items}}"#, "a,b"),
        (r#"{{if contains "App" .name}}{{trim "  x  "}}{{end}}"#, "x"),
        (r#"{{hasPrefix "My" .name}} {{hasSuffix "x" .name}}"#, "true false"),
        ("cfg:{{.cfg | toYaml | nindent 2}}", "cfg:\n  port: 80\n  tls: false"),
        (r#"{{toJson .cfg}}"#, r#"{"port":80,"tls":false}"#),
        (r#"{{(split "." "a.b.c")._1}}"#, "b"),
        (r#"{{"YWRtaW4=" | b64dec}}:{{"admin" | b64enc}}"#, "admin:YWRtaW4="),
        (r#"{{required "need name" .name}}"#, "My App"),
        (r#"{{printf "%-6s|%5.2f|%+d|%x" "ab" 3.14159 5 255}}"#, "ab    | 3.14|+5|ff"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src, data.clone()).as_deref(), Ok(want), "{src}");
    }
    let err = render(r#"{{required "RegistryURL is required" .RegistryURL}}"#, json!({})).unwrap_err();
    assert!(err.ends_with("error calling required: RegistryURL is required"), "{err}");
}

#[test]
fn limits_stop_hostile_templates() {
    let tiny = |limits| Options { limits, ..Options::default() };
    let mut set = Templates::new();
    set.parse("spin", "{{range 1000000000}}{{end}}").unwrap();
    let e = set.execute("spin", &Value::Null, &tiny(Limits { max_steps: 10_000, ..Limits::default() })).unwrap_err();
    assert_eq!(e.kind, ExecErrorKind::Limit);
    assert!(e.message.contains("exceeded maximum of 10000 evaluation steps"), "{e}");

    // Few iterations, but each builds 1 MB of text that is never printed:
    // the text a function returns counts against the steps (64 steps a KiB).
    set.parse("build", r#"{{range 100}}{{$x := printf "%.1000000d" 1}}{{end}}"#).unwrap();
    let e =
        set.execute("build", &Value::Null, &tiny(Limits { max_steps: 1_000_000, ..Limits::default() })).unwrap_err();
    assert_eq!(e.kind, ExecErrorKind::Limit);
    assert!(e.message.contains("exceeded maximum of 1000000 evaluation steps"), "{e}");
    let ten = tiny(Limits { max_steps: 1_000_000, ..Limits::default() });
    set.parse("some", r#"{{range 10}}{{$x := printf "%.1000d" 1}}{{end}}"#).unwrap();
    assert!(set.execute("some", &Value::Null, &ten).is_ok());

    set.parse("wide", "{{define \"w\"}}0123456789{{end}}{{range 100}}{{template \"w\"}}{{end}}").unwrap();
    let e = set.execute("wide", &Value::Null, &tiny(Limits { max_output: 500, ..Limits::default() })).unwrap_err();
    assert_eq!(e.to_string(), "wide:1:1: executing \"w\": output exceeds the limit of 500 bytes");

    let deep = format!("{}x{}", "{{if true}}".repeat(300), "{{end}}".repeat(300));
    let e = Templates::new().parse("deep", &deep).unwrap_err();
    assert!(e.message.contains("max control structure depth exceeded"), "{e}");
}

/// What the Helm step builds on: extra functions that run other templates.
#[test]
fn functions_can_execute_named_templates() {
    let mut set = Templates::new();
    set.add_func(
        "include",
        Rc::new(|ctx: &mut FuncCtx<'_, '_>, args: &[Value]| match args {
            [Value::String(name), data] => ctx.execute_template(name, data).map(Value::String),
            _ => Err("include wants a name and a value".into()),
        }),
    );
    set.parse("_helpers.tpl", r#"{{define "fullname"}}{{.Release}}-{{.Chart}}{{end}}"#).unwrap();
    set.parse("svc.yaml", r#"name: {{include "fullname" . | upper | quote}}"#).unwrap();
    let data = Value::from(&json!({"Release": "r", "Chart": "c"}));
    assert_eq!(set.execute("svc.yaml", &data, &Options::default()).unwrap(), "name: \"R-C\"");
    assert_eq!(set.names(), ["_helpers.tpl", "fullname", "svc.yaml"]);

    set.parse("loop.yaml", r#"{{define "self"}}{{include "self" .}}{{end}}{{include "self" .}}"#).unwrap();
    let opts = Options { limits: Limits { max_depth: 50, ..Limits::default() }, missing_key: MissingKey::GoDefault };
    let e = set.execute("loop.yaml", &data, &opts).unwrap_err();
    assert!(e.message.contains("exceeded maximum template depth (50)"), "{e}");
}
