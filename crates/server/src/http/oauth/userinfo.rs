//! `GET|POST /oauth2/userinfo` (OIDC Core §5.3).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oauth::id_token::GuichetClaims;
use openidconnect::UserInfoClaims;
use openidconnect::core::CoreGenderClaim;

use crate::state::AppState;
use app::tokens::UserInfo;

/// A refused bearer token (RFC 6750 §3): 401, or 403 for a token without
/// the scope, with the challenge in `WWW-Authenticate` and the same error
/// in a JSON body.
fn unauthorized(error: &'static str) -> Response {
    let (status, description) = match error {
        "invalid_request" => (StatusCode::UNAUTHORIZED, "no bearer access token"),
        "insufficient_scope" => (StatusCode::FORBIDDEN, "the token lacks the openid scope"),
        _ => (
            StatusCode::UNAUTHORIZED,
            "the access token is invalid, expired or revoked",
        ),
    };
    let mut resp = (
        status,
        Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response();
    let value = format!("Bearer realm=\"guichet\", error=\"{error}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// A backend failure, as the OAuth JSON error: 503 `temporarily_unavailable`
/// when the database or the session store cannot be reached.
fn failed(e: app::AppError) -> Response {
    super::error::OAuthHttpError::from(e).into_response()
}

/// Claims about the token's subject, limited to the token's scopes. Only access
/// tokens are accepted: an ID token presented here is refused.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    else {
        return unauthorized("invalid_request");
    };
    let person = match app::tokens::userinfo(&state, token.trim()).await {
        Ok(UserInfo::Claims(person)) => person,
        Ok(UserInfo::InsufficientScope) => return unauthorized("insufficient_scope"),
        Ok(UserInfo::InvalidToken) => return unauthorized("invalid_token"),
        Err(e) => return failed(e),
    };
    let extra = GuichetClaims {
        sid: None,
        customer_handle: person.customer_handle.clone(),
        customer_code: person.customer_code.clone(),
        role: person.role.clone(),
    };
    let body: UserInfoClaims<GuichetClaims, CoreGenderClaim> =
        UserInfoClaims::new(person.standard_claims(), extra);
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}
