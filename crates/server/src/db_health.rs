//! Whether the database answers, as this instance last saw it: one flag
//! every request reads, a watcher that pings a database server while it is
//! believed up, and a prober that pings it while it is down. The HTTP
//! adapter's outage gate ([`crate::http::outage`]) and `/readyz` read it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::DatabaseConnection;

/// How often the prober pings a database marked down.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);

/// How often a database server believed up is pinged.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Whether the database answers, as last seen, shared by every request of
/// an instance.
pub struct DatabaseHealth {
    db: DatabaseConnection,
    /// Bounds a ping, the same bound as a pool acquire.
    timeout: Duration,
    down: AtomicBool,
    /// A database server that can be unreachable (not SQLite).
    server: bool,
}

impl DatabaseHealth {
    /// Health of `db`, believed up; a ping gives up after `timeout`. A
    /// server database (PostgreSQL) is also watched: pinged every
    /// [`WATCH_EVERY`], so that an outage is noticed (and `/readyz` and the
    /// gate answer 503) within a second even without traffic. SQLite is a
    /// file in this process, never unreachable: a slow ping there is writers
    /// queueing, which must not turn into 503s, so it is never marked down.
    pub fn new(db: DatabaseConnection, timeout: Duration) -> Arc<Self> {
        let server = db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite;
        let health = Arc::new(Self {
            db,
            timeout,
            down: AtomicBool::new(false),
            server,
        });
        if server && let Ok(rt) = tokio::runtime::Handle::try_current() {
            let me = Arc::downgrade(&health);
            rt.spawn(async move {
                loop {
                    tokio::time::sleep(WATCH_EVERY).await;
                    let Some(h) = me.upgrade() else { return };
                    if !h.is_down() {
                        h.check().await;
                    }
                }
            });
        }
        health
    }

    /// Whether the database is believed down right now.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Pings the database now, within the timeout; marks it down (and starts
    /// the prober) when it does not answer. Answers whether it did.
    pub async fn check(self: &Arc<Self>) -> bool {
        if !self.server {
            return true;
        }
        let ok = self.ping().await;
        if !ok {
            self.mark_down();
        }
        ok
    }

    async fn ping(&self) -> bool {
        matches!(
            tokio::time::timeout(self.timeout, self.db.ping()).await,
            Ok(Ok(()))
        )
    }

    /// Marks the database down, and starts the one prober that marks it up
    /// again once a ping succeeds.
    pub fn mark_down(self: &Arc<Self>) {
        if !self.server || self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!("database unreachable: answering 503 until it is back");
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // A weak reference, so that the prober of a dropped instance stops.
        let me = Arc::downgrade(self);
        rt.spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let Some(h) = me.upgrade() else { return };
                if h.ping().await {
                    h.down.store(false, Ordering::Release);
                    tracing::info!("database reachable again");
                    return;
                }
            }
        });
    }
}
