//! What the JSON twins of the control panel share: the session check that
//! answers 401 instead of a redirect, the `X-CSRF-Token` header, and errors
//! as `{"error", "message", "fields"}` in the customer's language.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use accounts::FieldError;

use super::csrf;
use super::error::AppError;
use super::extract::CurrentSession;
use super::pages::{field_message, tr};
use super::panel::Panel;
use crate::i18n::Lang;
use crate::state::AppState;

/// A JSON error.
pub fn error(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({"error": error, "message": message}))).into_response()
}

/// 422 with every refused field.
pub fn invalid(lang: Lang, errors: &[FieldError]) -> Response {
    let fields: Vec<_> = errors
        .iter()
        .map(|e| {
            json!({
                "field": e.field,
                "code": e.problem.code(),
                "message": field_message(lang, &e.problem),
            })
        })
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "error": "invalid_request",
            "message": tr(lang, "page.panel.fix_fields"),
            "fields": fields,
        })),
    )
        .into_response()
}

/// An [`AppError`] as JSON, with the status the page would have had.
pub fn from_app(lang: Lang, e: AppError) -> Response {
    if let AppError::Account(accounts::AccountError::Invalid(errors)) = &e {
        return invalid(lang, errors);
    }
    let (status, message) = e.status_and_message(lang);
    let code = match status {
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::CONFLICT => "conflict",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_client_error() => "invalid_request",
        _ => "internal_error",
    };
    let mut resp = error(status, code, &message);
    e.add_retry_after(&mut resp);
    resp
}

/// The signed-in panel for a JSON request, or 401.
pub async fn panel(
    state: &AppState,
    session: CurrentSession,
    back: &str,
) -> Result<Panel, Response> {
    match Panel::load(state, session, back).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            tr(super::extract::current_lang(), "page.error.log_in_again"),
        )),
        Err(e) => Err(from_app(super::extract::current_lang(), e)),
    }
}

/// Checks the `X-CSRF-Token` header of a JSON write against the session's.
pub fn check_csrf(p: &Panel, headers: &HeaderMap) -> Result<(), AppError> {
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    csrf::matches(&p.data.csrf, sent)
}
