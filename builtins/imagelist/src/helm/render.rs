//! Rendering a loaded chart like `helm template`: values coalesced down the
//! sub-chart tree (globals included), sub-charts switched by their
//! `condition` and `tags`, every template of every enabled chart parsed into
//! one set (deeper charts first, so a parent's `define` wins), then each
//! non-partial template executed with its chart's `.Values`, `.Chart`,
//! `.Release`, `.Capabilities`, `.Template` and `.Files`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use sealbox_render::engine::{Error, MissingKey, Options, Templates, Value};

use super::chart::{Chart, Dependency};
use super::release::Release;
use super::values::{coalesce, get, lookup_path, with_key};
use super::{ChartError, RenderedManifest, funcs, methods, schema};

/// The Kubernetes version `.Capabilities` reports, as `helm template` does
/// without a cluster.
pub const KUBE_VERSION: &str = "v1.32.0";
/// The Helm version `.Capabilities.HelmVersion` reports.
pub const HELM_VERSION: &str = "v3.17.1";

/// How deeply templates may nest (`include`, `template`, control
/// structures). Helm allows 1000 `include` levels, but each level costs guest
/// stack, and the sandbox gives a step a 1 MiB stack; this bound keeps a
/// runaway recursion an error instead of a stack overflow.
pub const MAX_TEMPLATE_DEPTH: usize = 200;

/// How deeply a `tpl` string may nest templates; with at most
/// [`super::funcs::MAX_TPL_DEPTH`] nested `tpl`s the total stays within
/// twice [`MAX_TEMPLATE_DEPTH`].
pub const MAX_TPL_TEMPLATE_DEPTH: usize = 50;

/// Execution options for chart templates: Helm's `missingkey=zero` (printed
/// `<no value>` is removed afterwards) and the depth bound.
pub fn options() -> Options {
    let mut opts = Options { missing_key: MissingKey::GoDefault, ..Options::default() };
    opts.limits.max_depth = MAX_TEMPLATE_DEPTH;
    opts
}

/// One chart instance to render: the chart, its template-name prefix
/// (`top/charts/sub`) and its scoped values.
struct Unit<'c> {
    chart: &'c Chart,
    name: String,
    prefix: String,
    values: Value,
}

/// Renders `chart` as `release` says (name, namespace, Kubernetes version,
/// the user's values over the chart's defaults).
pub fn render(chart: &Chart, release: &Release) -> Result<Vec<RenderedManifest>, ChartError> {
    check_dependencies(chart)?;
    let values = coalesce_tree(chart, &release.values);
    let mut units = Vec::new();
    plan(chart, chart.name.clone(), chart.name.clone(), values.clone(), &values, &mut units);
    let checks: Vec<schema::Check<'_>> = units
        .iter()
        .filter_map(|u| {
            let file = format!("{}/values.schema.json", u.chart.source);
            u.chart.schema.as_deref().map(|s| schema::Check { chart: &u.name, file, schema: s, values: &u.values })
        })
        .collect();
    schema::validate(&checks)?;

    let tpl_set: funcs::TplSet = Rc::new(RefCell::new(None));
    let mut set = Templates::new();
    funcs::register(&mut set, tpl_set.clone());
    // `lookup` finds nothing offline; count its calls to name the templates using it.
    let lookups = Rc::new(std::cell::Cell::new(0usize));
    let counter = lookups.clone();
    set.add_fn("lookup", move |_| {
        counter.set(counter.get() + 1);
        Ok(Value::map(BTreeMap::new()))
    });

    // Template name -> input path, for locating errors.
    let mut paths: HashMap<String, String> = HashMap::new();
    let mut order: Vec<(usize, &str, String)> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let library = unit.chart.is_library();
        for file in &unit.chart.templates {
            // Helm loads only the partials of a library chart: it has no manifests of its own.
            if library && !file.name.rsplit('/').next().unwrap_or_default().starts_with('_') {
                continue;
            }
            let name = format!("{}/{}", unit.prefix, file.name);
            paths.insert(name.clone(), format!("{}/{}", unit.chart.source, file.name));
            order.push((i, file.name.as_str(), name));
        }
    }
    // Deeper templates first, so the parent's definitions are parsed last and win.
    order.sort_by(|a, b| b.2.matches('/').count().cmp(&a.2.matches('/').count()).then_with(|| a.2.cmp(&b.2)));
    for (i, file_name, name) in &order {
        let Some(file) = units[*i].chart.templates.iter().find(|f| f.name == *file_name) else { continue };
        let text = std::str::from_utf8(&file.data).map_err(|_| ChartError {
            file: paths.get(name).cloned(),
            line: None,
            message: "template is not UTF-8 text".into(),
        })?;
        set.parse(name, &methods::rewrite(text)).map_err(|e| locate(Error::Parse(e), &paths))?;
    }
    *tpl_set.borrow_mut() = Some(set.clone());

    let capabilities = super::capabilities::capabilities(&release.kube_version);
    let release = release_value(release);
    let opts = options();
    let mut out = Vec::new();
    let mut names: Vec<&(usize, &str, String)> = order.iter().collect();
    names.sort_by(|a, b| a.2.cmp(&b.2));
    for (i, file_name, name) in names {
        let base = file_name.rsplit('/').next().unwrap_or(file_name);
        if base.starts_with('_') || name.ends_with("NOTES.txt") {
            continue;
        }
        let unit = &units[*i];
        let data = Value::map(BTreeMap::from([
            ("Values".to_string(), unit.values.clone()),
            ("Chart".to_string(), chart_value(unit)),
            ("Release".to_string(), release.clone()),
            ("Capabilities".to_string(), capabilities.clone()),
            ("Files".to_string(), files_value(unit.chart)),
            (
                "Template".to_string(),
                Value::map(BTreeMap::from([
                    ("Name".to_string(), Value::String(name.clone())),
                    ("BasePath".to_string(), Value::String(format!("{}/templates", unit.prefix))),
                ])),
            ),
        ]));
        let before = lookups.get();
        let text = set.execute(name, &data, &opts).map_err(|e| locate(Error::Exec(e), &paths))?;
        let text = text.replace("<no value>", "");
        let lookup = lookups.get() != before;
        if text.trim().is_empty() && !lookup {
            continue;
        }
        let template = paths.get(name).cloned().unwrap_or_else(|| name.clone());
        out.push(RenderedManifest { name: name.clone(), template, text, lookup });
    }
    Ok(out)
}

/// Like `helm template`, refuses a chart whose declared dependencies are not
/// all present under `charts/` (they are fetched by `helm dependency build`).
fn check_dependencies(chart: &Chart) -> Result<(), ChartError> {
    for dep in &chart.dependencies {
        if !chart.subcharts.iter().any(|s| s.name == dep.name) {
            return Err(ChartError {
                file: Some(format!("{}/Chart.yaml", chart.source)),
                line: None,
                message: format!(
                    "dependency {:?} is declared but missing from charts/ (run `helm dependency build`)",
                    dep.name
                ),
            });
        }
    }
    chart.subcharts.iter().try_for_each(check_dependencies)
}

fn locate(e: Error, paths: &HashMap<String, String>) -> ChartError {
    let (name, line, column) = e.location();
    ChartError {
        file: Some(paths.get(name).cloned().unwrap_or_else(|| name.to_string())),
        line: Some(line),
        message: format!("{} (column {column})", shorten(e.message())),
    }
}

/// Errors of deep `include` chains repeat every level; keep the outer call
/// and the innermost cause.
fn shorten(message: &str) -> String {
    const HEAD: usize = 300;
    const TAIL: usize = 500;
    if message.len() <= HEAD + TAIL + 40 {
        return message.to_string();
    }
    let head_end = (0..=HEAD).rev().find(|i| message.is_char_boundary(*i)).unwrap_or(0);
    let tail_start =
        (message.len() - TAIL..message.len()).find(|i| message.is_char_boundary(*i)).unwrap_or(message.len());
    format!("{} … {}", &message[..head_end], &message[tail_start..])
}

/// The sub-charts of `chart` with the name each is used under and its
/// dependency entry, in helm's order: sub-charts no dependency declares
/// (as loaded), then one instance per declared dependency (and alias), in
/// `Chart.yaml` order.
fn instances(chart: &Chart) -> Vec<(&Chart, String, Option<&Dependency>)> {
    let mut out = Vec::new();
    for sub in &chart.subcharts {
        if !chart.dependencies.iter().any(|d| d.name == sub.name) {
            out.push((sub, sub.name.clone(), None));
        }
    }
    for dep in &chart.dependencies {
        if let Some(sub) = chart.subcharts.iter().find(|s| s.name == dep.name) {
            out.push((sub, dep.alias.clone().unwrap_or_else(|| sub.name.clone()), Some(dep)));
        }
    }
    out
}

/// The CRD files (`crds/*.yaml|yml|json`) of the chart and of each enabled
/// sub-chart, as helm's `CRDObjects` lists them for `--include-crds`.
pub fn crd_objects(chart: &Chart, release: &Release) -> Vec<super::order::Crd> {
    let values = coalesce_tree(chart, &release.values);
    let mut units = Vec::new();
    plan(chart, chart.name.clone(), chart.name.clone(), values.clone(), &values, &mut units);
    let mut out = Vec::new();
    for unit in &units {
        for f in &unit.chart.files {
            let manifest = [".yaml", ".yml", ".json"].iter().any(|e| f.name.ends_with(e));
            if f.name.starts_with("crds/") && manifest {
                out.push(super::order::Crd {
                    name: format!("{}/{}", unit.prefix, f.name),
                    text: String::from_utf8_lossy(&f.data).into_owned(),
                });
            }
        }
    }
    out
}

/// The chart's values with its defaults under `given`, and each sub-chart's
/// values (its defaults under the parent's `<name>` key, the parent's
/// `global` over its own) under `<name>`.
fn coalesce_tree(chart: &Chart, given: &Value) -> Value {
    let mut values = coalesce(given, &chart.values);
    // Helm gives every chart a `global` map, so `.Values.global.x` always resolves.
    if !matches!(get(&values, "global"), Some(Value::Map(_))) {
        values = with_key(&values, "global", Value::map(BTreeMap::new()));
    }
    let parent_global = get(&values, "global").cloned();
    for (sub, name, dep) in instances(chart) {
        let mut sub_given = get(&values, &name).cloned().unwrap_or_else(|| Value::map(BTreeMap::new()));
        if let Some(global) = &parent_global {
            let merged = coalesce(global, get(&sub_given, "global").unwrap_or(&Value::Null));
            sub_given = with_key(&sub_given, "global", merged);
        }
        let sub_values = coalesce_tree(sub, &sub_given);
        values = with_key(&values, &name, sub_values.clone());
        // `import-values`: the sub-chart's values under the parent's path,
        // below the parent's own values, as helm imports them.
        for (child, parent) in dep.map(|d| d.import_values.as_slice()).unwrap_or_default() {
            if let Some(v) = lookup_path(&sub_values, child) {
                let imported = parent
                    .rsplit('.')
                    .filter(|p| !p.is_empty())
                    .fold(v.clone(), |acc, key| Value::map(BTreeMap::from([(key.to_string(), acc)])));
                values = coalesce(&values, &imported);
            }
        }
    }
    values
}

/// Whether a dependency is enabled: its first `condition` path that holds a
/// boolean decides; else any true tag enables and all-false tags disable.
fn enabled(dep: Option<&Dependency>, parent_values: &Value, top_values: &Value) -> bool {
    let Some(dep) = dep else { return true };
    if let Some(condition) = &dep.condition {
        for path in condition.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(Value::Bool(b)) = lookup_path(parent_values, path) {
                return *b;
            }
        }
    }
    if dep.tags.is_empty() {
        return true;
    }
    let tags: Vec<Option<bool>> = dep
        .tags
        .iter()
        .map(|t| match lookup_path(top_values, &format!("tags.{t}")) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        })
        .collect();
    if tags.contains(&Some(true)) {
        return true;
    }
    !tags.iter().all(|t| *t == Some(false))
}

fn plan<'c>(chart: &'c Chart, name: String, prefix: String, values: Value, top: &Value, out: &mut Vec<Unit<'c>>) {
    let subs: Vec<_> = instances(chart)
        .into_iter()
        .filter(|(_, _, dep)| enabled(*dep, &values, top))
        .map(|(sub, n, _)| {
            let v = get(&values, &n).cloned().unwrap_or_else(|| Value::map(BTreeMap::new()));
            (sub, n, v)
        })
        .collect();
    out.push(Unit { chart, name, prefix: prefix.clone(), values });
    for (sub, n, v) in subs {
        plan(sub, n.clone(), format!("{prefix}/charts/{n}"), v, top, out);
    }
}

fn chart_value(unit: &Unit<'_>) -> Value {
    match &unit.chart.metadata {
        Value::Map(m) => {
            let mut m = (**m).clone();
            m.insert("Name".into(), Value::String(unit.name.clone()));
            m.insert("IsRoot".into(), Value::Bool(!unit.prefix.contains("/charts/")));
            Value::map(m)
        }
        other => other.clone(),
    }
}

fn files_value(chart: &Chart) -> Value {
    Value::map(
        chart
            .files
            .iter()
            .map(|f| (f.name.clone(), Value::String(String::from_utf8_lossy(&f.data).into_owned())))
            .collect(),
    )
}

fn release_value(release: &Release) -> Value {
    Value::map(BTreeMap::from([
        ("Name".to_string(), Value::String(release.name.clone())),
        ("Namespace".to_string(), Value::String(release.namespace.clone())),
        ("Service".to_string(), Value::String("Helm".into())),
        ("IsInstall".to_string(), Value::Bool(true)),
        ("IsUpgrade".to_string(), Value::Bool(false)),
        ("Revision".to_string(), Value::Int(1)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helm::chart::load_dir;
    use crate::testutil::TempTree;

    fn render_tree(files: &[(&str, &str)]) -> Result<Vec<(String, String)>, ChartError> {
        let tree = TempTree::new(files);
        let chart = load_dir(&tree.path().join("top"), "top")?;
        Ok(render(&chart, &Release::named("rel"))?.into_iter().map(|m| (m.name, m.text)).collect())
    }

    #[test]
    fn library_charts_lend_definitions_but_render_nothing() {
        let out = render_tree(&[
            ("top/Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies: [{name: common}]\n"),
            ("top/templates/pod.yaml", "image: {{ include \"common.image\" . }}\n"),
            ("top/values.yaml", "image: {repository: app, tag: \"2\"}\n"),
            ("top/charts/common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 1.0.0\ntype: library\n"),
            (
                "top/charts/common/templates/_images.tpl",
                "{{- define \"common.image\" -}}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{- end -}}",
            ),
            ("top/charts/common/templates/broken.yaml", "{{ this would not parse"),
        ])
        .expect("renders");
        assert_eq!(out, [("top/templates/pod.yaml".to_string(), "image: app:2\n".to_string())]);
    }

    #[test]
    fn conditions_and_tags_switch_subcharts() {
        let chart_yaml = "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies:\n\
            - {name: a, condition: \"a.enabled,global.a.enabled\"}\n\
            - {name: b, tags: [extras]}\n\
            - {name: c, condition: c.enabled, tags: [extras]}\n";
        let files = |values: &'static str| {
            vec![
                ("top/Chart.yaml", chart_yaml),
                ("top/values.yaml", values),
                ("top/charts/a/Chart.yaml", "apiVersion: v2\nname: a\nversion: 1.0.0\n"),
                ("top/charts/a/values.yaml", "enabled: false\n"),
                ("top/charts/a/templates/x.yaml", "a: 1\n"),
                ("top/charts/b/Chart.yaml", "apiVersion: v2\nname: b\nversion: 1.0.0\n"),
                ("top/charts/b/templates/x.yaml", "b: 1\n"),
                ("top/charts/c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"),
                ("top/charts/c/templates/x.yaml", "c: 1\n"),
            ]
        };
        let names = |values: &'static str| -> Vec<String> {
            render_tree(&files(values)).expect("renders").into_iter().map(|(n, _)| n).collect()
        };
        // a's own default switches it off; untagged values leave b and c on.
        assert_eq!(names("{}\n"), ["top/charts/b/templates/x.yaml", "top/charts/c/templates/x.yaml"]);
        // The first condition path holding a boolean wins; a false tag turns b off, c's condition overrides tags.
        assert_eq!(
            names("a: {enabled: true}\nglobal: {a: {enabled: false}}\ntags: {extras: false}\nc: {enabled: true}\n"),
            ["top/charts/a/templates/x.yaml", "top/charts/c/templates/x.yaml"]
        );
    }

    #[test]
    fn values_print_as_helm_prints_them() {
        let out = render_tree(&[
            ("top/Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\nappVersion: 1.10\n"),
            // `on` is a YAML 1.1 boolean key (go-yaml v2, as Helm reads values), so `.Values.on` is missing.
            ("top/values.yaml", "big: 1000000\nport: 8080\nratio: 0.5\nflag: yes\non: x\n"),
            (
                "top/templates/x.yaml",
                "v: {{ .Values.big }} {{ .Values.port }} {{ .Values.ratio }} {{ .Values.flag }} {{ .Values.on }} {{ .Chart.AppVersion }} {{ .Values.missing }}\n",
            ),
        ])
        .expect("renders");
        assert_eq!(out[0].1, "v: 1e+06 8080 0.5 true  1.10 \n");
    }

    #[test]
    fn every_chart_has_a_global_map_and_files_exclude_chart_metadata() {
        let out = render_tree(&[
            ("top/Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\n"),
            ("top/files/a.txt", "A"),
            (
                "top/templates/x.yaml",
                "g: {{ hasKey .Values.global \"x\" }}\nv: {{ .Files.Get \"values.yaml\" | quote }}\na: {{ .Files.Get \"files/a.txt\" }}\n",
            ),
            ("top/values.yaml", "k: 1\n"),
        ])
        .expect("renders");
        assert_eq!(out[0].1, "g: false\nv: \"\"\na: A\n");
    }

    #[test]
    fn library_image_helpers_in_the_style_of_popular_charts() {
        // Modelled on the image helpers of widely used chart libraries (such as
        // bitnami/charts' `common`): a registry from globals or the image map,
        // a digest preferred over the tag, the values passed through `dict`.
        let helper = r#"{{- define "lib.image" -}}
{{- $registry := default .imageRoot.registry ((.global).imageRegistry) -}}
{{- $separator := ":" -}}
{{- $termination := .imageRoot.tag | toString -}}
{{- if .imageRoot.digest }}
    {{- $separator = "@" -}}
    {{- $termination = .imageRoot.digest | toString -}}
{{- end -}}
{{- if $registry }}
    {{- printf "%s/%s%s%s" $registry .imageRoot.repository $separator $termination -}}
{{- else -}}
    {{- printf "%s%s%s" .imageRoot.repository $separator $termination -}}
{{- end -}}
{{- end -}}"#;
        let pod = r#"containers:
  - image: {{ include "lib.image" (dict "imageRoot" .Values.image "global" .Values.global) }}
  - image: {{ include "lib.image" (dict "imageRoot" .Values.sidecar "global" .Values.global) }}
  - image: {{ include "lib.image" (dict "imageRoot" .Values.metrics) }}
"#;
        let values = "image: {registry: docker.io, repository: bitnami/nginx, tag: 1.25.3}\n\
            sidecar: {registry: docker.io, repository: bitnami/git, tag: \"2.43\", digest: \"sha256:abc\"}\n\
            metrics: {registry: \"\", repository: nginx/exporter, tag: 1.0}\n\
            global: {imageRegistry: mirror.local}\n";
        let out = render_tree(&[
            ("top/Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\n"),
            ("top/values.yaml", values),
            ("top/templates/_lib.tpl", helper),
            ("top/templates/pod.yaml", pod),
        ])
        .expect("renders");
        assert_eq!(
            out[0].1,
            "containers:\n  - image: mirror.local/bitnami/nginx:1.25.3\n  - image: mirror.local/bitnami/git@sha256:abc\n  - image: nginx/exporter:1\n"
        );
    }

    #[test]
    fn parent_values_override_subchart_defaults() {
        // The case of sealer's build/layerutils/charts test (images
        // nginx:apps_release, nginx:app1_release, nginx:app2_test),
        // re-expressed: the parent sets app1's tag, app2 keeps its own.
        let pod = "image: {{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\n";
        let out = render_tree(&[
            ("top/Chart.yaml", "apiVersion: v2\nname: apps\nversion: 0.1.0\n"),
            ("top/values.yaml", "image: {repository: nginx, tag: apps_release}\napp1:\n  image: {tag: app1_release}\n"),
            ("top/templates/pod.yaml", pod),
            ("top/charts/app1/Chart.yaml", "apiVersion: v2\nname: app1\nversion: 0.1.0\n"),
            ("top/charts/app1/values.yaml", "image: {repository: nginx, tag: \"\"}\n"),
            ("top/charts/app1/templates/pod.yaml", pod),
            ("top/charts/app2/Chart.yaml", "apiVersion: v2\nname: app2\nversion: 0.1.0\n"),
            ("top/charts/app2/values.yaml", "image: {repository: nginx, tag: app2_test}\n"),
            ("top/charts/app2/templates/pod.yaml", pod),
        ])
        .expect("renders");
        let texts: Vec<(&str, &str)> = out.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        assert_eq!(
            texts,
            [
                ("apps/charts/app1/templates/pod.yaml", "image: nginx:app1_release\n"),
                ("apps/charts/app2/templates/pod.yaml", "image: nginx:app2_test\n"),
                ("apps/templates/pod.yaml", "image: nginx:apps_release\n"),
            ]
        );
    }

    #[test]
    fn self_referencing_tpl_is_stopped() {
        let err = render_tree(&[
            ("top/Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\n"),
            ("top/values.yaml", "loop: \"{{ tpl .Values.loop . }}\"\n"),
            ("top/templates/x.yaml", "a: {{ tpl .Values.loop . }}\n"),
        ])
        .expect_err("endless tpl");
        assert!(err.message.contains("nested too deeply"), "{}", err.message);
        assert_eq!(err.file.as_deref(), Some("top/templates/x.yaml"));
    }

    #[test]
    fn endless_include_recursion_is_a_short_error() {
        // Unoptimised test builds use far more stack per template level than
        // the optimised wasm step, so this one gets room.
        let err = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                render_tree(&[
                    ("top/Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\n"),
                    (
                        "top/templates/x.yaml",
                        "{{- define \"r\" -}}{{ include \"r\" . }}{{- end -}}\na: {{ include \"r\" . }}\n",
                    ),
                ])
            })
            .expect("spawn")
            .join()
            .expect("no panic")
            .expect_err("endless include");
        assert!(err.message.contains("maximum template depth"), "{}", err.message);
        assert!(err.message.len() < 1000, "{} bytes", err.message.len());
        assert_eq!((err.file.as_deref(), err.line), (Some("top/templates/x.yaml"), Some(2)));
    }

    #[test]
    fn missing_dependencies_fail_like_helm() {
        let err = render_tree(&[
            ("top/Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies: [{name: gone}]\n"),
            ("top/templates/x.yaml", "a: 1\n"),
        ])
        .expect_err("missing dependency");
        assert_eq!(err.file.as_deref(), Some("top/Chart.yaml"));
        assert!(err.message.contains("\"gone\""), "{}", err.message);
    }
}
