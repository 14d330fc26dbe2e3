//! Command-line interface: `serve`, `migrate`, `account …`.

use std::io::BufRead;
use std::path::PathBuf;

use accounts::service::{AccountStatus, Identifier, SignupRequest};
use accounts::{Account, AccountError, Secret};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::app::{self, Application, StartError};
use crate::settings::Settings;

/// Guichet, an OpenID Connect identity provider.
#[derive(Parser, Debug)]
#[command(name = "guichet", version, about)]
pub struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults.
    #[arg(long, global = true, env = "GUICHET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format: text or json (overrides log.format).
    #[arg(long, global = true, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
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
}

/// `guichet account …`
#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create an account; the password is read from the first line of standard input.
    Create(CreateArgs),
    /// Show an account by handle, primary email or customer code.
    Show(TargetArgs),
    /// Disable an account: its logins fail like a wrong password.
    Disable(TargetArgs),
    /// Enable a disabled account.
    Enable(TargetArgs),
}

/// Arguments of `account create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Given name.
    #[arg(long)]
    pub first_name: String,
    /// Family name.
    #[arg(long)]
    pub last_name: String,
    /// Primary email.
    #[arg(long)]
    pub email: String,
    /// Backup email.
    #[arg(long, default_value = "")]
    pub backup_email: String,
    /// Country, ISO 3166-1 alpha-2.
    #[arg(long, default_value = "FR")]
    pub country: String,
    /// Language: en, fr or it.
    #[arg(long, default_value = "en")]
    pub language: String,
    /// Company name; makes the account a company account.
    #[arg(long)]
    pub company: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// An account named on the command line.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// Customer handle, primary email or customer code.
    pub identifier: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
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

impl From<AccountError> for CliError {
    fn from(e: AccountError) -> Self {
        Self::Refused(e.to_string())
    }
}

fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "handle": a.handle,
        "customer_code": a.customer_code,
        "subject": a.subject,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "primary_email": a.primary_email,
        "primary_email_verified": a.primary_email_verified,
        "backup_email": a.backup_email,
        "country": a.country,
        "language": a.language,
        "kind": a.kind,
        "company_name": a.company_name,
        "status": a.status,
        "created_at": a.created_at.to_rfc3339(),
    })
}

fn print_account(a: &Account, as_json: bool) {
    if as_json {
        println!("{}", account_json(a));
    } else {
        println!("handle:        {}", a.handle);
        println!("customer code: {}", a.customer_code);
        println!("name:          {} {}", a.first_name, a.last_name);
        println!(
            "primary email: {} ({})",
            a.primary_email.as_deref().unwrap_or("-"),
            if a.primary_email_verified {
                "verified"
            } else {
                "not verified"
            }
        );
        println!(
            "backup email:  {}",
            a.backup_email.as_deref().unwrap_or("-")
        );
        println!("status:        {}", a.status);
        println!("created:       {}", a.created_at.to_rfc3339());
    }
}

fn parse_target(s: &str) -> Result<Identifier, CliError> {
    Identifier::parse(s).ok_or_else(|| {
        CliError::Refused(format!(
            "{s:?} is not a customer handle, primary email or customer code"
        ))
    })
}

/// Runs an account command against the configured database.
pub async fn run_account(settings: &Settings, cmd: AccountCommand) -> Result<(), CliError> {
    let db = app::connect_database(settings, settings.database.run_migrations).await?;
    let accounts = app::accounts_service(settings, db)?;
    match cmd {
        AccountCommand::Create(args) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let password = Secret::new(line.trim_end_matches(['\r', '\n']).to_owned());
            let req = SignupRequest {
                first_name: args.first_name,
                last_name: args.last_name,
                primary_email: args.email,
                backup_email: args.backup_email,
                password: password.clone(),
                password_confirm: password,
                country: args.country,
                language: args.language,
                kind: if args.company.is_some() {
                    "company"
                } else {
                    "individual"
                }
                .into(),
                company_name: args.company.unwrap_or_default(),
            };
            let outcome = accounts.signup(req).await?;
            print_account(&outcome.account, args.json);
        }
        AccountCommand::Show(t) => {
            let a = accounts
                .find(&parse_target(&t.identifier)?)
                .await?
                .ok_or(AccountError::NotFound)?;
            print_account(&a, t.json);
        }
        AccountCommand::Disable(t) => {
            let a = accounts
                .set_status(&parse_target(&t.identifier)?, AccountStatus::Disabled)
                .await?;
            print_account(&a, t.json);
        }
        AccountCommand::Enable(t) => {
            let a = accounts
                .set_status(&parse_target(&t.identifier)?, AccountStatus::Active)
                .await?;
            print_account(&a, t.json);
        }
    }
    Ok(())
}

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn run_serve(settings: Settings) -> Result<(), CliError> {
    let app = Application::build(settings).await?;
    tracing::info!(addr = %app.local_addr(), "guichet listening");
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("guichet stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
