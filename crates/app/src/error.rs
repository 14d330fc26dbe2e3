//! The one error enum of the application layer. Each adapter maps it once
//! per surface (a page, a JSON problem, an OAuth error).

use std::time::Duration;

use crate::store::StoreError;

/// What an application service could not do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Over a request limit ([`crate::limits`]): try again after this wait.
    #[error("too many requests; retry in {0:?}")]
    RateLimited(Duration),
    /// The short-lived state store could not be reached; nothing changed.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    /// Anything else: a bug or a backend failure, logged by the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Whether a database error means the database cannot be reached right now
/// (down, restarting, pool exhausted) rather than a fault in a query: those
/// answer 503 so that clients retry and load balancers see it, like a store
/// outage.
pub fn database_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    let RuntimeErr::SqlxError(x) = runtime else {
        return false;
    };
    match x.as_ref() {
        sea_orm::sqlx::Error::Io(_)
        | sea_orm::sqlx::Error::Tls(_)
        | sea_orm::sqlx::Error::PoolTimedOut
        | sea_orm::sqlx::Error::PoolClosed
        | sea_orm::sqlx::Error::WorkerCrashed
        | sea_orm::sqlx::Error::Protocol(_) => true,
        // SQLSTATE class 08 (connection exception) and 57P01..57P03 (the
        // server is shutting down or starting up).
        sea_orm::sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}
