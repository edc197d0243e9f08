//! What kind of application an APP's sources are, and which launch files
//! sealer lists for it (sealer's `build/kubefile/parser/utils.go`
//! `getApplicationType` and `getApplicationFiles`), read through the
//! untrusted context.

use std::ffi::OsStr;
use std::path::Path;

use cap_std::fs::Dir;

use super::context::{self, ContextError, Kind, Resolved};
use super::ignore::Ignore;

/// An application type sealer knows how to launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppType {
    /// A Helm chart: launched with `helm install NAME application/apps/NAME/`.
    Helm,
    /// Only `.yaml`/`.yml` files: launched with `kubectl apply -f` on each.
    Kube,
    /// Only `.sh` files: launched with `bash` on each.
    Shell,
}

impl AppType {
    /// The name sealer writes in the image extension.
    pub fn as_str(self) -> &'static str {
        match self {
            AppType::Helm => "helm",
            AppType::Kube => "kube",
            AppType::Shell => "shell",
        }
    }
}

/// One APP source: the name it lands under in the app directory and where it is in the context.
pub(crate) struct Source<'a> {
    pub name: &'a OsStr,
    pub resolved: &'a Resolved,
    /// Whether the source was written with a trailing `/`: sealer then lists a directory's files
    /// without the leading `/` (`a.yaml`, not `/a.yaml`).
    pub trailing_slash: bool,
}

/// The detected type (`None`: not detected, APPCMDS needed) and the launch files, as sealer gives them:
/// `[name]` for helm; otherwise each file source's name and, for a directory source, `/` followed by
/// each file's path inside it (no `/` if the source was written ending in `/`); a shell app lists its
/// first source only. Files the context's ignore file excludes are not copied, so not listed either.
pub(crate) fn detect(
    ctx: &Dir,
    app: &str,
    sources: &[Source<'_>],
    ignore: &Ignore,
) -> Result<(Option<AppType>, Vec<std::path::PathBuf>), ContextError> {
    if is_helm(ctx, sources)? {
        return Ok((Some(AppType::Helm), vec![app.into()]));
    }
    // Per source, the files it brings: (path to list, name to judge the type by).
    let mut per_source: Vec<Vec<std::path::PathBuf>> = Vec::new();
    let (mut shell, mut kube, mut unknown) = (false, false, false);
    for source in sources {
        let listed = if source.resolved.kind == Kind::Dir {
            let lead = if source.trailing_slash { "" } else { "/" };
            context::walk_files(ctx, &source.resolved.path, &|path| !ignore.is_excluded(path))?
                .into_iter()
                .map(|p| Path::new(lead).join(p))
                .collect::<Vec<_>>()
        } else {
            vec![source.name.into()]
        };
        for file in &listed {
            match file_type(file) {
                Some(AppType::Shell) => shell = true,
                Some(_) => kube = true,
                None => unknown = true,
            }
        }
        per_source.push(listed);
    }
    let app_type = match (unknown, shell, kube) {
        (false, true, false) => AppType::Shell,
        (false, false, true) => AppType::Kube,
        _ => return Ok((None, Vec::new())),
    };
    let files = if app_type == AppType::Shell {
        per_source.into_iter().next().unwrap_or_default()
    } else {
        per_source.into_iter().flatten().collect()
    };
    Ok((Some(app_type), files))
}

fn file_type(path: &Path) -> Option<AppType> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "sh" => Some(AppType::Shell),
        "yaml" | "yml" => Some(AppType::Kube),
        _ => None,
    }
}

/// A chart is a directory source holding `Chart.yaml`, `values.yaml` and `templates`, or the three given
/// as separate sources (directly or as the files of directory sources).
fn is_helm(ctx: &Dir, sources: &[Source<'_>]) -> Result<bool, ContextError> {
    const CHART: u8 = 1;
    const VALUES: u8 = 2;
    const TEMPLATES: u8 = 4;
    let bit = |name: &OsStr| match name.to_str() {
        Some("Chart.yaml") => CHART,
        Some("values.yaml") => VALUES,
        Some("templates") => TEMPLATES,
        _ => 0,
    };
    let mut seen = 0;
    for source in sources {
        if source.resolved.kind == Kind::Dir {
            // A `templates` directory given as a source of its own lands as the chart's templates.
            seen |= bit(source.name) & TEMPLATES;
            let dir = &source.resolved.path;
            let mut whole = true;
            for name in ["Chart.yaml", "values.yaml", "templates"] {
                whole &= context::has_entry(ctx, dir, name)?;
            }
            if whole {
                return Ok(true);
            }
            for name in context::file_names(ctx, dir)? {
                seen |= bit(&name);
            }
        } else {
            seen |= bit(source.name);
        }
    }
    Ok(seen == CHART | VALUES | TEMPLATES)
}
