//! RFC 9457 problem details: the one error shape of every JSON API (the
//! customer API under `/api/v1` and the operator API). The OAuth endpoints
//! keep the RFC 6749/6750 shape (`http::oauth::error`); pages keep their
//! error page.
//!
//! A client tells problems apart by `type`, which never changes for a kind
//! of failure; `title` is that kind's stable English summary, `detail` says
//! what went wrong this time in the customer's language, and `errors` lists
//! refused fields. Each `type` is a path on the instance that serves a short
//! description of the problem (`GET /problems/{slug}`), so it can be opened.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use views::routes;

use super::locale::current_lang;

/// Every kind of failure a JSON API answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemType {
    /// The request was read but refused: a field, a parameter, a state.
    InvalidRequest,
    /// The body could not be read as the JSON expected.
    InvalidBody,
    /// No session, or an ended one (customer API); no valid operator token
    /// (operator API).
    Unauthenticated,
    /// Signed in, but this role, group or person may not.
    Forbidden,
    /// A write without the session's anti-CSRF token in `X-CSRF-Token`.
    CsrfMismatch,
    /// This needs a recent sign-in: sign in again first.
    ReauthenticationRequired,
    /// No such resource.
    NotFound,
    /// The resource's current state does not allow this.
    Conflict,
    /// Other services still hold the account (erasure refused).
    Held,
    /// Over a request limit; `Retry-After` says when to come back.
    TooManyRequests,
    /// The body is over the configured limit.
    PayloadTooLarge,
    /// The request took longer than the configured limit.
    Timeout,
    /// A backend (the database, the session store) cannot be reached;
    /// nothing was changed; `Retry-After` says when to try again.
    TemporarilyUnavailable,
    /// A fault of ours, logged with its cause; nothing more is told.
    Internal,
}

impl ProblemType {
    /// Every type, for the description pages and their test.
    pub const ALL: [Self; 14] = [
        Self::InvalidRequest,
        Self::InvalidBody,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::CsrfMismatch,
        Self::ReauthenticationRequired,
        Self::NotFound,
        Self::Conflict,
        Self::Held,
        Self::TooManyRequests,
        Self::PayloadTooLarge,
        Self::Timeout,
        Self::TemporarilyUnavailable,
        Self::Internal,
    ];

    /// The last segment of the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid-request",
            Self::InvalidBody => "invalid-body",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::CsrfMismatch => "csrf-mismatch",
            Self::ReauthenticationRequired => "reauthentication-required",
            Self::NotFound => "not-found",
            Self::Conflict => "conflict",
            Self::Held => "held",
            Self::TooManyRequests => "too-many-requests",
            Self::PayloadTooLarge => "payload-too-large",
            Self::Timeout => "timeout",
            Self::TemporarilyUnavailable => "temporarily-unavailable",
            Self::Internal => "internal",
        }
    }

    /// The `type` member: a path on this instance (a URI reference,
    /// resolved against the request's URL).
    pub fn uri(self) -> String {
        routes::problem(self.slug())
    }

    /// The stable summary (`title`), the same for every occurrence.
    pub fn title(self) -> &'static str {
        match self {
            Self::InvalidRequest => "The request was refused",
            Self::InvalidBody => "The body is not the JSON expected",
            Self::Unauthenticated => "Sign-in required",
            Self::Forbidden => "Not allowed",
            Self::CsrfMismatch => "Missing or wrong anti-CSRF token",
            Self::ReauthenticationRequired => "A recent sign-in is required",
            Self::NotFound => "Not found",
            Self::Conflict => "In conflict with the current state",
            Self::Held => "Held by other services",
            Self::TooManyRequests => "Too many requests",
            Self::PayloadTooLarge => "Request body too large",
            Self::Timeout => "The request took too long",
            Self::TemporarilyUnavailable => "Temporarily unavailable",
            Self::Internal => "Internal error",
        }
    }

    /// What a client should do about it, for the description page.
    fn advice(self) -> &'static str {
        match self {
            Self::InvalidRequest => {
                "Read `detail` and, when present, `errors` (one entry per refused field with its `field`, `code` and `detail`); correct the request and send it again. Nothing was changed."
            }
            Self::InvalidBody => {
                "Send a JSON body with `Content-Type: application/json` that has the members the endpoint documents. Nothing was changed."
            }
            Self::Unauthenticated => {
                "Sign in again (customer API) or send a valid operator token as `Authorization: Bearer` (operator API)."
            }
            Self::Forbidden => {
                "The signed-in person or operator may not do this; ask someone whose role allows it."
            }
            Self::CsrfMismatch => {
                "Send the session's anti-CSRF token (the `csrf` member of `GET /api/v1/account/users/me`) in the `X-CSRF-Token` header of every write."
            }
            Self::ReauthenticationRequired => {
                "Sign in again (the password, and the second factor if the account has one), then repeat the request within the time the panel allows."
            }
            Self::NotFound => "Check the identifier in the URL.",
            Self::Conflict => {
                "Read the resource again and decide whether the request still makes sense."
            }
            Self::Held => {
                "The account cannot be erased while `holds` lists a service; ask those services to release it."
            }
            Self::TooManyRequests => "Wait the number of seconds in `Retry-After`, then try again.",
            Self::PayloadTooLarge => "Send a smaller body.",
            Self::Timeout => "Try again; if it keeps happening, send less at once.",
            Self::TemporarilyUnavailable => {
                "Nothing was changed. Try again after the number of seconds in `Retry-After`."
            }
            Self::Internal => {
                "Nothing more is told; the fault is logged with its cause. Try again later."
            }
        }
    }

    /// The type an error page's status stands for, when a page-shaped
    /// refusal (a layer's, an extractor's) reaches a JSON API.
    pub fn of_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthenticated,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::REQUEST_TIMEOUT => Self::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE => Self::TemporarilyUnavailable,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::InvalidBody,
            s if s.is_client_error() => Self::InvalidRequest,
            _ => Self::Internal,
        }
    }

    fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.slug() == slug)
    }
}

/// One refused field of a request.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's name as the request spelled it.
    pub field: String,
    /// A stable code for what is wrong with it (`too_short`, `taken`…).
    pub code: String,
    /// The same in the customer's language.
    pub detail: String,
}

/// One problem answer: status, type, detail, and what else its type carries.
#[derive(Clone, Debug)]
pub struct Problem {
    status: StatusCode,
    kind: ProblemType,
    detail: String,
    errors: Vec<FieldProblem>,
    retry_after: Option<u64>,
    extensions: Map<String, Value>,
}

impl Problem {
    /// A problem of `kind` answered with `status`, saying `detail`.
    pub fn new(status: StatusCode, kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            extensions: Map::new(),
        }
    }

    /// 422 with every refused field.
    pub fn invalid_fields(detail: impl Into<String>, errors: Vec<FieldProblem>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::InvalidRequest,
            detail,
        )
        .with_errors(errors)
    }

    /// With the refused fields.
    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Self {
        self.errors = errors;
        self
    }

    /// With `Retry-After`, in seconds.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// With an extension member this type documents (`holds` for
    /// [`ProblemType::Held`]).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    /// The JSON document.
    pub fn body(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("type".into(), self.kind.uri().into());
        doc.insert("title".into(), self.kind.title().into());
        doc.insert("status".into(), self.status.as_u16().into());
        doc.insert("detail".into(), self.detail.clone().into());
        if !self.errors.is_empty() {
            doc.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or_default(),
            );
        }
        for (k, v) in &self.extensions {
            doc.insert(k.clone(), v.clone());
        }
        Value::Object(doc)
    }
}

/// The media type of a problem document.
pub const CONTENT_TYPE: &str = "application/problem+json";

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body())).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// `GET /problems/{slug}`: what a problem type means and what to do about
/// it, so that a `type` URI leads somewhere.
pub async fn describe(Path(slug): Path<String>) -> Response {
    let Some(kind) = ProblemType::from_slug(&slug) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    Html(
        views::pages::problem::problem_type(kind.title(), kind.uri().as_str(), kind.advice())
            .into_string(),
    )
    .into_response()
}

/// The status of a JSON body that could not be read, the same on every JSON
/// API (the customer's and the operator's): 413 over the body limit, 415 not
/// sent as JSON, 400 otherwise (not JSON, or JSON of another shape).
pub fn unreadable_status(rejection: &JsonRejection) -> StatusCode {
    match rejection.status() {
        s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The body of a JSON API call. One it cannot read is refused alike on every
/// route: `invalid-body` with the [`unreadable_status`], a sentence in the
/// caller's language and the parser's own words. Read last, after who is
/// calling.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(body)) => Ok(Self(body)),
            Err(r) => {
                let status = unreadable_status(&r);
                let why = app::i18n::t(current_lang(), "page.error.bad_json");
                let detail = format!("{why} ({})", r.body_text());
                let kind = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => ProblemType::PayloadTooLarge,
                    _ => ProblemType::InvalidBody,
                };
                Err(Problem::new(status, kind, detail))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_own_slug_and_reads_back() {
        let mut slugs: Vec<_> = ProblemType::ALL.iter().map(|t| t.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), ProblemType::ALL.len());
        for t in ProblemType::ALL {
            assert_eq!(ProblemType::from_slug(t.slug()), Some(t));
            assert!(t.uri().starts_with("/problems/"));
        }
    }

    #[test]
    fn the_document_has_the_rfc_members_and_only_the_errors_it_has() {
        let p = Problem::new(StatusCode::FORBIDDEN, ProblemType::Forbidden, "Non.");
        assert_eq!(
            p.body(),
            serde_json::json!({
                "type": "/problems/forbidden",
                "title": "Not allowed",
                "status": 403,
                "detail": "Non.",
            })
        );
        let p = Problem::invalid_fields(
            "Fix the fields.",
            vec![FieldProblem {
                field: "email".into(),
                code: "invalid".into(),
                detail: "Not an address.".into(),
            }],
        )
        .with("holds", serde_json::json!(["billing"]));
        let body = p.body();
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"][0]["field"], "email");
        assert_eq!(body["holds"][0], "billing");
    }

    #[test]
    fn the_response_says_problem_json_and_retry_after() {
        let r = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            ProblemType::TooManyRequests,
            "Later.",
        )
        .with_retry_after(42)
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
    }
}
