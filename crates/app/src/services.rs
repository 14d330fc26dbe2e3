//! The application's services, wired together once at start-up: what every
//! adapter (the HTTP server, the command line) works through.

use std::sync::Arc;

use accounts::service::Accounts;
use mail::MailQueue;

use crate::config::ServerConfig;
use crate::session::Sessions;
use crate::session::throttle::Throttle;
use crate::store::Store;

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

/// The services and the handles they share.
pub struct App {
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
    /// Where back-channel logout tokens are sent from.
    pub backchannel: Arc<dyn crate::ports::BackChannel>,
    /// Business time, the accounts service's: every expiry, delay and
    /// window is read from it.
    pub clock: clock::Clock,
}

impl App {
    /// Wires the services together.
    pub fn new(
        accounts: Accounts,
        store: impl Into<Store>,
        mail: MailQueue,
        config: ServerConfig,
        keys: oauth::KeyRing,
        mfa: mfa::Mfa,
        backchannel: Arc<dyn crate::ports::BackChannel>,
    ) -> Self {
        let store = store.into();
        let clock = accounts.clock().clone();
        let sessions =
            Sessions::new(store.clone(), config.session.clone()).with_clock(clock.clone());
        let throttle = Throttle::new(store.clone(), config.login.clone());
        Self {
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
            backchannel,
            clock,
        }
    }
}
