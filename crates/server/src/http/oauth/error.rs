//! RFC 6749 §5.2 error responses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oauth::OAuthError;
use serde_json::json;

use app::store::StoreError;

/// A failure at an OAuth endpoint, rendered as `{"error", "error_description"}`.
#[derive(Debug)]
pub struct OAuthHttpError {
    status: StatusCode,
    code: &'static str,
    description: String,
    retry_after: Option<u64>,
    /// Answered because the database could not be reached.
    database_down: bool,
}

impl OAuthHttpError {
    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            description: description.into(),
            retry_after: None,
            database_down: false,
        }
    }

    /// `invalid_client`: 401 with `WWW-Authenticate`, one description for every
    /// cause so that unknown clients and wrong secrets look alike.
    pub fn invalid_client() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: "client authentication failed".into(),
            retry_after: None,
            database_down: false,
        }
    }

    /// `invalid_client` after repeated failures: the client must wait.
    pub fn throttled(secs: u64) -> Self {
        Self {
            retry_after: Some(secs.max(1)),
            ..Self::invalid_client()
        }
    }

    /// Too many failed client authentications from this address: 429 with
    /// the wait in `Retry-After`, whatever was presented (nothing about the
    /// client or its secret shows).
    pub fn too_many_attempts(secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "invalid_client",
            description: "too many failed client authentications from this address".into(),
            retry_after: Some(secs.max(1)),
            database_down: false,
        }
    }

    /// `temporarily_unavailable`: 503 with `Retry-After`, when a backend
    /// (database, session store) cannot be reached; nothing was issued.
    pub fn temporarily_unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: "try again shortly; nothing was issued".into(),
            retry_after: Some(crate::http::error::RETRY_AFTER_SECS),
            database_down: false,
        }
    }

    /// `unsupported_grant_type`.
    pub fn unsupported_grant_type(grant: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "unsupported_grant_type",
            description: format!("grant_type {grant:?} is not supported"),
            retry_after: None,
            database_down: false,
        }
    }
}

impl From<OAuthError> for OAuthHttpError {
    fn from(e: OAuthError) -> Self {
        let (status, code, description) = match &e {
            OAuthError::InvalidClient => return Self::invalid_client(),
            OAuthError::UnauthorizedClient => (
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "this client is not registered for this grant type".to_owned(),
            ),
            OAuthError::InvalidScope(s) => (
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("scope {s:?} is not allowed for this client"),
            ),
            OAuthError::InvalidGrant(why) => {
                (StatusCode::BAD_REQUEST, "invalid_grant", (*why).to_owned())
            }
            OAuthError::Database(db) if crate::http::error::database_unavailable(db) => {
                tracing::error!(error = %db, "database unavailable");
                return Self {
                    database_down: true,
                    ..Self::temporarily_unavailable()
                };
            }
            _ => {
                tracing::error!(error = %e, "oauth endpoint failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error; nothing was issued".to_owned(),
                )
            }
        };
        Self {
            status,
            code,
            description,
            retry_after: None,
            database_down: false,
        }
    }
}

impl From<app::AppError> for OAuthHttpError {
    fn from(e: app::AppError) -> Self {
        match e {
            app::AppError::Unavailable(s) => s.into(),
            app::AppError::OAuth(o) => o.into(),
            other => OAuthError::Internal(other.to_string()).into(),
        }
    }
}

impl From<crate::http::error::AppError> for OAuthHttpError {
    /// A page error met at an OAuth endpoint (a backend failure, mostly), in
    /// the endpoint's JSON: 503 `temporarily_unavailable`, else
    /// `server_error` or `invalid_request` by status.
    fn from(e: crate::http::error::AppError) -> Self {
        let database_down = matches!(&e, crate::http::error::AppError::DatabaseDown)
            || matches!(&e, crate::http::error::AppError::Account(accounts::AccountError::Database(d)) if crate::http::error::database_unavailable(d));
        let (status, message) = e.status_and_message(crate::http::locale::current_lang());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return Self {
                database_down,
                ..Self::temporarily_unavailable()
            };
        }
        let code = if status.is_server_error() {
            "server_error"
        } else {
            "invalid_request"
        };
        Self {
            status,
            code,
            description: message,
            retry_after: None,
            database_down: false,
        }
    }
}

impl From<StoreError> for OAuthHttpError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "session store unavailable");
        Self::temporarily_unavailable()
    }
}

impl IntoResponse for OAuthHttpError {
    fn into_response(self) -> Response {
        let database_down = self.database_down;
        let mut resp = (
            self.status,
            Json(json!({"error": self.code, "error_description": self.description})),
        )
            .into_response();
        let h = resp.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"guichet\", error=\"invalid_client\""),
            );
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if database_down {
            resp.extensions_mut()
                .insert(crate::http::error::DatabaseWasDown);
        }
        resp
    }
}
