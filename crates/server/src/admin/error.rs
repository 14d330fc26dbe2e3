//! The one place where operator API failures become JSON responses.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mail::MailError;
use oauth::OAuthError;
use serde::de::DeserializeOwned;

use crate::http::problem::{FieldProblem, Problem, ProblemType, unreadable_status};

/// What an operator request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No operator token, or one no operator holds: one answer for both.
    #[error("unauthorized")]
    Unauthorized,
    /// No such route.
    #[error("not found")]
    NotFound,
    /// No client has this id.
    #[error("no such client")]
    ClientNotFound,
    /// No queued mail has this id.
    #[error("no such message")]
    MessageNotFound,
    /// The body is not the JSON expected; the message says why.
    #[error("{1}")]
    BadRequest(StatusCode, String),
    /// The body is larger than the configured limit.
    #[error("request body too large")]
    TooLarge,
    /// Well-formed but refused: every `(field, problem)`.
    #[error("invalid request")]
    Invalid(Vec<(&'static str, String)>),
    /// Not the operator's fault; logged here, answered with a generic body.
    #[error(transparent)]
    Internal(OAuthError),
    /// The mail queue failed (its database); logged, answered with a generic body.
    #[error(transparent)]
    MailInternal(MailError),
    /// The database cannot be reached: 503 with `Retry-After`, nothing done.
    #[error("database unavailable")]
    Unavailable,
}

impl From<OAuthError> for AdminError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidClientSpec(fields) => Self::Invalid(fields),
            OAuthError::ClientNotFound => Self::ClientNotFound,
            OAuthError::Database(e) if crate::http::error::database_unavailable(&e) => {
                tracing::error!(error = %e, "database unavailable");
                Self::Unavailable
            }
            other => Self::Internal(other),
        }
    }
}

impl From<MailError> for AdminError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::NotFound => Self::MessageNotFound,
            MailError::NotRetryable(_) => Self::BadRequest(StatusCode::CONFLICT, e.to_string()),
            MailError::Database(e) if crate::http::error::database_unavailable(&e) => {
                tracing::error!(error = %e, "database unavailable");
                Self::Unavailable
            }
            other => Self::MailInternal(other),
        }
    }
}

impl AdminError {
    /// The problem this error answers with (RFC 9457). The operator API
    /// speaks English: operators read it in their tools and logs.
    fn problem(&self) -> Problem {
        use ProblemType as T;
        match self {
            Self::Unauthorized => Problem::new(
                StatusCode::UNAUTHORIZED,
                T::Unauthenticated,
                "send an operator token as Authorization: Bearer",
            ),
            Self::NotFound => Problem::new(StatusCode::NOT_FOUND, T::NotFound, "not found"),
            Self::ClientNotFound => {
                Problem::new(StatusCode::NOT_FOUND, T::NotFound, "no such client")
            }
            Self::MessageNotFound => {
                Problem::new(StatusCode::NOT_FOUND, T::NotFound, "no such message")
            }
            Self::BadRequest(status, message) => {
                let kind = match *status {
                    StatusCode::CONFLICT => T::Conflict,
                    StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => T::InvalidBody,
                    s => T::of_status(s),
                };
                Problem::new(*status, kind, message.clone())
            }
            Self::TooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                T::PayloadTooLarge,
                "request body too large",
            ),
            Self::Invalid(fields) => Problem::invalid_fields(
                "some fields were refused; see errors",
                fields
                    .iter()
                    .map(|(f, m)| FieldProblem {
                        field: (*f).to_owned(),
                        code: "invalid".to_owned(),
                        detail: m.clone(),
                    })
                    .collect(),
            ),
            Self::Internal(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "operator request failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    T::Internal,
                    "internal error",
                )
            }
            Self::MailInternal(e) => {
                tracing::error!(error = %e, "operator request failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    T::Internal,
                    "internal error",
                )
            }
            Self::Unavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                T::TemporarilyUnavailable,
                "the database cannot be reached; nothing was done",
            )
            .with_retry_after(crate::http::error::RETRY_AFTER_SECS),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut resp = self.problem().into_response();
        if resp.status() == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, Self::Unavailable) {
            resp.extensions_mut()
                .insert(crate::http::error::DatabaseWasDown);
        }
        resp
    }
}

/// A JSON body whose refusals are operator API errors: 400 with the parser's
/// reason, 415 without a JSON content type, 413 over the body limit.
pub(super) struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(match unreadable_status(&rejection) {
                StatusCode::PAYLOAD_TOO_LARGE => AdminError::TooLarge,
                status => AdminError::BadRequest(status, rejection.body_text()),
            }),
        }
    }
}
