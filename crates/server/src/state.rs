//! What every handler shares.

use std::sync::Arc;

use accounts::service::Accounts;
use mail::MailQueue;

use crate::config::ServerConfig;
use crate::session::Sessions;
use crate::session::store::Store;
use crate::session::throttle::Throttle;

/// What the OAuth endpoints share.
#[derive(Clone)]
pub struct OAuthState {
    /// Signing keys.
    pub keys: oauth::KeyRing,
    /// Registered clients, cached briefly.
    pub clients: oauth::clients::ClientCache,
    /// The issuer identifier: the public URL without a trailing slash.
    pub issuer: String,
    /// The `aud` of access tokens.
    pub audience: String,
    /// The discovery document, built and encoded once; shared, not copied,
    /// into each response.
    pub discovery_json: bytes::Bytes,
    /// Access tokens already verified, until they expire.
    pub verified: Arc<oauth::tokens::VerifiedTokens>,
}

/// Shared state. Every middleware layer and every `State` extractor takes
/// a copy per request, so a clone is one reference-count increment: cloning
/// each field (two strings and a dozen handles) showed up as a quarter of
/// the CPU time of a discovery request under load.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct Shared {
    /// The accounts service.
    pub accounts: Accounts,
    /// Server-side sessions.
    pub sessions: Sessions,
    /// Login failure counters.
    pub throttle: Throttle,
    /// The short-lived state store behind sessions and counters.
    pub store: Store,
    /// Where mail goes: the queue in the database, which a worker empties
    /// into the transport.
    pub mail: MailQueue,
    /// Deployment settings.
    pub config: Arc<ServerConfig>,
    /// OAuth keys, clients and identifiers.
    pub oauth: OAuthState,
    /// Two-factor methods and emergency codes.
    pub mfa: mfa::Mfa,
    /// This instance's counters, served on the operator listener.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whether the database answers, as last seen: while it does not,
    /// requests that need it are answered 503 at once.
    pub database: Arc<crate::http::outage::DatabaseHealth>,
}

impl AppState {
    /// Wires the state together.
    pub fn new(
        accounts: Accounts,
        store: Store,
        mail: MailQueue,
        config: ServerConfig,
        keys: oauth::KeyRing,
        mfa: mfa::Mfa,
    ) -> Self {
        let sessions = Sessions::new(store.clone(), config.session.clone());
        let throttle = Throttle::new(store.clone(), config.login.clone());
        let database = crate::http::outage::DatabaseHealth::new(
            accounts.db().clone(),
            config.database_timeout,
        );
        Self(Arc::new(Shared {
            accounts,
            sessions,
            throttle,
            store,
            mail,
            oauth: OAuthState {
                keys,
                clients: oauth::clients::ClientCache::default(),
                issuer: config.issuer(),
                audience: config
                    .access_token_audience
                    .clone()
                    .unwrap_or_else(|| config.issuer()),
                discovery_json: serde_json::to_vec(
                    &oauth::metadata::discovery(&config.issuer())
                        .expect("the public URL was validated at start-up"),
                )
                .expect("the discovery document encodes")
                .into(),
                // About 1 KiB a token: bounded at a few tens of MiB.
                verified: Arc::new(oauth::tokens::VerifiedTokens::new(50_000)),
            },
            config: Arc::new(config),
            mfa,
            metrics: Arc::new(crate::metrics::Metrics::new()),
            database,
        }))
    }
}
