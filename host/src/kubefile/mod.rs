//! The Kubefile front end: [`parse`] reads sealer's Kubefile syntax,
//! [`plan()`] gives it meaning for one platform over an untrusted build context,
//! and the resulting [`Plan`] is what the build pipeline runs.
//!
//! ```text
//! let kubefile = kubefile::parse_all("Kubefile", &bytes)?;         // once; plan() reports its bad lines
//! for platform in platforms {                                      // ${ARCH} differs per platform
//!     let options = PlanOptions { build_args, image_type, ..PlanOptions::new(platform) };
//!     let plan = kubefile::plan("Kubefile", &kubefile, &context_dir, &options, &mut resolve_base)?;
//!     for step in &plan.steps {
//!         match step {
//!             PlanStep::Layer(layer) => { /* stage layer.entries, pack, history: layer.created_by(diff_id_hex) */ }
//!             PlanStep::Metadata(meta) => { /* history: meta.created_by, empty_layer: true */ }
//!             PlanStep::Module(module) => { /* RUN --module: not run yet */ }
//!         }
//!     }
//!     // config: plan.config (env, labels, author); annotation: plan.extension.to_json()
//! }
//! ```
//!
//! The planner resolves every source through the context `Dir` and refuses
//! paths that leave it, so [`CopyEntry::source`] is a context-relative path
//! with no symlinks left to follow. The context may still change before the
//! pipeline copies it; the pipeline reads it inside the sandbox, which holds
//! only the context, so a swapped-in symlink cannot reach outside either.
//!
//! Every error reads `KUBEFILE:LINE: cause`, naming the Kubefile as the user gave it.

mod app;
mod context;
mod error;
mod expand;
mod extension;
mod ignore;
mod parser;
mod plan;
mod planner;
mod rootfs;

#[cfg(test)]
mod tests;

pub use app::AppType;
pub use error::{Error, ErrorKind, Result};
pub use extension::{
    ANNOTATION, APP_ROOT, Application, BuildClient, ContainerImage, ContainerImagePlatform, ImageExtension,
    LABEL_CNI_PREFIX, LABEL_CSI_PREFIX, LABEL_KUBE_VERSION, LABEL_SEALER_VERSION, Launch, SCHEMA_VERSION,
    container_images_json, inspect_labels, to_go_json,
};
pub use ignore::{IGNORE_FILES, Ignore};
pub use parser::{Instruction, Keyword, Kubefile, parse, parse_all};
pub use plan::{
    BaseImage, BaseRef, BaseResolver, CopyEntry, EntryKind, ImageConfig, ImageType, KNOWN_ARCHITECTURES, LayerStep,
    MetadataStep, ModuleStep, Plan, PlanOptions, PlanStep, Platform, parse_platform,
};
pub use planner::plan;
pub use rootfs::{Node, RootfsTree};
