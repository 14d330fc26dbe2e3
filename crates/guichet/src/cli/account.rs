//! `guichet account …`: create, show, disable and enable customer accounts.

use std::io::BufRead;

use accounts::AccountStatus;
use accounts::service::SignupRequest;
use accounts::{Account, AccountError, Secret};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliError, parse_target};
use crate::app;
use crate::settings::Settings;

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
        println!("status:        {}", a.status.as_str());
        println!("created:       {}", a.created_at.to_rfc3339());
    }
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
            // An operator may hear that the address is taken: the command
            // runs on the server, not in a visitor's browser.
            match accounts.signup(req).await? {
                accounts::Signup::Created(outcome) => print_account(&outcome.account, args.json),
                accounts::Signup::AddressTaken(_) => {
                    return Err(AccountError::field(
                        "primary_email",
                        accounts::FieldProblem::EmailTaken,
                    )
                    .into());
                }
            }
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
            // Sessions and access tokens stop counting by the status itself
            // (every replica re-reads it); refresh tokens are revoked too,
            // so that re-enabling the account brings none of them back.
            oauth::refresh::revoke_account(accounts.db(), a.id, chrono::Utc::now()).await?;
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
