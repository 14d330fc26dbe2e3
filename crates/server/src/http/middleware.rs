//! Response headers every page gets, and the cross-site write guard.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use crate::state::AppState;

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
            return AppError::Forbidden("Cross-site requests are not accepted.").into_response();
        }
    }
    next.run(req).await
}
