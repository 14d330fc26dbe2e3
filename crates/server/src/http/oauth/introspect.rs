//! `POST /oauth2/introspect` (RFC 7662).

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client_auth;
use super::error::OAuthHttpError;
use crate::http::extract::ClientIp;
use crate::state::AppState;
use views::routes;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IntrospectForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

pub async fn introspect(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    authorization: client_auth::AuthorizationHeader,
    form: Result<Form<IntrospectForm>, FormRejection>,
) -> Result<Json<Value>, OAuthHttpError> {
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
    let client = client_auth::authenticate(&state, presented, ip, routes::INTROSPECT).await?;
    if client.kind != "confidential" {
        // Only resource servers and back ends introspect; a public client cannot
        // prove who it is.
        return Err(OAuthHttpError::invalid_client());
    }
    let token = f
        .token
        .ok_or_else(|| OAuthHttpError::invalid_request("token is required"))?;
    let now = state.clock.now();
    let inactive = || Json(json!({"active": false}));
    let Ok(claims) = state
        .oauth
        .verified
        .verify(&state.oauth.keys, &state.oauth.issuer, &token, now)
        .await
    else {
        // Perhaps a refresh token: only the client holding it learns of it.
        let Some(rt) = oauth::refresh::find_live(state.accounts.db(), &token, now).await? else {
            return Ok(inactive());
        };
        if rt.client_id != client.client_id {
            return Ok(inactive());
        }
        let scopes: Vec<String> = serde_json::from_str(&rt.scopes).unwrap_or_default();
        let user_id = (rt.user_id != 0).then_some(rt.user_id);
        let sub = app::authz::subject_of(&state, rt.account_id, user_id).await;
        return Ok(Json(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": scopes.join(" "),
            "client_id": rt.client_id,
            "sub": sub,
            "iss": state.oauth.issuer,
            "exp": rt.idle_expires_at.min(rt.expires_at).timestamp(),
            "iat": rt.created_at.timestamp(),
        })));
    };
    // A client learns about a token issued to it or naming it as audience;
    // a resource server the operator allowed learns about any.
    if !client.introspects_others && !concerns(&claims, &client.client_id) {
        return Ok(inactive());
    }
    if !crate::authz::access_token_counts(&state, &claims).await? {
        return Ok(inactive());
    }
    Ok(Json(json!({
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
    })))
}

/// Whether a token was issued to `client_id` or names it as an audience.
fn concerns(claims: &Value, client_id: &str) -> bool {
    if claims["client_id"].as_str() == Some(client_id) {
        return true;
    }
    match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(all) => all.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}
