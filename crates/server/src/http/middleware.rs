//! Response headers every page gets, the cross-site write guard, the request
//! id and metrics of every request, and the limits on forms and request time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tracing::Instrument;

use super::error::AppError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// The header carrying a request's id, in both directions.
pub const REQUEST_ID: &str = "x-request-id";

/// What [`observe`] needs: where to count, and which listener it serves.
#[derive(Clone)]
pub struct Observe {
    /// The instance's metrics.
    pub metrics: Arc<Metrics>,
    /// `public` or `operator`, the `listener` label.
    pub listener: &'static str,
}

/// Whether a request id sent by the client (or a proxy in front) may be kept:
/// short and made of characters that cannot forge a log line or a header.
pub fn is_trusted_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A fresh request id: 128 random bits in hex.
fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Gives every request an id (the one sent, when trustworthy, so that a proxy's
/// id follows the request; else a new one), puts it in the request's tracing
/// span so that every log line of the request carries it, echoes it in the
/// response, and counts the request by route template and status.
pub async fn observe(State(o): State<Observe>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_trusted_request_id(v))
        .map_or_else(new_request_id, str::to_owned);
    // The id is plain ASCII by construction, so this cannot fail.
    let value = HeaderValue::from_str(&id).ok();
    if let Some(v) = &value {
        req.headers_mut().insert(REQUEST_ID, v.clone());
    }
    // A template, never the raw path: paths hold account names and ids, and
    // one series per distinct path would let a client grow them without end.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    // `otel.name` names the span in exported traces ("GET /oauth2/token");
    // the status is filled in once known. Neither is a secret: routes are
    // templates, never raw paths.
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", req.method()),
        request_id = %id,
        method = %req.method(),
        route = %route,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.record("status", i64::from(resp.status().as_u16()));
    o.metrics.observe_request(
        o.listener,
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(v) = value {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// Answers 408 when a request, body upload and handler included, takes longer
/// than `limit`, and closes the connection, whose unread body is of no use.
pub async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::info!(limit_secs = limit.as_secs(), "request timed out");
            let mut resp = AppError::Refused(StatusCode::REQUEST_TIMEOUT, "page.error.timeout")
                .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// Refuses a urlencoded form with more than `max_fields` fields with 413. The
/// body is read chunk by chunk, counting separators, and the reading stops at
/// the first field too many, before anything is parsed; the body limit outside
/// this layer bounds what is kept meanwhile.
pub async fn limit_form_fields(
    State(max_fields): State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return next.run(req).await;
    }
    let (parts, mut body) = req.into_parts();
    let mut kept = Vec::new();
    let mut separators = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return unreadable_body(e).into_response(),
        };
        if let Ok(data) = frame.into_data() {
            separators += data.iter().filter(|b| **b == b'&').count();
            // n separators make n + 1 fields.
            if separators >= max_fields {
                return AppError::BadRequest(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    crate::i18n::format(
                        crate::i18n::t(
                            super::extract::current_lang(),
                            "page.error.too_many_fields",
                        ),
                        &[("n", &max_fields.to_string())],
                    ),
                )
                .into_response();
            }
            kept.extend_from_slice(&data);
        }
    }
    next.run(Request::from_parts(parts, Body::from(kept))).await
}

/// The answer to a body that could not be read: 413 when it went over the body
/// limit, 400 otherwise (the client went away or sent broken chunks).
fn unreadable_body(e: axum::Error) -> AppError {
    // The body limit's error arrives boxed once or twice, as axum's own
    // `FailedToBufferBody` unwraps it.
    let mut inner: Box<dyn std::error::Error + Send + Sync> = e.into_inner();
    for _ in 0..2 {
        inner = match inner.downcast::<axum::Error>() {
            Ok(wrapped) => wrapped.into_inner(),
            Err(other) => other,
        };
    }
    if inner.is::<http_body_util::LengthLimitError>() {
        AppError::Refused(StatusCode::PAYLOAD_TOO_LARGE, "page.error.too_large")
    } else {
        AppError::Refused(StatusCode::BAD_REQUEST, "page.error.body_unreadable")
    }
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Adds the security headers to every response, errors included.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show personal data and carry anti-CSRF tokens: never cache them.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.is_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

/// Refuses state-changing requests that a browser marks as cross-site, or whose
/// `Origin` is not ours. This backs up the anti-CSRF tokens: a forged form post
/// from another site is refused even before its token is looked at.
pub async fn refuse_cross_site_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // These endpoints authenticate the client (or its bearer token) on every
    // request and act on no cookie, so a cross-site request forges nothing;
    // relying parties reach them from their own origin. The authorization
    // endpoint may be POSTed by a relying party's page (OIDC Core §3.1.2.1)
    // and changes nothing by itself.
    let cookieless = matches!(
        req.uri().path(),
        "/oauth2/token"
            | "/oauth2/introspect"
            | "/oauth2/revoke"
            | "/oauth2/userinfo"
            | "/oauth2/authorize"
            | "/oauth2/logout"
    );
    if !safe && !cookieless {
        let h = req.headers();
        let fetch_site = h.get("sec-fetch-site").map(|v| v.as_bytes());
        // `same-site` is refused too: a hosting company's customers may run
        // pages on sibling subdomains of the login domain.
        let not_ours = fetch_site.is_some_and(|v| v != b"same-origin" && v != b"none");
        // Our pages send `Referrer-Policy: no-referrer`, so a browser posts
        // their forms with `Origin: null`; that is only ours when the browser
        // vouches for it with `Sec-Fetch-Site: same-origin`.
        let foreign_origin = h.get(header::ORIGIN).is_some_and(|o| {
            let o = o.as_bytes();
            if o == b"null" {
                fetch_site != Some(b"same-origin".as_slice())
            } else {
                o != state.config.public_origin().as_bytes()
            }
        });
        if not_ours || foreign_origin {
            return AppError::Forbidden("page.error.cross_site").into_response();
        }
    }
    next.run(req).await
}

/// Reads the request's language hints and serves the rest of the request in
/// their scope, so that every page, error and refusal below speaks the
/// customer's language (see [`super::extract::negotiate`]).
pub async fn language(req: Request, next: Next) -> Response {
    let hints = super::extract::LangHints::from_headers(req.headers());
    // A page shown after a POST (a form with errors) switches language by
    // reloading its address, which its GET twin serves.
    let back = if req.method() == Method::GET {
        req.uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned()
    } else {
        req.uri().path().to_owned()
    };
    super::extract::with_hints(hints, back, next.run(req)).await
}
