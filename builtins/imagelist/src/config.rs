//! The step's configuration, as the pipeline passes it in the request.

use serde::Deserialize;

/// What the build asked of the image list step. Every field is optional.
///
/// ```json
/// {"extraImages": ["nginx:1.25"], "ignoredImages": ["busybox"],
///  "requireDigests": false, "verbose": false, "ignoreChartErrors": false,
///  "renderedCharts": false}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Images to add (`--image-list`): references, or whole list files whose
    /// lines are references (comments and quotes allowed).
    #[serde(default)]
    pub extra_images: Vec<String>,
    /// Images to leave out (`--ignored-image-list`), matched after
    /// normalisation, so `busybox` drops `docker.io/library/busybox:latest`.
    #[serde(default)]
    pub ignored_images: Vec<String>,
    /// Make every image without a digest an error (`--require-digests`).
    #[serde(default)]
    pub require_digests: bool,
    /// Report every value that was considered and not taken, with the reason.
    #[serde(default)]
    pub verbose: bool,
    /// Turn chart rendering failures into warnings (`--ignore-chart-errors`).
    #[serde(default)]
    pub ignore_chart_errors: bool,
    /// Return every rendered chart manifest in the response's
    /// `renderedCharts`, for policy steps to check.
    #[serde(default)]
    pub rendered_charts: bool,
    /// Report every place each image was found (`data.origins`).
    #[serde(default)]
    pub origins: bool,
    /// How to render particular charts (by path under the input root), as
    /// the Kubefile's `helm install` would: values files and `--set`s.
    #[serde(default)]
    pub charts: Vec<ChartRelease>,
    /// Render only this chart and answer with its manifests (`sealbox
    /// chart template`) instead of searching for images.
    #[serde(default)]
    pub template: Option<ChartRelease>,
}

/// One chart's release settings, as `helm template`'s flags give them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartRelease {
    /// The chart directory or `.tgz`, relative to the input root.
    pub chart: String,
    /// `--release-name` (default `release-name`, or the application's name).
    #[serde(default)]
    pub release_name: Option<String>,
    /// `--namespace` (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `--kube-version`.
    #[serde(default)]
    pub kube_version: Option<String>,
    /// `-f` files under the input root, in order.
    #[serde(default)]
    pub values_files: Vec<String>,
    /// `-f` files given by content (name, text), after `values_files`.
    #[serde(default)]
    pub values: Vec<(String, String)>,
    /// `--set-json` arguments (`a.b={"x":1}`), after every values file.
    #[serde(default)]
    pub set_json: Vec<String>,
    /// `--set` arguments, in order, after `--set-json`.
    #[serde(default)]
    pub set: Vec<String>,
    /// `--set-string` arguments (every value a string), after `--set`.
    #[serde(default)]
    pub set_string: Vec<String>,
    /// `--set-file` arguments whose files are under the input root
    /// (`key=path`), after `--set-string`.
    #[serde(default)]
    pub set_file: Vec<String>,
    /// `--set-file` values given by content (key, file text), after `set_file`.
    #[serde(default)]
    pub set_file_values: Vec<(String, String)>,
    /// `--include-crds`: print the charts' `crds/` files first (template only).
    #[serde(default)]
    pub include_crds: bool,
}

impl Config {
    /// Reads the configuration from the request's `config` value; `null`
    /// means all defaults.
    pub fn from_value(value: &serde_json::Value) -> Result<Config, String> {
        if value.is_null() {
            return Ok(Config::default());
        }
        serde_json::from_value(value.clone()).map_err(|e| format!("invalid imagelist config: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_camel_case_and_rejects_unknown_fields() {
        let c = Config::from_value(&serde_json::json!({"extraImages": ["a"], "requireDigests": true})).expect("valid");
        assert_eq!(c.extra_images, ["a"]);
        assert!(c.require_digests);
        assert_eq!(Config::from_value(&serde_json::Value::Null), Ok(Config::default()));
        let err = Config::from_value(&serde_json::json!({"requireDigest": true})).expect_err("typo");
        assert!(err.contains("requireDigest"), "{err}");
    }
}
