//! Values for the charts a Kubefile's applications install: an `APPCMDS`
//! command `helm install NAME CHART -f values.yaml --set k=v` (or `helm
//! upgrade --install`) says how the chart will be rendered in the cluster,
//! so the image search renders it the same way (the `imagelist` step's
//! `charts` configuration). Paths are relative to the application's
//! directory, where sealer runs the command.

use crate::kubefile::Application;

/// The `imagelist` `charts` entries for every `helm install`/`upgrade`
/// command of `apps` that names a chart inside its application directory.
pub fn chart_releases(apps: &[Application]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for app in apps {
        for cmd in &app.cmds {
            for line in cmd.split(['\n', ';']).flat_map(|l| l.split("&&")) {
                if let Some(entry) = helm_install(&app.name, &split_words(line)) {
                    out.push(entry);
                }
            }
        }
    }
    out
}

/// A shell-like split: whitespace outside quotes, quotes removed.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut cur, mut quote, mut any) = (String::new(), None::<char>, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// `app/dir` + `rel`, normalised; `None` for what leaves the directory.
fn under(app: &str, rel: &str) -> Option<String> {
    let mut parts = vec!["application", "apps", app];
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    (!rel.starts_with('/')).then(|| parts.join("/"))
}

fn helm_install(app: &str, words: &[String]) -> Option<serde_json::Value> {
    let start = words.iter().position(|w| w == "helm" || w.ends_with("/helm"))?;
    let args = &words[start + 1..];
    let verb = args.first()?;
    let install = verb == "install" || (verb == "upgrade" && args.iter().any(|a| a == "--install" || a == "-i"));
    if !install {
        return None;
    }
    let (mut positional, mut values_files, mut set) = (Vec::new(), Vec::new(), Vec::new());
    let (mut set_string, mut set_json, mut set_file) = (Vec::new(), Vec::new(), Vec::new());
    let mut namespace = None;
    let mut generate_name = false;
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
            _ => (a, None),
        };
        let mut value = || {
            inline.clone().or_else(|| {
                i += 1;
                args.get(i).cloned()
            })
        };
        match flag {
            "-f" | "--values" => {
                for f in value()?.split(',') {
                    values_files.push(under(app, f)?);
                }
            }
            "--set" => set.push(value()?),
            "--set-string" => set_string.push(value()?),
            "--set-json" => set_json.push(value()?),
            "--set-file" => {
                // `k=path,k2=path2`: each file is read from the application's directory.
                for pair in value()?.split(',') {
                    let (key, file) = pair.split_once('=')?;
                    set_file.push(format!("{key}={}", under(app, file)?));
                }
            }
            "-n" | "--namespace" => namespace = value(),
            "-g" | "--generate-name" => generate_name = true,
            // Flags that take a value; the rest are switches.
            "--version" | "--timeout" | "--kube-context" | "--kubeconfig" | "--description" | "--post-renderer"
            | "--repo" | "--set-literal" => {
                value();
            }
            f if f.starts_with('-') => {}
            _ => positional.push(a.to_string()),
        }
        i += 1;
    }
    let (release, chart) = match (generate_name, positional.as_slice()) {
        (true, [chart, ..]) => (None, chart.clone()),
        (false, [name, chart, ..]) => (Some(name.clone()), chart.clone()),
        _ => return None,
    };
    Some(serde_json::json!({
        "chart": under(app, &chart)?,
        "releaseName": release,
        "namespace": namespace,
        "valuesFiles": values_files,
        "set": set,
        "setString": set_string,
        "setJson": set_json,
        "setFile": set_file,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(cmds: &[&str]) -> Vec<Application> {
        vec![Application {
            name: "web".into(),
            app_type: "helm".into(),
            files: Vec::new(),
            version: String::new(),
            env: Default::default(),
            cmds: cmds.iter().map(|s| s.to_string()).collect(),
        }]
    }

    #[test]
    fn reads_helm_install_commands() {
        let got = chart_releases(&app(&[
            "kubectl apply -f crds/ && helm install web ./chart -n apps -f values.yaml,prod.yaml --set image.tag=2 --set=replicas=3 --wait",
            "helm upgrade --install other chart2 --values=v.yaml --set-string tag=010 --set-json 'r={\"a\":1}' --set-file cfg=conf/app.ini",
            "helm install escape ../outside",
            "helm repo add x https://example.com",
        ]));
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0]["chart"], "application/apps/web/chart");
        assert_eq!(got[0]["releaseName"], "web");
        assert_eq!(got[0]["namespace"], "apps");
        assert_eq!(
            got[0]["valuesFiles"],
            serde_json::json!(["application/apps/web/values.yaml", "application/apps/web/prod.yaml"])
        );
        assert_eq!(got[0]["set"], serde_json::json!(["image.tag=2", "replicas=3"]));
        assert_eq!(got[1]["chart"], "application/apps/web/chart2");
        assert_eq!(got[1]["valuesFiles"], serde_json::json!(["application/apps/web/v.yaml"]));
        assert_eq!(got[1]["setString"], serde_json::json!(["tag=010"]));
        assert_eq!(got[1]["setJson"], serde_json::json!(["r={\"a\":1}"]));
        assert_eq!(got[1]["setFile"], serde_json::json!(["cfg=application/apps/web/conf/app.ini"]));
    }
}
