//! The problems the control panel's JSON twins answer (RFC 9457): a refusal,
//! and a refusal naming its fields. Who may call is checked before, by the
//! [`super::principal::ApiPanel`] extractor.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::problem::{FieldProblem, Problem, ProblemType};

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
