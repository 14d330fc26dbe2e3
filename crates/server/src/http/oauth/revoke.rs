//! `POST /oauth2/revoke` (RFC 7009).

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::client_auth;
use super::error::OAuthHttpError;
use crate::http::extract::ClientIp;
use crate::state::AppState;
use views::routes;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// Revokes an access token issued to the calling client. Unknown, expired or
/// malformed tokens get 200 as RFC 7009 asks: there is nothing left to revoke.
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    authorization: client_auth::AuthorizationHeader,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Result<StatusCode, OAuthHttpError> {
    let Form(f) = form.map_err(|r| OAuthHttpError::invalid_request(r.body_text()))?;
    let presented = client_auth::presented(
        &authorization,
        f.client_id.as_deref(),
        f.client_secret.as_deref(),
        client_auth::AssertionParams {
            kind: f.client_assertion_type.as_deref(),
            assertion: f.client_assertion.as_deref(),
        },
    )?;
    let client = client_auth::authenticate(&state, presented, ip, routes::REVOKE).await?;
    let token = f
        .token
        .ok_or_else(|| OAuthHttpError::invalid_request("token is required"))?;
    let now = state.clock.now();
    let Ok(claims) = state
        .oauth
        .verified
        .verify(&state.oauth.keys, &state.oauth.issuer, &token, now)
        .await
    else {
        // Not an access token: perhaps a refresh token, whose whole family goes.
        let found =
            oauth::refresh::revoke_by_token(state.accounts.db(), &client.client_id, &token, now)
                .await?;
        return match found {
            Some(false) => Err(oauth::OAuthError::UnauthorizedClient.into()),
            _ => Ok(StatusCode::OK),
        };
    };
    if claims["client_id"] != client.client_id.as_str() {
        return Err(oauth::OAuthError::UnauthorizedClient.into());
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    // Remember the revocation until the token would have expired anyway (plus
    // the verification leeway), then forget it.
    let ttl = (exp - now.timestamp()).max(0) as u64 + 120;
    let jti = claims["jti"].as_str().unwrap_or_default();
    crate::revocation::revoke_jti(&*state.store, jti, std::time::Duration::from_secs(ttl)).await?;
    tracing::info!(client_id = %client.client_id, "access token revoked");
    Ok(StatusCode::OK)
}
