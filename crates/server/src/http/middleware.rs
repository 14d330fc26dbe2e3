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
use views::routes;

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
    // Written out rather than through `format!`: every request without an id
    // of its own pays for this.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = rand::random::<u128>();
    (0..32)
        .rev()
        .map(|i| char::from(HEX[((bits >> (i * 4)) & 0xf) as usize]))
        .collect()
}

/// Gives every request an id (the one sent, when trustworthy, so that a proxy's
/// id follows the request; else a new one), puts it in the request's tracing
/// span so that every log line of the request carries it, echoes it in the
/// response, and counts the request by route template and status.
pub async fn observe(State(o): State<Observe>, req: Request, next: Next) -> Response {
    observed(&o, req, |req| next.run(req)).await
}

/// [`observe`] around any inner service `run`, so that [`frame`] does it in
/// the same middleware as the rest instead of one boxed layer more.
async fn observed<F, Fut>(o: &Observe, mut req: Request, run: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
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
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
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
    let mut resp = run(req).instrument(span.clone()).await;
    span.record("status", i64::from(resp.status().as_u16()));
    o.metrics.observe_request(
        o.listener,
        route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(v) = value {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// What [`frame`] needs, built once when the router is.
pub struct Frame {
    /// Where requests are counted.
    pub observe: Observe,
    /// The longest a request may take, body upload included.
    pub request_timeout: Duration,
    /// Whether the public URL is `https`, so that HSTS is sent.
    pub https: bool,
    /// Whether the database answers, for [`super::outage::gate`].
    pub database: Arc<crate::db_health::DatabaseHealth>,
}

/// The outer frame of every public request, in this order: request id, span
/// and metrics ([`observe`]), the request's language ([`language_hints`]),
/// the security headers ([`with_security_headers`]) and the time limit
/// ([`time_limit`]). One middleware rather than four: each layer of its own
/// boxes the request's future and clones the inner service once more per
/// request, which the profile of the small endpoints showed. The language is
/// outside the limits and the cross-site guard, so that their refusals speak
/// the customer's language too.
pub async fn frame(State(f): State<Arc<Frame>>, req: Request, next: Next) -> Response {
    let (timeout, https) = (f.request_timeout, f.https);
    let surface = super::outage::surface_of(req.uri().path());
    let database = f.database.clone();
    observed(&f.observe, req, |req| {
        let (hints, back) = language_hints(&req);
        // On the heap, once: the layers nested here (language scope,
        // timeout, outage gate) are moved into one another as each is
        // built; boxed, the layers above move a pointer. Measured against
        // the unboxed frame, alternating runs: a few per cent more
        // discovery and JWKS requests per second (BENCHMARKS.md, 2026-12-07).
        Box::pin(super::locale::with_hints(hints, back, async move {
            let served = within(
                timeout,
                super::outage::gate(&database, surface, req, |req| next.run(req)),
            );
            with_security_headers(super::outage::shaped(surface, served.await), https)
        }))
    })
    .await
}

/// The inner guard of every public request, inside the body limits: the
/// form-field limit ([`counted_fields`]), then the cross-site write guard
/// ([`cross_site_refusal`]), as one middleware for the reason [`frame`]
/// gives. Inside the body limit, so that counting fields reads a bounded body.
pub async fn guard(
    State((state, max_fields)): State<(AppState, usize)>,
    req: Request,
    next: Next,
) -> Response {
    counted_fields(max_fields, req, |req| async move {
        match cross_site_refusal(&state, &req) {
            Some(refusal) => refusal,
            None => next.run(req).await,
        }
    })
    .await
}

/// The layer that turns a panic anywhere below it into a 500 in the
/// customer's language (JSON on the JSON surfaces, see
/// [`super::outage::shaped`]): the connection and the process go on
/// serving, and the panic is logged once with its message.
pub fn catch_panics()
-> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(panicked as fn(_) -> Response)
}

fn panicked(panic: Box<dyn std::any::Any + Send>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    // The first line, bounded: a panic message is not meant to carry data,
    // but nothing long or multi-line reaches the log from a request.
    let what: String = what
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    tracing::error!(panic = %what, "request handler panicked");
    AppError::Account(accounts::AccountError::Internal("panic".into())).into_response()
}

/// Answers 408 when a request, body upload and handler included, takes longer
/// than `limit`, and closes the connection, whose unread body is of no use.
pub async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    within(limit, next.run(req)).await
}

/// [`time_limit`] around any response future.
async fn within(limit: Duration, run: impl std::future::Future<Output = Response>) -> Response {
    match tokio::time::timeout(limit, run).await {
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

/// Refuses a urlencoded form with more than `max_fields` fields with 413, or
/// passes it on to `run`. The body is read chunk by chunk, counting
/// separators, and the reading stops at the first field too many, before
/// anything is parsed; the body limit outside bounds what is kept meanwhile.
async fn counted_fields<F, Fut>(max_fields: usize, req: Request, run: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
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
        return run(req).await;
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
                    app::i18n::format(
                        app::i18n::t(super::locale::current_lang(), "page.error.too_many_fields"),
                        &[("n", &max_fields.to_string())],
                    ),
                )
                .into_response();
            }
            kept.extend_from_slice(&data);
        }
    }
    run(Request::from_parts(parts, Body::from(kept))).await
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
fn with_security_headers(mut resp: Response, https: bool) -> Response {
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
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

/// The refusal of a state-changing request that a browser marks as
/// cross-site, or whose `Origin` is not ours, if `req` is one. This backs up
/// the anti-CSRF tokens: a forged form post from another site is refused even
/// before its token is looked at.
fn cross_site_refusal(state: &AppState, req: &Request) -> Option<Response> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // These endpoints authenticate the client (or its bearer token) on every
    // request and act on no cookie, so a cross-site request forges nothing;
    // relying parties reach them from their own origin. The authorization
    // endpoint may be POSTed by a relying party's page (OIDC Core §3.1.2.1)
    // and changes nothing by itself.
    let cookieless = matches!(
        req.uri().path(),
        routes::TOKEN
            | routes::INTROSPECT
            | routes::REVOKE
            | routes::USERINFO
            | routes::AUTHORIZE
            | routes::OAUTH_LOGOUT
    );
    if safe || cookieless {
        return None;
    }
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
    (not_ours || foreign_origin)
        .then(|| AppError::Forbidden("page.error.cross_site").into_response())
}

/// The request's language hints, in whose scope [`frame`] serves the rest of
/// the request so that every page, error and refusal below speaks the
/// customer's language (see [`super::locale::negotiate`]); and the page the
/// language switcher comes back to.
fn language_hints(req: &Request) -> (super::locale::LangHints, String) {
    let hints = super::locale::LangHints::from_headers(req.headers());
    // A page shown after a POST (a form with errors) switches language by
    // reloading its address, which its GET twin serves.
    let back = if req.method() == Method::GET {
        req.uri()
            .path_and_query()
            .map_or(routes::HOME, |p| p.as_str())
            .to_owned()
    } else {
        req.uri().path().to_owned()
    };
    (hints, back)
}

/// CORS for the endpoints a single-page application calls from its own
/// origin (see `for_browser_clients`): `Access-Control-Allow-Origin: *` on
/// every answer and preflights answered here, never with credentials, so no
/// origin is ever reflected. Written out rather than `tower_http`'s
/// `CorsLayer`, which clones its configuration (several vectors) on every
/// request; these are the busiest endpoints.
#[derive(Clone)]
pub struct BrowserCors<S>(pub S);

impl<S> tower::Service<Request> for BrowserCors<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures::future::Either<
        futures::future::Ready<Result<Response, std::convert::Infallible>>,
        futures::future::MapOk<S::Future, fn(Response) -> Response>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures::TryFutureExt;
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            futures::future::Either::Left(futures::future::ready(Ok(preflight_answer())))
        } else {
            futures::future::Either::Right(
                self.0
                    .call(req)
                    .map_ok(allow_any_origin as fn(Response) -> Response),
            )
        }
    }
}

fn allow_any_origin(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

/// The answer to a preflight: the methods and request headers these
/// endpoints take, cached by the browser for an hour.
fn preflight_answer() -> Response {
    (
        StatusCode::OK,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET,POST"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization,content-type",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "3600"),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn boom() -> &'static str {
        panic!("handler bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_service_keeps_serving() {
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route("/boom", axum::routing::get(boom))
            .route("/fine", axum::routing::get(|| async { "fine" }))
            .layer(catch_panics());
        for _ in 0..3 {
            let resp = app
                .clone()
                .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8_lossy(&body);
            assert!(!body.contains("handler bug"), "the panic stays in the log");
        }
        let resp = app
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    #[test]
    fn fresh_request_ids_are_128_bits_of_lowercase_hex_and_trusted_when_echoed() {
        let ids: Vec<String> = (0..64).map(|_| new_request_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert!(is_trusted_request_id(id));
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Every nibble position takes more than one value over 64 ids: the
        // bits are spread over the whole id, not stuck in a few places.
        for pos in 0..32 {
            let seen: std::collections::HashSet<u8> =
                ids.iter().map(|id| id.as_bytes()[pos]).collect();
            assert!(seen.len() > 1, "position {pos}");
        }
    }
}
