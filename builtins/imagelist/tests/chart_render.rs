//! Chart rendering compared with `helm template`. Helm cannot be installed
//! from the distribution's packages here, so the reference is the checked-in
//! `fixtures/webapp.helm-template.yaml`, in `helm template`'s output format;
//! documents are compared as data, by template name.

mod common;

use std::collections::BTreeMap;

use sealbox_imagelist::helm::{self, values::parse_values};

/// `# Source:` name -> document text, from `helm template` output.
fn split_sources(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("# Source: ") {
            if let Some((n, body)) = current.take() {
                out.insert(n, body);
            }
            current = Some((name.to_string(), String::new()));
        } else if let Some((_, body)) = current.as_mut()
            && line != "---"
        {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((n, body)) = current {
        out.insert(n, body);
    }
    out
}

#[test]
fn webapp_renders_like_helm_template() {
    let ctx = common::context();
    let rendered =
        helm::render_chart(ctx.path(), "charts/webapp", &helm::release::Release::named(helm::DEFAULT_RELEASE))
            .expect("chart renders");
    let expected_text =
        std::fs::read_to_string(common::fixtures().join("webapp.helm-template.yaml")).expect("expected file");
    let expected = split_sources(&expected_text);
    let got: BTreeMap<String, String> = rendered.iter().map(|m| (m.name.clone(), m.text.clone())).collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (name, want) in &expected {
        let want = parse_values(want).unwrap_or_else(|e| panic!("expected {name} is not YAML: {e}"));
        let have =
            parse_values(&got[name]).unwrap_or_else(|e| panic!("rendered {name} is not YAML: {e}\n{}", got[name]));
        assert_eq!(have, want, "{name} differs; rendered:\n{}", got[name]);
    }
    let db = rendered.iter().find(|m| m.name == "webapp/charts/db/templates/statefulset.yaml").expect("db rendered");
    assert_eq!(db.template, "charts/webapp/charts/db-0.1.0.tgz!/templates/statefulset.yaml");
}

#[test]
fn template_errors_name_chart_template_and_line() {
    let ctx = common::context();
    let tpl = ctx.path().join("charts/webapp/templates/service.yaml");
    let mut text = std::fs::read_to_string(&tpl).expect("read");
    text.push_str("---\n# line 16\nport: {{ required \"service.missing is required\" .Values.service.missing }}\n");
    std::fs::write(&tpl, text).expect("write");
    let err = helm::render_chart(ctx.path(), "charts/webapp", &helm::release::Release::named(helm::DEFAULT_RELEASE))
        .expect_err("required fails");
    assert_eq!(err.file.as_deref(), Some("charts/webapp/templates/service.yaml"));
    assert_eq!(err.line, Some(18));
    assert!(err.message.contains("service.missing is required"), "{}", err.message);

    std::fs::write(&tpl, "kind: {{ .Values.x | nosuchfunc }}\n").expect("write");
    let err = helm::render_chart(ctx.path(), "charts/webapp", &helm::release::Release::named(helm::DEFAULT_RELEASE))
        .expect_err("parse fails");
    assert_eq!((err.file.as_deref(), err.line), (Some("charts/webapp/templates/service.yaml"), Some(1)));
    assert!(err.message.contains("nosuchfunc"), "{}", err.message);
}
