//! What every handler shares: the application's services and what only the
//! HTTP adapter keeps (its metrics, its view of the database's health).

use std::sync::Arc;

use accounts::service::Accounts;
use mail::MailQueue;

pub use app::services::{App, OAuthState};

use crate::session::store::Store;
use app::config::ServerConfig;

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
    /// The application's services; the fields of [`App`] read through
    /// `Deref`, so handlers write `state.accounts`, and a service that
    /// works on after the request (`seclog::record_later`) takes
    /// `&Arc<App>`, which `&state` gives.
    pub app: Arc<App>,
    /// This instance's counters, served on the operator listener.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whether the database answers, as last seen: while it does not,
    /// requests that need it are answered 503 at once.
    pub database: Arc<crate::db_health::DatabaseHealth>,
}

impl std::ops::Deref for Shared {
    type Target = Arc<App>;

    fn deref(&self) -> &Arc<App> {
        &self.app
    }
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
        let database =
            crate::db_health::DatabaseHealth::new(accounts.db().clone(), config.database_timeout);
        Self(Arc::new(Shared {
            app: Arc::new(App::new(
                accounts,
                store,
                mail,
                config,
                keys,
                mfa,
                Arc::new(crate::back_channel::ReqwestBackChannel),
            )),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            database,
        }))
    }
}
