//! `sealbox push`, `pull`, `login`, `logout`, and the registry options
//! every command that talks to a registry shares.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::UsageError;
use super::module::Format;
use crate::registry::{self, Reference, auth};

/// How to reach registries; flattened into push, pull, build and module
/// push so each accepts the same flags.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Talk plain HTTP to the registry. HTTPS is the default and there is
    /// never a fallback from it.
    #[arg(long)]
    insecure: bool,
    /// Verify the registry's TLS certificate; `--tls-verify=false` skips
    /// the check (the connection is still encrypted).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tls_verify: bool,
    /// Trust only the CA certificates in this PEM file (a private registry).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The credentials file (docker config.json format). Default:
    /// $REGISTRY_AUTH_FILE, else ~/.config/sealbox/auth.json, then podman's
    /// and docker's files are read too.
    #[arg(long, env = "REGISTRY_AUTH_FILE", value_name = "FILE")]
    authfile: Option<PathBuf>,
    /// Blobs transferred at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    jobs: usize,
}

impl RegistryArgs {
    /// The options of the registry client.
    pub fn options(&self) -> registry::Options {
        registry::Options {
            insecure: self.insecure,
            tls_verify: self.tls_verify,
            ca_file: self.ca_file.clone(),
            auth_file: self.authfile.clone(),
            jobs: self.jobs.max(1),
            ..registry::Options::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image in the local store (a name or digest).
    name: String,
    /// Where to push it, `REGISTRY/REPOSITORY[:TAG]` (default: NAME).
    dest: Option<String>,
    /// `text` prints the digest; `json` prints what moved.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    common: super::StoreArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image, `REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`; it is named
    /// so in the local store.
    reference: String,
    /// `text` prints the digest; `json` prints what moved.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    common: super::StoreArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry, `HOST[:PORT]`.
    registry: String,
    /// The user name.
    #[arg(short = 'u', long)]
    username: String,
    /// Read the password from stdin (the only way: a password on the
    /// command line ends up in shell history and `ps`).
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    registry_args: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry, `HOST[:PORT]`.
    registry: String,
    #[arg(long, env = "REGISTRY_AUTH_FILE", value_name = "FILE")]
    authfile: Option<PathBuf>,
}

/// Parses a command-line reference, mapping mistakes to usage errors.
pub fn parse_reference(what: &str, s: &str) -> Result<Reference> {
    Reference::parse(s).map_err(|e| UsageError(format!("{what}: {e:#}")).into())
}

pub fn push(args: PushArgs) -> Result<()> {
    let dest_text = args.dest.as_deref().unwrap_or(&args.name);
    let dest = parse_reference("push destination", dest_text)?;
    if !Reference::is_remote(dest_text) {
        return Err(UsageError(format!(
            "push destination {dest_text:?} names no registry: give REGISTRY/REPOSITORY[:TAG], e.g. \
             registry.example.com/{dest_text}"
        ))
        .into());
    }
    let store = args.common.open_store()?;
    let desc = store
        .resolve(&args.name)
        .with_context(|| format!("image {} is not in the local store (see `sealbox images`)", args.name))?;
    let report = registry::push(&store, &desc, &dest, &args.registry.options())
        .with_context(|| format!("pushing {} to {dest}", args.name))?;
    print_report(&report, args.format, "pushed")
}

pub fn pull(args: PullArgs) -> Result<()> {
    let src = parse_reference("pull", &args.reference)?;
    let store = args.common.open_store()?;
    let (_, report) =
        registry::pull(&store, &src, &args.registry.options()).with_context(|| format!("pulling {src}"))?;
    print_report(&report, args.format, "pulled")
}

fn print_report(report: &registry::TransferReport, format: Format, verb: &str) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Text => {
            eprintln!(
                "{verb} {}: {} blobs ({}) transferred, {} already there, {} mounted",
                report.reference,
                report.blobs_transferred,
                human(report.bytes),
                report.blobs_skipped,
                report.blobs_mounted
            );
            println!("{}", report.digest);
        }
    }
    Ok(())
}

pub fn login(args: LoginArgs) -> Result<()> {
    if !args.password_stdin {
        return Err(UsageError("give the password on stdin with --password-stdin".into()).into());
    }
    let mut password = String::new();
    if std::io::stdin().is_terminal() {
        eprint!("Password: ");
    }
    std::io::stdin().read_to_string(&mut password).context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(UsageError("the password on stdin is empty".into()).into());
    }
    let registry = normalise_registry(&args.registry)?;
    let file = auth::login_file(args.registry_args.authfile.as_deref())?;
    let credentials =
        auth::Credentials { username: args.username.clone(), password: password.clone(), source: file.clone() };
    registry::client::check_login(&registry, credentials, &args.registry_args.options())
        .with_context(|| format!("logging in to {registry}"))?;
    auth::store(&file, &registry, &args.username, &password)?;
    eprintln!("Login Succeeded (credentials in {})", file.display());
    Ok(())
}

pub fn logout(args: LogoutArgs) -> Result<()> {
    let registry = normalise_registry(&args.registry)?;
    let file = auth::login_file(args.authfile.as_deref())?;
    if auth::remove(&file, &registry)? {
        eprintln!("Removed the credentials of {registry} from {}", file.display());
        Ok(())
    } else {
        Err(super::Failed { message: format!("not logged in to {registry} (in {})", file.display()), printed: false }
            .into())
    }
}

/// `HOST[:PORT]`, accepting a pasted `https://HOST/` too.
fn normalise_registry(s: &str) -> Result<String> {
    let host = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = host.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') {
        return Err(UsageError(format!("{s:?} is not a registry: give HOST[:PORT]")).into());
    }
    Ok(host.to_string())
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
