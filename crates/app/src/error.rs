//! The one error enum of the application layer. Each adapter maps it once
//! per surface (a page, a JSON problem, an OAuth error).

use std::time::Duration;

use accounts::AccountError;
use mail::MailError;
use mfa::MfaError;
use oauth::OAuthError;

use crate::store::StoreError;

/// What an application service could not do: the outcomes an adapter must
/// tell apart, and one `Internal` for the rest.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Over a request limit ([`crate::limits`]): try again after this wait.
    #[error("too many requests; retry in {0:?}")]
    RateLimited(Duration),
    /// The short-lived state store could not be reached; nothing changed.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    /// No such account, an invalid field, a refused change, or the accounts
    /// database failed (the domain error says which).
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The two-factor store failed.
    #[error("two-factor: {0}")]
    Mfa(#[from] MfaError),
    /// Tokens or clients could not be read or revoked.
    #[error("oauth: {0}")]
    OAuth(#[from] OAuthError),
    /// The mail queue failed: nothing was sent.
    #[error("mail queue: {0}")]
    Mail(#[from] MailError),
    /// Promotion asked of an account without a backup address.
    #[error("the account has no usable backup email to promote")]
    NoBackupEmail,
    /// The backup address is already another account's primary address.
    #[error("the backup email is the primary email of another account")]
    BackupEmailTaken,
    /// A reset link asked for an account that is not active or has no
    /// primary address.
    #[error("the account is not active or has no primary email: no reset link can be sent")]
    CannotReset,
    /// A destructive action whose confirmation (the handle typed again) did
    /// not match: nothing changed.
    #[error("the confirmation does not match")]
    NotConfirmed,
    /// The authorization request is no longer waiting (expired, used up,
    /// never saved), or not for this session.
    #[error("this authorization request has expired or was already answered")]
    RequestGone,
    /// The client an authorization request names was removed since.
    #[error("the application that asked is no longer registered")]
    ClientGone,
    /// A redirect URI that cannot be parsed (registration refuses them).
    #[error("invalid redirect_uri")]
    BadRedirectUri,
    /// Anything else: a bug or a backend failure, logged by the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Whether the failure is a backend that cannot be reached right now
    /// (state store or database), which adapters answer as "try again
    /// shortly" rather than as a fault.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Account(AccountError::Database(e)) => database_unavailable(e),
            _ => false,
        }
    }
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
