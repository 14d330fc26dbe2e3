//! Command-line interface: `serve`, `migrate`, `account …`, `support …`.

use std::io::BufRead;
use std::path::PathBuf;

use accounts::service::{AccountStatus, Identifier, SignupRequest};
use accounts::{Account, AccountError, Secret, SupportCase};
use clap::{Args, Parser, Subcommand};
use oauth::clients::{self, Client, ClientSpec};
use oauth::{OAuthError, SigningAlg};
use serde_json::json;
use server::admin::client_json;
use server::admin::support::{
    SupportDesk, SupportError, SupportOutcome, account_summary, action_json,
};
use server::session::Sessions;
use server::{LoginConfig, ServerConfig, SessionConfig, Store};

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

/// `guichet client …`
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a client; its secret (if any) is printed once.
    Create(ClientArgs),
    /// List every client.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show(ClientTarget),
    /// Change a client; only the options given change.
    Update {
        /// The client id.
        client_id: String,
        /// What to change.
        #[command(flatten)]
        args: ClientArgs,
    },
    /// Delete a client.
    Delete(ClientTarget),
    /// Replace a client's secret; the old one stops working. Prints the new one once.
    RotateSecret(ClientTarget),
}

/// A client named on the command line.
#[derive(Args, Debug)]
pub struct ClientTarget {
    /// The client id.
    pub client_id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Client settings on the command line.
#[derive(Args, Debug, Default)]
pub struct ClientArgs {
    /// Display name (shown on the consent page).
    #[arg(long)]
    pub name: Option<String>,
    /// confidential or public.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none.
    #[arg(long)]
    pub auth_method: Option<String>,
    /// A redirect URI (repeat for several; replaces the list).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeat; replaces the list).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-channel logout URI.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// A grant type (repeat; replaces the list).
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// A scope (repeat; replaces the list).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// First-party: skips the consent page.
    #[arg(long)]
    pub first_party: Option<bool>,
    /// Logins for this client need a second factor.
    #[arg(long)]
    pub requires_2fa: Option<bool>,
    /// A resource server that may introspect tokens issued to other clients.
    #[arg(long)]
    pub introspects_others: Option<bool>,
    /// Access token lifetime in seconds.
    #[arg(long)]
    pub access_token_ttl_secs: Option<i32>,
    /// ID token algorithm: RS256, ES256 or EdDSA.
    #[arg(long)]
    pub id_token_alg: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl ClientArgs {
    fn apply(&self, mut spec: ClientSpec) -> ClientSpec {
        if let Some(v) = &self.name {
            spec.name = v.clone();
        }
        if let Some(v) = &self.kind {
            spec.kind = v.clone();
        }
        if self.auth_method.is_some() {
            spec.auth_method = self.auth_method.clone();
        }
        if !self.redirect_uris.is_empty() {
            spec.redirect_uris = self.redirect_uris.clone();
        }
        if !self.post_logout_redirect_uris.is_empty() {
            spec.post_logout_redirect_uris = self.post_logout_redirect_uris.clone();
        }
        if self.backchannel_logout_uri.is_some() {
            spec.backchannel_logout_uri = self.backchannel_logout_uri.clone();
        }
        if !self.grant_types.is_empty() {
            spec.grant_types = self.grant_types.clone();
        }
        if !self.scopes.is_empty() {
            spec.scopes = self.scopes.clone();
        }
        if let Some(v) = self.first_party {
            spec.first_party = v;
        }
        if let Some(v) = self.requires_2fa {
            spec.requires_2fa = v;
        }
        if let Some(v) = self.introspects_others {
            spec.introspects_others = v;
        }
        if let Some(v) = self.access_token_ttl_secs {
            spec.access_token_ttl_secs = v;
        }
        if let Some(v) = &self.id_token_alg {
            spec.id_token_alg = v.clone();
        }
        spec
    }
}

/// `guichet keys …`
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a new signing key, published at once and used after --publish-ahead-secs;
    /// the current key stays published until the tokens it signed have expired.
    Rotate {
        /// RS256, ES256, EdDSA, or all.
        #[arg(long, default_value = "all")]
        alg: String,
        /// Seconds between publishing the new key and signing with it (relying
        /// parties refresh their key caches meanwhile).
        #[arg(long, default_value_t = 3600)]
        publish_ahead_secs: u64,
        /// How long tokens signed by the old key stay valid (the longest token lifetime).
        #[arg(long, default_value_t = 86400)]
        token_lifetime_secs: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a new random value for oauth.key_encryption_key.
    NewEncryptionKey,
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

impl From<SupportError> for CliError {
    fn from(e: SupportError) -> Self {
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

fn print_client(c: &Client, secret: Option<&str>, as_json: bool) {
    if as_json {
        println!("{}", client_json(c, secret));
        return;
    }
    println!("client_id:     {}", c.client_id);
    if let Some(s) = secret {
        println!("client_secret: {s}   (shown once: store it now)");
    }
    println!("name:          {}", c.name);
    println!("type:          {} ({})", c.kind, c.auth_method);
    println!("grant types:   {}", clients::list(&c.grant_types).join(" "));
    println!("scopes:        {}", clients::list(&c.scopes).join(" "));
    println!(
        "redirect URIs: {}",
        clients::list(&c.redirect_uris).join(" ")
    );
    println!("first party:   {}", c.first_party);
}

/// Runs a client command against the configured database.
pub async fn run_client(settings: &Settings, cmd: ClientCommand) -> Result<(), CliError> {
    let db = app::connect_database(settings, settings.database.run_migrations).await?;
    let now = chrono::Utc::now();
    let not_found = || CliError::Refused("no such client".into());
    match cmd {
        ClientCommand::Create(args) => {
            let name = args.name.clone().unwrap_or_default();
            let spec = args.apply(ClientSpec::named(&name));
            let (c, secret) = clients::create(&db, &spec, now).await?;
            print_client(&c, secret.as_deref(), args.json);
        }
        ClientCommand::List { json } => {
            let all = clients::list_all(&db).await?;
            if json {
                let v: Vec<_> = all.iter().map(|c| client_json(c, None)).collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for c in all {
                    println!("{}\t{}\t{}", c.client_id, c.kind, c.name);
                }
            }
        }
        ClientCommand::Show(t) => {
            let c = clients::find(&db, &t.client_id)
                .await?
                .ok_or_else(not_found)?;
            print_client(&c, None, t.json);
        }
        ClientCommand::Update { client_id, args } => {
            let c = clients::find(&db, &client_id)
                .await?
                .ok_or_else(not_found)?;
            let spec = args.apply(clients::spec_of(&c));
            let c = clients::update(&db, &client_id, &spec, now).await?;
            print_client(&c, None, args.json);
        }
        ClientCommand::Delete(t) => {
            clients::delete(&db, &t.client_id).await?;
            if t.json {
                println!("{}", json!({"deleted": t.client_id}));
            } else {
                println!("deleted {}", t.client_id);
            }
        }
        ClientCommand::RotateSecret(t) => {
            let secret = clients::rotate_secret(&db, &t.client_id, now).await?;
            let c = clients::find(&db, &t.client_id)
                .await?
                .ok_or_else(not_found)?;
            print_client(&c, Some(&secret), t.json);
        }
    }
    Ok(())
}

/// Runs a keys command.
pub async fn run_keys(settings: &Settings, cmd: KeysCommand) -> Result<(), CliError> {
    match cmd {
        KeysCommand::NewEncryptionKey => {
            println!("{}", oauth::KeyEncryptor::generate_base64());
            Ok(())
        }
        KeysCommand::Rotate {
            alg,
            publish_ahead_secs,
            token_lifetime_secs,
            json,
        } => {
            let algs: Vec<SigningAlg> = if alg == "all" {
                SigningAlg::ALL.to_vec()
            } else {
                vec![SigningAlg::parse(&alg).ok_or_else(|| {
                    CliError::Refused(format!(
                        "--alg must be RS256, ES256, EdDSA or all, got {alg:?}"
                    ))
                })?]
            };
            let db = app::connect_database(settings, settings.database.run_migrations).await?;
            let ring = app::key_ring(settings, db).await?;
            let now = chrono::Utc::now();
            let mut out = Vec::new();
            for a in algs {
                let kid = ring
                    .rotate(
                        a,
                        now,
                        std::time::Duration::from_secs(publish_ahead_secs),
                        std::time::Duration::from_secs(token_lifetime_secs),
                    )
                    .await?;
                out.push(json!({"alg": a.as_str(), "kid": kid}));
            }
            if json {
                println!("{}", serde_json::Value::Array(out));
            } else {
                for o in out {
                    println!(
                        "{}\t{}",
                        o["alg"].as_str().unwrap_or(""),
                        o["kid"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
    }
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
    let url = if settings.server.public_url.is_empty() {
        format!("http://{}/", settings.server.bind)
    } else {
        settings.server.public_url.clone()
    };
    let public_url =
        url::Url::parse(&url).map_err(|e| CliError::Refused(format!("server.public_url: {e}")))?;
    Ok(ServerConfig {
        public_url,
        max_body_bytes: settings.server.max_body_bytes,
        limits: server::config::RequestLimits::default(),
        session: SessionConfig {
            idle_timeout: std::time::Duration::from_secs(settings.sessions.idle_timeout_secs),
            absolute_timeout: std::time::Duration::from_secs(
                settings.sessions.absolute_timeout_secs,
            ),
        },
        login: LoginConfig::default(),
        access_token_audience: None,
        code_ttl: std::time::Duration::from_secs(settings.oauth.code_ttl_secs),
        rates: settings.limits.rates(),
        database_timeout: std::time::Duration::from_millis(settings.database.acquire_timeout_ms),
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
