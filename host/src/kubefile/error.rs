//! The one error type of the Kubefile front end: every failure names the
//! Kubefile as the user gave it, the line of the instruction, and the cause.

/// A Kubefile that cannot be parsed or planned, printed as `FILE:LINE: cause`, one line for each
/// error found: this one, the first by line, then [`Error::more`].
#[derive(Debug, Clone)]
pub struct Error {
    /// The Kubefile's path as the user gave it.
    pub file: String,
    /// The 1-based line where the failing instruction starts.
    pub line: usize,
    /// What went wrong.
    pub kind: ErrorKind,
    /// The other errors in the same Kubefile, in line order, so that one run reports them all.
    pub more: Box<[Error]>,
}

impl Error {
    /// An error of `file` at `line`, with no others.
    pub fn new(file: &str, line: usize, kind: ErrorKind) -> Error {
        Error { file: file.to_owned(), line, kind, more: Box::default() }
    }

    /// All of `errors` as one, the first by line leading and the rest after it in line order
    /// (errors of one line in the order found); `None` if there are none.
    pub fn all(mut errors: Vec<Error>) -> Option<Error> {
        let first = errors.pop()?;
        Some(first.join(errors))
    }

    /// This error and `others` as one, ordered as [`Error::all`] orders them.
    pub fn join(self, others: Vec<Error>) -> Error {
        let mut flat = Vec::with_capacity(others.len() + 1);
        for mut e in others.into_iter().chain([self]) {
            let more = std::mem::take(&mut e.more);
            flat.push(e);
            flat.extend(more.into_vec());
        }
        // Stable: errors of one line keep the order they were found in (`self` last of them).
        flat.sort_by_key(|e| e.line);
        let mut first = flat.remove(0);
        first.more = flat.into_boxed_slice();
        first
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.kind)?;
        for other in self.more.iter() {
            write!(f, "\n{other}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Short for results of the Kubefile front end.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a Kubefile was refused. Messages are lowercase and say what to do
/// instead where sealbox refuses on purpose.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file is not UTF-8 text.
    #[error("the Kubefile is not UTF-8 text")]
    NotUtf8,
    /// A `# escape=` directive names a character other than `\` or `` ` ``.
    #[error("invalid escape directive {0:?}: the escape character must be \\ or `")]
    InvalidEscape(String),
    /// A second `# escape=` directive.
    #[error("only one escape directive is allowed")]
    RepeatedEscape,
    /// An instruction keyword sealer's Kubefile does not have.
    #[error("unknown instruction {0:?}")]
    UnknownInstruction(String),
    /// A JSON array with something other than strings in it.
    #[error("{instruction}: a JSON array must hold strings only")]
    JsonNotStrings {
        /// The instruction, upper case.
        instruction: &'static str,
    },
    /// An argument that must be a JSON array of strings is not one.
    #[error("{instruction}: {what} must be a JSON array of strings, like {example}: {cause}")]
    BadJson {
        /// The instruction, upper case.
        instruction: &'static str,
        /// What the array holds.
        what: &'static str,
        /// A valid example.
        example: &'static str,
        /// What the JSON parser said.
        cause: String,
    },
    /// An instruction with missing or extra arguments.
    #[error("{instruction}: {problem}; usage: {usage}")]
    Usage {
        /// The instruction, upper case.
        instruction: &'static str,
        /// What is wrong.
        problem: String,
        /// The instruction's usage line.
        usage: &'static str,
    },
    /// A `--flag` the instruction does not take.
    #[error("{instruction} does not support the flag --{flag}{hint}")]
    UnsupportedFlag {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The flag's name without dashes.
        flag: String,
        /// Why, and what to do instead (starts with "; " when present).
        hint: &'static str,
    },
    /// `RUN` with a shell command.
    #[error(
        "RUN with a shell command is not supported: sealbox never runs host commands during a build \
         (every step runs as a sandboxed WASI module, with no shell and no network); prepare the files \
         before the build and COPY them into the image, or run a WASI module with RUN --module=PATH"
    )]
    RunShell,
    /// A `http://` or `https://` source.
    #[error(
        "{instruction} source {given:?} is remote: sealbox has no network during a build, and a download \
         is not reproducible; download it into the build context first and {instead}"
    )]
    RemoteSource {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
        /// What to write instead.
        instead: &'static str,
    },
    /// An APP source without `local://`.
    #[error("{instruction} source {given:?} needs a scheme: write local://PATH for a path in the build context")]
    AppSourceScheme {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
    },
    /// A source that leaves the build context (`..`, absolute, or a symlink out).
    #[error("{instruction} source {given:?} is outside the build context")]
    OutsideContext {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
    },
    /// A source that does not exist in the build context.
    #[error("{instruction} source {given:?} does not exist in the build context")]
    SourceNotFound {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
    },
    /// A source that is a fifo, socket or device rather than a file or directory.
    #[error("{instruction} source {given:?} is not a regular file or directory")]
    SpecialFile {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
    },
    /// A source with a malformed wildcard pattern.
    #[error("{instruction} source {given:?} is not a valid wildcard pattern")]
    BadPattern {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
    },
    /// A source the context's ignore file excludes.
    #[error("{instruction} source {given:?} is excluded by the build context's {file}")]
    ExcludedSource {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
        /// `.containerignore` or `.dockerignore`.
        file: String,
    },
    /// The context's ignore file cannot be read or has a malformed pattern.
    #[error("cannot use the build context's {file}: {cause}")]
    IgnoreFile {
        /// `.containerignore` or `.dockerignore`.
        file: &'static str,
        /// What is wrong.
        cause: String,
    },
    /// A wildcard source that matches nothing.
    #[error("{instruction} source {given:?} matches no file in the build context")]
    NoMatch {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The source as written.
        given: String,
    },
    /// A destination that leaves the image root.
    #[error("{instruction} destination {given:?} is outside the image root")]
    DestinationOutside {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The destination as written.
        given: String,
    },
    /// Several sources copied to a destination that is not a directory.
    #[error("{instruction} with more than one source needs a destination directory ending in /, not {destination:?}")]
    DestinationNotDir {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The destination as written.
        destination: String,
    },
    /// Reading the build context failed.
    #[error("cannot read {path:?} in the build context: {cause}")]
    Context {
        /// The context-relative path.
        path: String,
        /// The I/O error.
        cause: String,
    },
    /// A name in an application directory is not UTF-8, so it cannot be listed in `files`.
    #[error("APP {app}: file name {path:?} is not UTF-8 and cannot be listed in the image metadata")]
    AppFileNotUtf8 {
        /// The application.
        app: String,
        /// The name, lossily decoded.
        path: String,
    },
    /// Variable substitution failed (`${VAR:?message}` or a syntax error).
    #[error("{0}")]
    Substitution(String),
    /// A FROM that is not the first instruction, or a second FROM.
    #[error("{0}")]
    From(String),
    /// The base image could not be resolved.
    #[error("FROM {image}: {cause}")]
    BaseImage {
        /// The image as written (after substitution).
        image: String,
        /// Why the resolver failed.
        cause: String,
    },
    /// An APP name that is not a plain directory name.
    #[error("{instruction} name {name:?} must be a plain name: not empty, not . or .., without /")]
    AppName {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The name as written.
        name: String,
    },
    /// An instruction that needs an application that is not defined (yet).
    #[error("{instruction}: application {app:?} is not defined; define it first with APP {app} local://PATH")]
    UnknownApp {
        /// The instruction, upper case.
        instruction: &'static str,
        /// The application's name.
        app: String,
    },
    /// An application whose type could not be detected and has no APPCMDS.
    #[error(
        "APP {0}: its type cannot be detected (not a helm chart, nor only .sh files, nor only .yaml/.yml files); \
         say how to launch it with APPCMDS {0} [\"command\", ...]"
    )]
    AppNeedsCmds(String),
    /// LAUNCH or CMDS that is not the last instruction.
    #[error("{0} must be the last instruction, and only one LAUNCH or CMDS is allowed")]
    NotLast(&'static str),
    /// CMD and LAUNCH together.
    #[error("CMD and LAUNCH are mutually exclusive; use CMDS [\"command\", ...] or LAUNCH [\"app\", ...], not both")]
    CmdWithLaunch,
    /// A `RUN --module=PATH@DIGEST` with a malformed digest.
    #[error("RUN --module: invalid digest pin {0:?}; write PATH@sha256:<64 lowercase hex digits>")]
    BadDigest(String),
    /// The Kubefile has no FROM.
    #[error("the Kubefile has no FROM instruction; start it with FROM scratch or FROM IMAGE")]
    NoFrom,
}
