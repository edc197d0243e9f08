//! The command-line interface: argument parsing and the exit-code contract
//! (0 success, 1 the work failed, 2 the invocation was wrong).

mod module;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build sealer-style cluster images in which every build step runs as a
/// capability-restricted WASI module.
#[derive(Debug, Parser)]
#[command(name = "sealbox", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run, inspect and annotate step modules.
    #[command(subcommand)]
    Module(module::ModuleCommand),
}

/// A wrong invocation: exit status 2, and a message that says what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The work ran and failed (a step failed, a policy denied): exit status 1.
/// Its message has already been printed when `printed` is set.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failed {
    pub message: String,
    pub printed: bool,
}

/// Parses the command line, runs the command, and maps the outcome to an
/// exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Module(cmd) => module::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(usage) = e.downcast_ref::<UsageError>() {
                eprintln!("error: {usage}");
                return ExitCode::from(2);
            }
            if let Some(failed) = e.downcast_ref::<Failed>() {
                if !failed.printed {
                    eprintln!("error: {}", failed.message);
                }
                return ExitCode::from(1);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Parses `K=V` (the value may itself contain `=`).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// The build's notion of "now": `SOURCE_DATE_EPOCH` from the environment,
/// or 0, so that a build never depends on when it ran.
pub fn source_date_epoch() -> Result<u64, UsageError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            v.trim().parse().map_err(|_| UsageError(format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")))
        }
        _ => Ok(0),
    }
}
