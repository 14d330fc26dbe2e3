//! What the JSON twins of the control panel share once their caller is
//! read ([`super::principal::ApiPanel`]): the `X-CSRF-Token` header's check,
//! and errors as problems (RFC 9457) in the customer's language.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use accounts::FieldError;

use super::csrf;
use super::error::AppError;
use super::panel::Panel;
use super::panel_api::error;
use super::problem::{FieldProblem, Problem, ProblemType};
use crate::state::AppState;
use app::i18n::Lang;
use views::text::field_message;
use views::text::tr;

/// 422 with every refused field.
pub fn invalid(lang: Lang, errors: &[FieldError]) -> Response {
    let errors = errors
        .iter()
        .map(|e| FieldProblem {
            field: e.field.to_owned(),
            code: e.problem.code().to_owned(),
            detail: field_message(lang, &e.problem),
        })
        .collect();
    Problem::invalid_fields(tr(lang, "page.panel.fix_fields"), errors).into_response()
}

/// An [`AppError`] as a problem, with the status the page would have had.
pub fn from_app(lang: Lang, e: AppError) -> Response {
    if let AppError::Account(accounts::AccountError::Invalid(errors)) = &e {
        return invalid(lang, errors);
    }
    let (status, message) = e.status_and_message(lang);
    let mut resp = error(status, ProblemType::of_status(status), &message);
    e.add_retry_after(&mut resp);
    resp
}

/// Checks the `X-CSRF-Token` header of a JSON write against the session's.
pub fn check_csrf(p: &Panel, headers: &HeaderMap) -> Result<(), AppError> {
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    csrf::matches(&p.data.csrf, sent)
}

/// An application failure as the password forms answer it: too many
/// attempts at the current password are a 429 saying how long to wait, in
/// `lang`, with no `Retry-After` (unlike the other request limits).
pub fn password_error(lang: Lang, e: app::AppError) -> AppError {
    match e {
        app::AppError::RateLimited(wait) => {
            let secs = app::session::throttle::retry_after_secs(wait).to_string();
            AppError::BadRequest(
                StatusCode::TOO_MANY_REQUESTS,
                app::i18n::format(app::i18n::t(lang, "page.error.throttled"), &[("n", &secs)]),
            )
        }
        other => other.into(),
    }
}

/// The answer of a JSON twin: its response, or its error as a problem in
/// `lang`.
pub fn answer(lang: Lang, result: Result<Response, AppError>) -> Response {
    result.unwrap_or_else(|e| from_app(lang, e))
}

/// Adds the cookie of a re-issued session (after a password change) to a
/// response.
pub fn with_session(state: &AppState, resp: Response, id: &str) -> Response {
    (super::cookies::session(&state.config, id), resp).into_response()
}
