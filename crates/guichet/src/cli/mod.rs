//! Command-line interface: the top-level parser and the dispatch, with one
//! module per command group. Every command prints its result, and only its
//! result, on standard output (`--json` for machines); logs go to standard
//! error (see [`crate::telemetry`]).

pub mod account;
pub mod client;
pub mod keys;
pub mod migrate;
pub mod serve;
pub mod support;

use std::path::PathBuf;

use accounts::AccountError;
use accounts::Identifier;
use clap::{Parser, Subcommand};
use oauth::OAuthError;

pub use account::{AccountCommand, CreateArgs, TargetArgs, run_account};
pub use client::{ClientArgs, ClientCommand, ClientTarget, run_client};
pub use keys::{KeysCommand, run_keys};
pub use migrate::run_migrate;
pub use serve::{run_serve, shutdown_signal};
pub use support::{SupportArgs, SupportCommand, run_support};

use crate::app::StartError;
use crate::settings::{LogFormat, Settings};

/// Guichet, an OpenID Connect identity provider.
#[derive(Parser, Debug)]
#[command(name = "guichet", version, about)]
pub struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults.
    #[arg(long, global = true, env = "GUICHET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format: text or json (overrides log.format).
    #[arg(long, global = true)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server until SIGTERM or Ctrl-C.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Operator commands on customer accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Operator commands on OAuth clients (relying parties).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Support flows for customers who cannot log in, as in the operator API.
    #[command(subcommand)]
    Support(SupportCommand),
}

impl Command {
    /// Whether the command does one thing and exits (every one but `serve`):
    /// its logs stay at `warn` unless a level is asked for.
    pub fn is_one_shot(&self) -> bool {
        !matches!(self, Self::Serve)
    }

    /// Runs the command with the loaded settings.
    pub async fn run(self, settings: Settings) -> Result<(), CliError> {
        match self {
            Self::Serve => run_serve(settings).await,
            Self::Migrate => run_migrate(&settings).await,
            Self::Account(cmd) => run_account(&settings, cmd).await,
            Self::Client(cmd) => run_client(&settings, cmd).await,
            Self::Keys(cmd) => run_keys(&settings, cmd).await,
            Self::Support(cmd) => run_support(&settings, cmd).await,
        }
    }
}

/// A command failed; `main` prints it as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The domain refused.
    #[error("{0}")]
    Refused(String),
    /// I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<OAuthError> for CliError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidClientSpec(errs) => Self::Refused(
                errs.iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            OAuthError::ClientNotFound => Self::Refused("no such client".into()),
            other => Self::Refused(other.to_string()),
        }
    }
}

impl From<AccountError> for CliError {
    fn from(e: AccountError) -> Self {
        Self::Refused(e.to_string())
    }
}

impl From<app::AppError> for CliError {
    fn from(e: app::AppError) -> Self {
        Self::Refused(e.to_string())
    }
}

/// Reads the account an operator names: handle, primary email or customer code.
fn parse_target(s: &str) -> Result<Identifier, CliError> {
    Identifier::parse(s).ok_or_else(|| {
        CliError::Refused(format!(
            "{s:?} is not a customer handle, primary email or customer code"
        ))
    })
}
