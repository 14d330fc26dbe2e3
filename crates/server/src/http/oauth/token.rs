//! `POST /oauth2/token`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::client_auth::Authenticated;
use super::error::OAuthHttpError;
use crate::state::AppState;
use app::grants::{self, CodeRedemption};
/// The token request's fields; all optional so that a missing one is reported
/// as `invalid_request` naming it, not as a generic form error.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

pub async fn token(
    State(state): State<AppState>,
    Authenticated { client, params: f }: Authenticated<TokenForm>,
) -> Result<Response, OAuthHttpError> {
    let grant = required(&f.grant_type, "grant_type")?;
    let (body, kind) = match grant {
        "client_credentials" => {
            let body = grants::client_credentials(&state, &client, f.scope.as_deref()).await?;
            state.metrics.token_issued("client_credentials");
            return Ok(token_json(&body));
        }
        "authorization_code" => {
            oauth::tokens::check_grant(&client, grant)?;
            let req = CodeRedemption {
                code: required(&f.code, "code")?,
                redirect_uri: required(&f.redirect_uri, "redirect_uri")?,
                code_verifier: f.code_verifier.as_deref().unwrap_or(""),
            };
            (
                grants::redeem_code(&state, &client, req).await?,
                "authorization_code",
            )
        }
        "refresh_token" => {
            oauth::tokens::check_grant(&client, grant)?;
            let presented = required(&f.refresh_token, "refresh_token")?;
            let body = grants::refresh(&state, &client, presented, f.scope.as_deref()).await?;
            (body, "refresh_token")
        }
        other => return Err(OAuthHttpError::unsupported_grant_type(other)),
    };
    state.metrics.token_issued(kind);
    Ok(token_json(&body))
}

/// A parameter the grant cannot go without.
fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, OAuthHttpError> {
    v.as_deref()
        .ok_or_else(|| OAuthHttpError::invalid_request(format!("{name} is required")))
}

/// A token endpoint answer: the body without `null` members, never cached.
fn token_json<T: serde::Serialize>(body: &T) -> Response {
    (
        [(axum::http::header::PRAGMA, "no-cache")],
        Json(without_nulls(body)),
    )
        .into_response()
}

/// The response as JSON without `null` members: openidconnect's response types
/// serialize an absent ID token as `"id_token": null`, which strict relying
/// parties (rightly) refuse; RFC 6749 says absent members are omitted.
fn without_nulls<T: serde::Serialize>(body: &T) -> serde_json::Value {
    let mut v = serde_json::to_value(body).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, m| !m.is_null());
    }
    v
}
