//! `guichet client …`: OAuth clients (relying parties).

use clap::{Args, Subcommand};
use oauth::clients::{self, Client, ClientSpec};
use serde_json::json;
use server::admin::client_json;

use super::CliError;
use crate::app;
use crate::settings::Settings;

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
