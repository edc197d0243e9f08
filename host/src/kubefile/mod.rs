//! The Kubefile front end: [`parse`] reads sealer's Kubefile syntax,
//! [`plan()`] gives it meaning for one platform over an untrusted build context,
//! and the resulting [`Plan`] is what the build pipeline runs.
//!
//! ```text
//! let kubefile = kubefile::parse("Kubefile", &bytes)?;
//! let plan = kubefile::plan("Kubefile", &kubefile, &context_dir, &options, &mut resolve_base)?;
//! for step in &plan.steps { /* Layer: copy entries and pack; Metadata: history only */ }
//! let annotation = plan.extension.to_json();
//! ```
//!
//! Every error reads `KUBEFILE:LINE: cause`, naming the Kubefile as the user gave it.

mod app;
mod context;
mod error;
mod expand;
mod extension;
mod parser;
mod plan;

#[cfg(test)]
mod tests;

pub use app::AppType;
pub use error::{Error, ErrorKind, Result};
pub use extension::{
    ANNOTATION, APP_ROOT, Application, BuildClient, ImageExtension, LABEL_CNI_PREFIX, LABEL_CSI_PREFIX,
    LABEL_KUBE_VERSION, Launch, SCHEMA_VERSION, to_go_json,
};
pub use parser::{Instruction, Keyword, Kubefile, parse};
pub use plan::{
    BaseImage, BaseRef, BaseResolver, CopyEntry, EntryKind, ImageConfig, ImageType, LayerStep, MetadataStep,
    ModuleStep, Plan, PlanOptions, Platform, Step, plan,
};
