//! What every handler shares.

use std::sync::Arc;

use accounts::service::Accounts;
use mail::MailTransport;

use crate::config::ServerConfig;
use crate::session::Sessions;
use crate::session::store::Store;
use crate::session::throttle::Throttle;

/// Shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The accounts service.
    pub accounts: Accounts,
    /// Server-side sessions.
    pub sessions: Sessions,
    /// Login failure counters.
    pub throttle: Throttle,
    /// The short-lived state store behind sessions and counters.
    pub store: Store,
    /// Where mail goes.
    pub mailer: Arc<dyn MailTransport>,
    /// Deployment settings.
    pub config: Arc<ServerConfig>,
}

impl AppState {
    /// Wires the state together.
    pub fn new(
        accounts: Accounts,
        store: Store,
        mailer: Arc<dyn MailTransport>,
        config: ServerConfig,
    ) -> Self {
        let sessions = Sessions::new(store.clone(), config.session.clone());
        let throttle = Throttle::new(store.clone(), config.login.clone());
        Self {
            accounts,
            sessions,
            throttle,
            store,
            mailer,
            config: Arc::new(config),
        }
    }
}
