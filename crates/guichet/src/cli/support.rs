//! `guichet support …`: the support flows of the operator API, from the
//! command line.

use ::app::session::Sessions;
use accounts::SupportCase;
use clap::{Args, Subcommand};
use serde_json::json;
use server::admin::support::{SupportDesk, SupportOutcome, account_summary, action_json};
use server::{LoginConfig, ServerConfig, SessionConfig, Store};

use super::account::TargetArgs;
use super::{CliError, parse_target};
use crate::app;
use crate::settings::Settings;

/// `guichet support …`: each action names the operator and the support case,
/// and lands in the account's support trail. None shows or sets a password.
#[derive(Subcommand, Debug)]
pub enum SupportCommand {
    /// Make the backup email the primary one (the old primary is dropped); the
    /// customer must name a new backup at the next login. Ends every session
    /// and refresh token, and tells both addresses.
    PromoteBackupEmail(SupportArgs),
    /// Replace the primary email after an identity check; the new address is
    /// confirmed by a code at the next login. Ends every session and refresh
    /// token, and tells the old and the new address.
    ReplacePrimaryEmail {
        /// The account and the case.
        #[command(flatten)]
        args: SupportArgs,
        /// The new primary email.
        email: String,
    },
    /// Turn two-factor authentication off after an identity check (lost phone,
    /// no emergency code); the customer is told.
    #[command(name = "disable-2fa")]
    DisableTwoFactor(SupportArgs),
    /// Mail a password-reset link to the primary email (never shown here).
    SendPasswordReset(SupportArgs),
    /// End every browser session and refresh token of the account.
    EndSessions(SupportArgs),
    /// Show the support trail of an account, newest first.
    Actions(TargetArgs),
}

/// The account a support action is for, and who does it and why.
#[derive(Args, Debug)]
pub struct SupportArgs {
    /// Customer handle, primary email or customer code.
    pub account: String,
    /// The operator's name, for the trail.
    #[arg(long)]
    pub operator: String,
    /// The support case reference.
    #[arg(long = "case")]
    pub case_ref: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The longest operator name, as for operator API tokens.
const MAX_OPERATOR_CHARS: usize = 64;

/// Checks `--operator` by the rule for operator API names, so that the trail
/// reads the same whichever way an action came.
fn operator_name(name: &str) -> Result<&str, CliError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_OPERATOR_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(CliError::Refused(
            "--operator must be 1 to 64 ASCII letters, digits, '.', '_', '-' or '@'".into(),
        ))
    }
}

/// What the support flows need of the server's settings outside a running
/// server: the public URL for the links in mail (derived from `server.bind`
/// when empty, as `serve` does) and the session lifetimes. The login settings
/// play no part in them.
fn support_config(settings: &Settings) -> Result<ServerConfig, CliError> {
    let public_url = match &settings.server.public_url {
        Some(u) => u.url().clone(),
        None => url::Url::parse(&format!("http://{}/", settings.server.bind))
            .map_err(|e| CliError::Refused(format!("server.public_url: {e}")))?,
    };
    Ok(ServerConfig {
        public_url,
        max_body_bytes: settings.server.max_body_bytes,
        limits: ::app::config::RequestLimits::default(),
        session: SessionConfig {
            idle_timeout: settings.sessions.idle_timeout_secs,
            absolute_timeout: settings.sessions.absolute_timeout_secs,
        },
        login: LoginConfig::default(),
        access_token_audience: None,
        code_ttl: settings.oauth.code_ttl_secs,
        rates: settings.limits.rates(),
        database_timeout: settings.database.acquire_timeout_ms,
    })
}

/// The support desk over the configured database, mail queue and session
/// store. Mail is queued in the database, for the servers' mail worker to
/// send. Sessions are reachable only in Redis: in-memory sessions live inside
/// the server process, out of this command's reach.
async fn support_desk(settings: &Settings) -> Result<SupportDesk, CliError> {
    let db = app::connect_database(settings, settings.database.run_migrations).await?;
    let accounts = app::accounts_service(settings, db.clone())?;
    let config = support_config(settings)?;
    let store = app::session_store(settings).await?;
    let sessions = match &store {
        Store::Memory(_) => None,
        Store::Redis(_) => Some(Sessions::new(store.clone(), config.session.clone())),
    };
    let mfa = app::two_factor(settings, &config.public_url, db.clone(), store)?;
    let mail = app::mail_queue(settings, db);
    Ok(SupportDesk::new(accounts, sessions, mfa, mail, config))
}

/// What to say when the sessions could not be ended from here.
const SESSIONS_OUT_OF_REACH: &str = "browser sessions NOT ended: sessions are kept in the \
     server's memory (sessions.redis_url is empty), out of this command's reach; \
     use POST /admin/v1/accounts/{account}/end-sessions on the operator API, \
     or restart the server";

/// Prints what a support flow did; a warning goes to standard error as well
/// when the sessions could not be ended, so that it is not lost with `--json`.
fn print_outcome(out: &SupportOutcome, as_json: bool) {
    if as_json {
        let mut v = out.to_json();
        if out.sessions_ended == Some(false) {
            v["warning"] = json!(SESSIONS_OUT_OF_REACH);
        }
        println!("{v}");
    } else {
        let a = &out.account;
        println!("handle:          {}", a.handle);
        println!(
            "primary email:   {} ({})",
            a.primary_email.as_deref().unwrap_or("-"),
            if a.primary_email_verified {
                "verified"
            } else {
                "to be confirmed by a code at the next login"
            }
        );
        println!(
            "backup email:    {}",
            a.backup_email.as_deref().unwrap_or("-")
        );
        if a.must_set_backup {
            println!("next login:      must name a new backup email first");
        }
        match out.sessions_ended {
            Some(true) => println!("sessions:        ended"),
            Some(false) => println!("sessions:        {SESSIONS_OUT_OF_REACH}"),
            None => {}
        }
        if let Some(revoked) = out.refresh_tokens_revoked {
            println!(
                "refresh tokens:  {}",
                if revoked { "revoked" } else { "NOT revoked" }
            );
        }
        for to in &out.mailed {
            println!("mail queued to:  {to}");
        }
        for step in &out.incomplete {
            println!("FAILED:          {step} (see the log)");
        }
    }
    if out.sessions_ended == Some(false) {
        eprintln!("guichet: warning: {SESSIONS_OUT_OF_REACH}");
    }
}

/// A support flow named on the command line.
enum Flow {
    Promote,
    Replace(String),
    DisableTwoFactor,
    SendReset,
    EndSessions,
}

impl Flow {
    /// The action's name in audit lines, as in the operator API.
    fn audit_name(&self) -> &'static str {
        match self {
            Self::Promote => "account.promote_backup_email",
            Self::Replace(_) => "account.replace_primary_email",
            Self::DisableTwoFactor => "account.disable_2fa",
            Self::SendReset => "account.send_password_reset",
            Self::EndSessions => "account.end_sessions",
        }
    }
}

/// Prints the support trail of an account.
async fn print_trail(desk: &SupportDesk, t: &TargetArgs) -> Result<(), CliError> {
    let (account, trail) = desk.actions(&parse_target(&t.identifier)?).await?;
    if t.json {
        let actions: Vec<_> = trail.iter().map(action_json).collect();
        println!(
            "{}",
            json!({"account": account_summary(&account), "actions": actions})
        );
    } else {
        for a in &trail {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                a.at.to_rfc3339(),
                a.operator,
                a.action,
                a.case_ref,
                a.detail
            );
        }
    }
    Ok(())
}

/// Runs a support command against the configured database, mail queue and
/// session store. Each action writes an `audit` log line, as the operator API
/// does. Exits non-zero when a step after the change failed, and when
/// `end-sessions` could only revoke the refresh tokens.
pub async fn run_support(settings: &Settings, cmd: SupportCommand) -> Result<(), CliError> {
    let (flow, args) = match cmd {
        SupportCommand::Actions(t) => return print_trail(&support_desk(settings).await?, &t).await,
        SupportCommand::PromoteBackupEmail(a) => (Flow::Promote, a),
        SupportCommand::ReplacePrimaryEmail { args, email } => (Flow::Replace(email), args),
        SupportCommand::DisableTwoFactor(a) => (Flow::DisableTwoFactor, a),
        SupportCommand::SendPasswordReset(a) => (Flow::SendReset, a),
        SupportCommand::EndSessions(a) => (Flow::EndSessions, a),
    };
    let case = SupportCase::new(operator_name(&args.operator)?, &args.case_ref)?;
    let id = parse_target(&args.account)?;
    let desk = support_desk(settings).await?;
    let result = match &flow {
        Flow::Promote => desk.promote_backup_email(&id, &case).await,
        Flow::Replace(email) => desk.replace_primary_email(&id, email, &case).await,
        Flow::DisableTwoFactor => desk.disable_two_factor(&id, &case).await,
        Flow::SendReset => desk.send_password_reset(&id, &case).await,
        Flow::EndSessions => desk.end_sessions(&id, &case).await,
    };
    tracing::info!(
        target: "audit",
        operator = case.operator,
        action = flow.audit_name(),
        account = args.account,
        case_ref = case.case_ref,
        outcome = if result.is_ok() { "success" } else { "error" },
        via = "cli",
        "operator command"
    );
    let out = result?;
    print_outcome(&out, args.json);
    if matches!(flow, Flow::EndSessions) && out.sessions_ended == Some(false) {
        return Err(CliError::Refused(
            "only the refresh tokens were revoked (see above)".into(),
        ));
    }
    if !out.incomplete.is_empty() {
        return Err(CliError::Refused(format!(
            "the change is stored, but these steps failed: {}",
            out.incomplete.join(", ")
        )));
    }
    Ok(())
}
