//! The one place where failures become HTTP responses.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use accounts::AccountError;

use super::locale::current_lang;
use app::i18n::Lang;
use app::store::StoreError;

pub use app::error::database_unavailable;

/// Seconds a client is told to wait before retrying after a backend outage.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Put in a response's extensions by the error mappings when they answered
/// 503 because the database could not be reached, so that the outage gate
/// ([`super::outage::gate`]) marks it down without pinging it again.
#[derive(Clone, Copy, Debug)]
pub struct DatabaseWasDown;

/// What a page handler can fail with. Internal causes are logged once, here, with
/// their detail; the browser sees a short message that leaks nothing.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such page.
    #[error("not found")]
    NotFound,
    /// The request is not acceptable as sent; the message is already in the
    /// customer's language (or a protocol detail).
    #[error("{1}")]
    BadRequest(StatusCode, String),
    /// The request is not acceptable as sent; the message is a translation key.
    #[error("{1}")]
    Refused(StatusCode, &'static str),
    /// Refused: missing or wrong anti-CSRF token, cross-site write, a role
    /// that may not. The message is a translation key (`page.error.*`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The session store is down; nothing was changed.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    /// The database cannot be reached (seen by [`super::outage`]); nothing
    /// was changed.
    #[error("database unavailable")]
    DatabaseDown,
    /// A domain error no handler turned into a page.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A two-factor error no handler turned into a page.
    #[error(transparent)]
    Mfa(#[from] mfa::MfaError),
    /// Over a request limit ([`app::limits`]): come back after this long.
    #[error("too many requests")]
    RateLimited(std::time::Duration),
}

impl From<app::AppError> for AppError {
    /// The application layer's outcomes, each to the variant that answers it;
    /// what no page tells apart is an internal failure.
    fn from(e: app::AppError) -> Self {
        match e {
            app::AppError::RateLimited(wait) => Self::RateLimited(wait),
            app::AppError::Unavailable(e) => Self::Unavailable(e),
            app::AppError::Account(a) => Self::Account(a),
            app::AppError::Mfa(m) => Self::Mfa(m),
            app::AppError::RequestGone => {
                Self::Refused(StatusCode::BAD_REQUEST, "page.authorize.expired")
            }
            app::AppError::ClientGone => {
                Self::Refused(StatusCode::BAD_REQUEST, "page.authorize.client_gone")
            }
            app::AppError::BadRedirectUri => {
                Self::BadRequest(StatusCode::BAD_REQUEST, "invalid redirect_uri".into())
            }
            other => Self::Account(AccountError::Internal(other.to_string())),
        }
    }
}

impl AppError {
    /// A form or JSON body that could not be read (missing field, wrong
    /// type): the status axum chose, and one message in the customer's words.
    pub fn unreadable(status: StatusCode) -> Self {
        Self::Refused(status, "page.error.bad_form")
    }

    /// Adds `Retry-After` to `resp` when this error is a request limit, for
    /// the pages and their JSON twins alike.
    pub fn add_retry_after(&self, resp: &mut Response) {
        if let Self::RateLimited(wait) = self {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(app::limits::retry_after_secs(*wait)),
            );
        }
    }

    /// The status and message this error answers with, in `lang`: the JSON
    /// twins of the pages use it for their `message`.
    pub fn status_and_message(&self, lang: Lang) -> (StatusCode, String) {
        let (status, _, message) = self.parts(lang);
        (status, message)
    }

    fn parts(&self, lang: Lang) -> (StatusCode, &'static str, String) {
        let t = |k: &str| app::i18n::t(lang, k);
        let (status, title, message) = match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "page.error.not_found_title",
                t("page.error.not_found").to_owned(),
            ),
            Self::BadRequest(status, msg) => (*status, "page.error.refused_title", msg.clone()),
            Self::Refused(status, key) => (*status, "page.error.refused_title", t(key).to_owned()),
            Self::RateLimited(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                "page.error.rate_limited_title",
                app::i18n::format(
                    t("page.error.rate_limited"),
                    &[(
                        "minutes",
                        &app::limits::retry_after_secs(*wait)
                            .div_ceil(60)
                            .to_string(),
                    )],
                ),
            ),
            Self::Forbidden(key) => (
                StatusCode::FORBIDDEN,
                "page.error.refused_title",
                t(key).to_owned(),
            ),
            Self::Unavailable(e) => {
                tracing::error!(error = %e, "session store unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "page.error.unavailable_title",
                    t("page.error.store_unavailable").to_owned(),
                )
            }
            Self::DatabaseDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                "page.error.unavailable_title",
                t("page.error.db_unavailable").to_owned(),
            ),
            Self::Account(AccountError::Database(e)) | Self::Mfa(mfa::MfaError::Database(e))
                if database_unavailable(e) =>
            {
                tracing::error!(error = %e, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "page.error.unavailable_title",
                    t("page.error.db_unavailable").to_owned(),
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
                "page.error.not_found_title",
                t("page.error.no_account").to_owned(),
            ),
            Self::Mfa(mfa::MfaError::Ephemeral(e)) => {
                tracing::error!(error = %e, "session store unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "page.error.unavailable_title",
                    t("page.error.store_unavailable").to_owned(),
                )
            }
            Self::Mfa(e) => {
                tracing::error!(error = %e, "two-factor error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "page.error.internal_title",
                    t("page.error.internal").to_owned(),
                )
            }
            Self::Account(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "page.error.internal_title",
                    t("page.error.internal").to_owned(),
                )
            }
        };
        (status, title, message)
    }
}

impl AppError {
    /// Whether this error says the database could not be reached.
    fn is_database_down(&self) -> bool {
        match self {
            Self::DatabaseDown => true,
            Self::Account(AccountError::Database(e)) | Self::Mfa(mfa::MfaError::Database(e)) => {
                database_unavailable(e)
            }
            _ => false,
        }
    }
}

/// The message of an error page, kept in the response's extensions so that
/// [`super::outage::shaped`] can say the same in JSON on the JSON surfaces.
#[derive(Clone, Debug)]
pub struct ErrorMessage(pub String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let lang = current_lang();
        let database_down = self.is_database_down();
        let (status, title, message) = self.parts(lang);
        let title = app::i18n::t(lang, title);
        let mut resp = (
            status,
            Html(views::components::message(lang, title, &message).into_string()),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER_SECS),
            );
        }
        self.add_retry_after(&mut resp);
        if database_down {
            resp.extensions_mut().insert(DatabaseWasDown);
        }
        resp.extensions_mut().insert(ErrorMessage(message));
        resp
    }
}
