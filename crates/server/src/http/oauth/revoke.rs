//! `POST /oauth2/revoke` (RFC 7009).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::client_auth::Authenticated;
use super::error::OAuthHttpError;
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RevokeParams {
    token: Option<String>,
}

/// Revokes a token issued to the calling client. Unknown, expired or
/// malformed tokens get 200 as RFC 7009 asks: there is nothing left to revoke.
pub async fn revoke(
    State(state): State<AppState>,
    Authenticated { client, params }: Authenticated<RevokeParams>,
) -> Result<StatusCode, OAuthHttpError> {
    let token = params
        .token
        .ok_or_else(|| OAuthHttpError::invalid_request("token is required"))?;
    app::tokens::revoke(&state, &client, &token).await?;
    Ok(StatusCode::OK)
}
