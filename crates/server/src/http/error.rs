//! The one place where failures become HTTP responses.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use accounts::AccountError;

use super::pages;
use crate::session::store::StoreError;

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

/// What a page handler can fail with. Internal causes are logged once, here, with
/// their detail; the browser sees a short message that leaks nothing.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such page.
    #[error("not found")]
    NotFound,
    /// The request is not acceptable as sent.
    #[error("{1}")]
    BadRequest(StatusCode, String),
    /// Refused: missing or wrong anti-CSRF token, cross-site write.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The session store is down; nothing was changed.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    /// A domain error no handler turned into a page.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A two-factor error no handler turned into a page.
    #[error(transparent)]
    Mfa(#[from] mfa::MfaError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no page at this address.".to_owned(),
            ),
            Self::BadRequest(status, msg) => (*status, "Request refused", msg.clone()),
            Self::Forbidden(msg) => (StatusCode::FORBIDDEN, "Request refused", (*msg).to_owned()),
            Self::Unavailable(e) => {
                tracing::error!(error = %e, "session store unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "Sign-in is temporarily unavailable. Nothing was changed; please try again in a minute.".to_owned(),
                )
            }
            Self::Account(AccountError::Database(e)) | Self::Mfa(mfa::MfaError::Database(e))
                if database_unavailable(e) =>
            {
                tracing::error!(error = %e, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "Guichet cannot reach its database right now. Nothing was changed; please try again in a minute.".to_owned(),
                )
            }
            Self::Account(AccountError::Held(_)) => (
                StatusCode::CONFLICT,
                "Request refused",
                "Other services still hold this account.".to_owned(),
            ),
            Self::Account(AccountError::Conflict(m)) => {
                (StatusCode::CONFLICT, "Request refused", (*m).to_owned())
            }
            Self::Account(AccountError::NotFound) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "No such account.".to_owned(),
            ),
            Self::Mfa(mfa::MfaError::Ephemeral(e)) => {
                tracing::error!(error = %e, "session store unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "Sign-in is temporarily unavailable. Nothing was changed; please try again in a minute.".to_owned(),
                )
            }
            Self::Mfa(e) => {
                tracing::error!(error = %e, "two-factor error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "An internal error occurred. Nothing was changed; please try again.".to_owned(),
                )
            }
            Self::Account(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "An internal error occurred. Nothing was changed; please try again.".to_owned(),
                )
            }
        };
        let mut resp =
            (status, Html(pages::message(title, &message).into_string())).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("30"),
            );
        }
        resp
    }
}
