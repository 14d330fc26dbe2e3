//! `guichet keys …`: signing keys and the key that seals them.

use clap::Subcommand;
use oauth::SigningAlg;
use serde_json::json;

use super::CliError;
use crate::app;
use crate::settings::Settings;

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
            let now = chrono::Utc::now();
            let ring = app::key_ring(settings, db, now).await?;
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
