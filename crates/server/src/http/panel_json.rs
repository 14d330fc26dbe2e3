//! What the JSON twins of the control panel share: the session check that
//! answers 401 instead of a redirect, the `X-CSRF-Token` header, and errors
//! as problems (RFC 9457) in the customer's language.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use accounts::FieldError;

use super::csrf;
use super::error::AppError;
use super::extract::CurrentSession;
use super::panel::Panel;
use super::problem::{FieldProblem, Problem, ProblemType};
use crate::i18n::Lang;
use crate::state::AppState;
use views::text::field_message;
use views::text::tr;

/// A problem response.
pub fn error(status: StatusCode, kind: ProblemType, message: &str) -> Response {
    Problem::new(status, kind, message).into_response()
}

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
            ProblemType::Unauthenticated,
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

/// An application failure as the password forms answer it: too many
/// attempts at the current password are a 429 saying how long to wait, in
/// `lang`, with no `Retry-After` (unlike the other request limits).
pub fn password_error(lang: Lang, e: app::AppError) -> AppError {
    match e {
        app::AppError::RateLimited(wait) => {
            let secs = crate::session::throttle::retry_after_secs(wait).to_string();
            AppError::BadRequest(
                StatusCode::TOO_MANY_REQUESTS,
                crate::i18n::format(
                    crate::i18n::t(lang, "page.error.throttled"),
                    &[("n", &secs)],
                ),
            )
        }
        other => other.into(),
    }
}
