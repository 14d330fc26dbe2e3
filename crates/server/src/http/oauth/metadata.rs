//! The published key set and the discovery document.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::OAuthHttpError;
use crate::state::AppState;

fn json_response(body: bytes::Bytes, max_age: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    // Browser clients fetch these documents cross-origin; they carry nothing
    // private, so any origin may read them, without credentials.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

/// `GET /oauth2/jwks`: every published public key (next, current, previous).
pub async fn jwks(State(state): State<AppState>) -> Result<Response, OAuthHttpError> {
    let body = state.oauth.keys.jwks_json(state.clock.now()).await?;
    Ok(json_response(body, "public, max-age=300"))
}

/// `GET /.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(state): State<AppState>,
) -> Result<Response, OAuthHttpError> {
    Ok(json_response(
        state.oauth.discovery_json.clone(),
        "public, max-age=3600",
    ))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): the same document.
pub async fn authorization_server_metadata(
    state: State<AppState>,
) -> Result<Response, OAuthHttpError> {
    openid_configuration(state).await
}
