//! `POST /oauth2/introspect` (RFC 7662).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client_auth::Authenticated;
use super::error::OAuthHttpError;
use crate::state::AppState;
use app::tokens::Introspection;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IntrospectParams {
    token: Option<String>,
}

pub async fn introspect(
    State(state): State<AppState>,
    Authenticated { client, params }: Authenticated<IntrospectParams>,
) -> Result<Json<Value>, OAuthHttpError> {
    if client.kind != "confidential" {
        // Only resource servers and back ends introspect; a public client cannot
        // prove who it is.
        return Err(OAuthHttpError::invalid_client());
    }
    let token = params
        .token
        .ok_or_else(|| OAuthHttpError::invalid_request("token is required"))?;
    let answer = app::tokens::introspect(&state, &client, &token).await?;
    Ok(Json(as_json(answer, &state.oauth.issuer)))
}

/// The RFC 7662 body of an answer.
fn as_json(answer: Introspection, issuer: &str) -> Value {
    match answer {
        Introspection::Inactive => json!({"active": false}),
        Introspection::Refresh {
            scopes,
            client_id,
            sub,
            exp,
            iat,
        } => json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": scopes.join(" "),
            "client_id": client_id,
            "sub": sub,
            "iss": issuer,
            "exp": exp,
            "iat": iat,
        }),
        Introspection::Access(claims) => json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims["scope"],
            "client_id": claims["client_id"],
            "sub": claims["sub"],
            "aud": claims["aud"],
            "iss": claims["iss"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "jti": claims["jti"],
        }),
    }
}
