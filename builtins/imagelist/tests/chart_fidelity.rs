//! Chart behaviours where sealbox once differed from helm 3.17 (issue #13):
//! each expected output here is what `helm template` prints for the same
//! chart.

use std::path::Path;

use sealbox_imagelist::helm::{self, ChartError, release::Release};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }
}

fn render(files: &[(&str, &str)], release: &Release) -> Result<Vec<(String, String)>, ChartError> {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), &[("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")]);
    write(dir.path(), files);
    Ok(helm::render_chart(dir.path(), "c", release)?.into_iter().map(|m| (m.name, m.text)).collect())
}

fn one(files: &[(&str, &str)]) -> String {
    let out = render(files, &Release::named("r")).expect("renders");
    assert_eq!(out.len(), 1, "{out:?}");
    out[0].1.clone()
}

#[test]
fn tpl_of_empty_whitespace_or_comment_text() {
    let out = one(&[
        ("c/values.yaml", "e: \"\"\nw: \"  \\n \"\n"),
        (
            "c/templates/a.yaml",
            "a: [{{ tpl .Values.e . }}]\nb: [{{ tpl .Values.w . }}]\nc: [{{ tpl \"{{/* c */}}\" . }}]\n",
        ),
    ]);
    assert_eq!(out, "a: []\nb: [  \n ]\nc: []\n");
}

#[test]
fn semver_compare_accepts_what_masterminds_v3_accepts() {
    let out = one(&[(
        "c/templates/a.yaml",
        r#"c: {{ semverCompare ">= 1.22-0" .Capabilities.KubeVersion.Version }} {{ semverCompare "> 1.20.0-0" "1.30.0" }} {{ semverCompare ">= 1.27.x" "1.30.0" }} {{ semverCompare ">= v1.20" "1.30.0" }} {{ semverCompare "=> 1.0" "1.30.0" }}
"#,
    )]);
    assert_eq!(out, "c: true true true true true\n");
}

#[test]
fn helmignore_partials_and_notes_produce_nothing() {
    let out = render(
        &[
            ("c/.helmignore", "# tests are not shipped\ntemplates/tests/\n*.bak\n"),
            ("c/templates/tests/test-connection.yaml", "image: busybox\n"),
            ("c/templates/pod.yaml.bak", "image: old\n"),
            ("c/templates/_helpers.tpl", "{{ define \"x\" }}image: nginx{{ end }}\nstray: text\n"),
            ("c/templates/NOTES.txt", "Thank you for installing {{ .Chart.Name }}\n"),
            ("c/templates/pod.yaml", "{{ include \"x\" . }}\n"),
        ],
        &Release::named("r"),
    )
    .expect("renders");
    assert_eq!(out, [("c/templates/pod.yaml".to_string(), "image: nginx\n".to_string())]);
}

#[test]
fn release_flags_reach_the_templates() {
    let mut release = Release::named("rel").with_kube_version("1.28").expect("valid");
    release.namespace = "ns".into();
    release.add_values_file("over.yaml", "image: {tag: \"2\"}\n").expect("valid");
    release.add_set("replicas=3,image.repo=me/app").expect("valid");
    let out = render(
        &[
            ("c/values.yaml", "image: {repo: nginx, tag: \"1\"}\nreplicas: 1\n"),
            (
                "c/templates/a.yaml",
                "{{ .Release.Name }} {{ .Release.Namespace }} {{ .Capabilities.KubeVersion.Version }} {{ .Capabilities.KubeVersion.Minor }}\nimage: {{ .Values.image.repo }}:{{ .Values.image.tag }} x{{ .Values.replicas }}\n",
            ),
        ],
        &release,
    )
    .expect("renders");
    assert_eq!(out[0].1, "rel ns v1.28.0 28\nimage: me/app:2 x3\n");
}

#[test]
fn set_and_merge_change_the_variable_they_are_given() {
    // bitnami common's labels helper: `$_ := set $default …` then uses $default.
    let out = one(&[(
        "c/templates/a.yaml",
        "{{- $d := dict \"a\" \"1\" }}{{- $_ := set $d \"b\" \"2\" }}{{- $_ := merge $d (dict \"c\" \"3\") }}{{- $r := dict \"x\" (dict) }}{{- $_ := set $r.x \"y\" 1 }}\nd: {{ $d | toJson }}\nr: {{ $r | toJson }}\nn: {{ fromJson \"{\\\"n\\\": 20}\" | toJson }}\n",
    )]);
    assert_eq!(out, "\nd: {\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}\nr: {\"x\":{\"y\":1}}\nn: {\"n\":20}\n");
}
