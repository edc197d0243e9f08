//! The wasm entry point of the `imagelist` step: reads `/in`, writes
//! `/out/manifests/imageList`, answers with the list (see the library docs).

use std::path::Path;

use sealbox_guest::{INPUT_DIR, OUTPUT_DIR, Request, Response};
use sealbox_imagelist::{Config, collect, helm};

sealbox_guest::module_metadata!(
    r#"{"name":"imagelist","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

fn step(req: Request) -> Result<Response, Box<dyn std::error::Error>> {
    let config = match Config::from_value(&req.config) {
        Ok(config) => config,
        Err(message) => return Ok(Response::failure(message)),
    };
    if let Some(template) = &config.template {
        return Ok(template_chart(template));
    }
    let outcome = collect(Path::new(INPUT_DIR), &config, &req.image.platform);
    if !outcome.images.is_empty() || outcome.had_image_list {
        let dir = Path::new(OUTPUT_DIR).join(sealbox_formats::layout::MANIFESTS);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = dir.join("imageList");
        std::fs::write(&file, outcome.image_list_text())
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    let data = outcome.data(config.verbose);
    let mut response = Response::success().with_diagnostics(outcome.diagnostics);
    response.data = data;
    Ok(response)
}

/// `sealbox chart template`: one chart's manifests as `helm template`
/// prints them, in `data.output`, and the templates that called `lookup`
/// in `data.lookups`.
fn template_chart(template: &sealbox_imagelist::config::ChartRelease) -> Response {
    let root = Path::new(INPUT_DIR);
    let rendered = helm::release::from_config(root, template, helm::DEFAULT_RELEASE)
        .map_err(|message| helm::ChartError { file: None, line: None, message })
        .and_then(|release| helm::template_text(root, &template.chart, &release, template.include_crds));
    match rendered {
        Ok((output, lookups)) => {
            let mut response = Response::success();
            response.data = serde_json::json!({"output": output, "lookups": lookups});
            response
        }
        Err(e) => Response::failure(e.to_string()),
    }
}

fn main() {
    sealbox_guest::run(step);
}
