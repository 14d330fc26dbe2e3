//! Database outages answered fast and honestly, in one place.
//!
//! While the database cannot be reached, a request that needs it would wait
//! for a pool connection that never comes, then fail somewhere deep in a
//! handler. Instead, the first failure marks the database down (a typed
//! "unavailable" error, or a 500 that a ping then explains), a prober pings
//! it every [`crate::db_health::PROBE_EVERY`] until it answers, and meanwhile [`gate`] answers
//! every request that needs the database at once with 503 and `Retry-After`,
//! in the shape its caller reads: an HTML page in the customer's language,
//! the panel's JSON error on `/api/v1/…`, and `temporarily_unavailable` on
//! the OAuth endpoints a client calls. Discovery, the keys, the probes and
//! the static files are served from memory and never gated. A database
//! server is also pinged every
//! [`crate::db_health::WATCH_EVERY`], so an outage is noticed
//! within a second without any request meeting it.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{AppError, DatabaseWasDown, RETRY_AFTER_SECS};
use super::locale::current_lang;
use crate::db_health::DatabaseHealth;
use app::i18n::t;
use views::routes;

/// Who reads the answer of a path, so that an outage answers in its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// A browser: an HTML page.
    Page,
    /// The panel's and sign-up's JSON APIs: `{"error", "message", "fields"}`.
    Api,
    /// An OAuth client: RFC 6749 `{"error", "error_description"}`.
    OAuth,
    /// Served from memory: never gated.
    NoDatabase,
    /// The authorization endpoint: it answers an outage itself, redirected
    /// to the client once the client and its redirect URI are known from
    /// memory (RFC 6749 §4.1.2.1 `temporarily_unavailable`), a page
    /// otherwise.
    Authorize,
}

/// The surface of a public path.
pub fn surface_of(path: &str) -> Surface {
    match path {
        routes::HEALTHZ
        | routes::READYZ
        | routes::JWKS
        | routes::OPENID_CONFIGURATION
        | routes::AUTHORIZATION_SERVER_METADATA => Surface::NoDatabase,
        routes::TOKEN | routes::INTROSPECT | routes::REVOKE | routes::USERINFO => Surface::OAuth,
        routes::AUTHORIZE => Surface::Authorize,
        p if p.starts_with(routes::STATIC_PREFIX)
            || p.starts_with(routes::LANG_PREFIX)
            || p.starts_with(routes::PROBLEMS_PREFIX) =>
        {
            Surface::NoDatabase
        }
        p if p.starts_with(routes::API_PREFIX) => Surface::Api,
        _ => Surface::Page,
    }
}

/// The 503 a surface answers while the database is down.
pub fn unavailable(surface: Surface) -> Response {
    let mut resp = match surface {
        Surface::OAuth => super::oauth::OAuthHttpError::temporarily_unavailable().into_response(),
        Surface::Api => super::panel_api::error(
            StatusCode::SERVICE_UNAVAILABLE,
            super::problem::ProblemType::TemporarilyUnavailable,
            t(current_lang(), "page.error.db_unavailable"),
        ),
        Surface::Page | Surface::NoDatabase | Surface::Authorize => {
            AppError::DatabaseDown.into_response()
        }
    };
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp.extensions_mut().insert(DatabaseWasDown);
    resp
}

/// Answers at once while the database is down; otherwise serves, and turns
/// what failed because the database went away into the honest 503: a
/// mapping that already said so marks it down, and a 500 is explained by a
/// ping (a handler that lost the error's type behind a string still gets the
/// right answer).
pub async fn gate<F, Fut>(
    health: &Arc<DatabaseHealth>,
    surface: Surface,
    req: Request,
    run: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    if surface == Surface::NoDatabase {
        return run(req).await;
    }
    if surface == Surface::Authorize {
        let resp = run(req).await;
        if resp.extensions().get::<DatabaseWasDown>().is_some() {
            health.mark_down();
        }
        return resp;
    }
    gate_with(health, req, run, || unavailable(surface)).await
}

/// [`gate`] with the 503 of another surface (the operator API's JSON).
pub async fn gate_with<F, Fut>(
    health: &Arc<DatabaseHealth>,
    req: Request,
    run: F,
    unavailable: impl Fn() -> Response,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    if health.is_down() {
        return unavailable();
    }
    let resp = run(req).await;
    if resp.extensions().get::<DatabaseWasDown>().is_some() {
        health.mark_down();
    } else if resp.status() == StatusCode::INTERNAL_SERVER_ERROR
        // Boxed, for a check that runs only after a 500: held inline, the
        // database ping's future sized every request's future, which is
        // copied each time it moves. A profile of JWKS under load put 18 %
        // of the CPU in those copies, 4 % once boxed (BENCHMARKS.md,
        // 2026-12-07).
        && !Box::pin(health.check()).await
    {
        return unavailable();
    }
    resp
}

/// Gives an error answered on a JSON surface a JSON body: whatever a
/// layer or an extractor refused with a page (a time limit, a body limit, a
/// refused cross-site write, the session store down) reaches an API client
/// as a problem (RFC 9457) and an OAuth client as `{"error",
/// "error_description"}`, with the same status and headers.
pub fn shaped(surface: Surface, resp: Response) -> Response {
    let status = resp.status();
    let json_surface = matches!(surface, Surface::Api | Surface::OAuth);
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !json_surface || status.as_u16() < 400 || is_json {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let message = parts
        .extensions
        .get::<super::error::ErrorMessage>()
        .map(|m| m.0.clone())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    if surface == Surface::Api {
        let problem = super::problem::Problem::new(
            status,
            super::problem::ProblemType::of_status(status),
            message,
        );
        let (fresh, body) = problem.into_response().into_parts();
        // The layer's headers (Retry-After, security headers) stay; the
        // body and its type are the problem's.
        parts.headers.remove(header::CONTENT_LENGTH);
        if let Some(ct) = fresh.headers.get(header::CONTENT_TYPE) {
            parts.headers.insert(header::CONTENT_TYPE, ct.clone());
        }
        return Response::from_parts(parts, body);
    }
    let code = match status.as_u16() {
        503 => "temporarily_unavailable",
        500.. => "server_error",
        401 => "invalid_token",
        403 => "insufficient_scope",
        _ => "invalid_request",
    };
    let body = serde_json::json!({"error": code, "error_description": message});
    if matches!(status.as_u16(), 401 | 403) && !parts.headers.contains_key(header::WWW_AUTHENTICATE)
    {
        let challenge = format!("Bearer realm=\"guichet\", error=\"{code}\"");
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            parts.headers.insert(header::WWW_AUTHENTICATE, v);
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_the_shape_its_caller_reads() {
        assert_eq!(surface_of("/oauth2/jwks"), Surface::NoDatabase);
        assert_eq!(
            surface_of("/.well-known/openid-configuration"),
            Surface::NoDatabase
        );
        assert_eq!(surface_of("/static/guichet.css"), Surface::NoDatabase);
        assert_eq!(surface_of("/problems/forbidden"), Surface::NoDatabase);
        assert_eq!(surface_of("/oauth2/token"), Surface::OAuth);
        assert_eq!(surface_of("/oauth2/userinfo"), Surface::OAuth);
        assert_eq!(surface_of("/api/v1/signup"), Surface::Api);
        assert_eq!(surface_of("/api/v1/account/profile"), Surface::Api);
        assert_eq!(surface_of("/oauth2/authorize"), Surface::Authorize);
        assert_eq!(surface_of("/forgot-password"), Surface::Page);
        assert_eq!(surface_of("/"), Surface::Page);
    }
}
