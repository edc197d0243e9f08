//! The `imagelist` builtin step: finds every container image a cluster image
//! needs, so that an offline install has them all.
//!
//! It reads the rootfs being built (mounted at `/in`) where sealer looks
//! ([`walk`]): `manifests/` YAML and `manifests/imageList`,
//! `application/apps/<app>/` (recording the app's name), and Helm charts under
//! `charts/` and in apps, rendered like `helm template` ([`helm`]). Images
//! are found by YAML structure ([`extract`]), never by matching lines, and a
//! value counts only if it parses as a reference ([`mod@reference`]) and is not a
//! template leftover or placeholder.
//!
//! # Configuration (the request's `config`)
//!
//! ```json
//! {"extraImages": ["nginx:1.25", "…contents of --image-list FILE…"],
//!  "ignoredImages": ["…contents of --ignored-image-list FILE…"],
//!  "requireDigests": false, "verbose": false, "ignoreChartErrors": false,
//!  "renderedCharts": false}
//! ```
//!
//! # Results
//!
//! - `/out/manifests/imageList`: every distinct normalised image, sorted, one
//!   per line (written when there is an image or the input had the file).
//! - Response `data`:
//!   ```json
//!   {"images": [{"image": "docker.io/library/nginx:alpine", "appName": "web",
//!                "platform": {"architecture": "amd64", "os": "linux"}}],
//!    "imageList": "docker.io/library/nginx:alpine\n",
//!    "floating": [{"image": "…:latest", "reason": "latest|untagged", "file": "…", "line": 3}],
//!    "skipped": [{"value": "string", "reason": "…", "field": "Kind/name spec.image", "file": "…", "line": 9}]}
//!   ```
//!   `images` is exactly the value of sealer's `sealer.image.container.images`
//!   manifest annotation (set it only when the list is not empty); `skipped`
//!   is present only with `verbose`. With `renderedCharts`, the data also
//!   holds `renderedCharts: [{"chart", "appName"?, "name", "template",
//!   "manifest"}]`: every manifest the charts rendered to, so that the build
//!   can hand them to policy steps (the issue asks that policies see rendered
//!   chart manifests); nothing of it is written to `/out`.
//! - Diagnostics: a warning (rule `imagelist/floating-tag`) for each image
//!   whose tag is `latest` or missing; with `requireDigests`, an error (rule
//!   `imagelist/require-digests`) for each image without a digest; errors
//!   for unreadable or invalid YAML, bad image-list lines and charts that do
//!   not render (warnings with `ignoreChartErrors`, values that break a
//!   chart's `values.schema.json` included); with `verbose`, a note (rule
//!   `imagelist/skipped`) per value not taken and one (rule
//!   `imagelist/helm-lookup`) per chart template that called `lookup`. Any
//!   error makes the step fail.
//! - With `template` (`sealbox chart template`), only that chart is
//!   rendered: `data` is `{"output": "…helm template's text…", "lookups":
//!   ["chart/templates/x.yaml"]}`.

#![deny(missing_docs)]

pub mod collect;
pub mod config;
pub mod extract;
pub mod helm;
pub mod imagelist_file;
pub mod output;
pub use sealbox_formats::reference;
pub mod walk;
pub use sealbox_formats::yaml;

#[cfg(test)]
mod testutil;

pub use collect::{Outcome, collect};
pub use config::Config;
pub use output::{ContainerImage, ImagePlatform};
pub use reference::{Reference, ReferenceError};
