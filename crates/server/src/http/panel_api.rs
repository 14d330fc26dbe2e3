//! What the control panel's JSON twins share: the signed-in panel or a
//! problem (RFC 9457, never a redirect to a login page), the role check and
//! the `X-CSRF-Token` header check.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::csrf;
use super::error::AppError;
use super::extract::{CurrentSession, current_lang};
use super::panel::{Need, Panel};
use super::problem::{FieldProblem, Problem, ProblemType};
use crate::i18n::t;
use crate::state::AppState;
use views::routes;

/// A problem response.
pub fn error(status: StatusCode, kind: ProblemType, message: &str) -> Response {
    Problem::new(status, kind, message).into_response()
}

/// A refused request naming its refused fields (`(field, code, message)`).
pub fn fields_error(
    status: StatusCode,
    message: &str,
    fields: &[(&str, &str, String)],
) -> Response {
    let errors = fields
        .iter()
        .map(|(f, c, m)| FieldProblem {
            field: (*f).to_owned(),
            code: (*c).to_owned(),
            detail: m.clone(),
        })
        .collect();
    Problem::new(status, ProblemType::InvalidRequest, message)
        .with_errors(errors)
        .into_response()
}

/// The panel of a JSON request, checked for `need` (and for the CSRF header
/// when `write`), or the JSON error to answer.
pub async fn panel(
    state: &AppState,
    session: CurrentSession,
    headers: &HeaderMap,
    need: Need,
    write: bool,
) -> Result<Result<Panel, Response>, AppError> {
    if session.0.is_none() {
        return Ok(Err(error(
            StatusCode::UNAUTHORIZED,
            ProblemType::Unauthenticated,
            t(current_lang(), "page.error.log_in_again"),
        )));
    }
    let p = match Panel::load(state, session, routes::ACCOUNT).await? {
        Ok(p) => p,
        Err(_) => {
            return Ok(Err(error(
                StatusCode::UNAUTHORIZED,
                ProblemType::Unauthenticated,
                t(current_lang(), "page.error.log_in_again"),
            )));
        }
    };
    if let Err(AppError::Forbidden(m)) = p.require(need) {
        return Ok(Err(error(
            StatusCode::FORBIDDEN,
            ProblemType::Forbidden,
            t(p.lang, m),
        )));
    }
    if write {
        let token = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Err(AppError::Forbidden(m)) = csrf::matches(&p.data.csrf, token) {
            return Ok(Err(error(
                StatusCode::FORBIDDEN,
                ProblemType::CsrfMismatch,
                t(p.lang, m),
            )));
        }
    }
    Ok(Ok(p))
}

/// `let p = api_panel_or_return!(state, session, headers, Need::Read, false);`
#[macro_export]
macro_rules! api_panel_or_return {
    ($state:expr, $session:expr, $headers:expr, $need:expr, $write:expr) => {
        match $crate::http::panel_api::panel(&$state, $session, &$headers, $need, $write).await? {
            Ok(p) => p,
            Err(r) => return Ok(r),
        }
    };
}
