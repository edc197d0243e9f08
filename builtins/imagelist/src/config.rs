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
