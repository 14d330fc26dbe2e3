//! `POST /oauth2/token`.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oauth::tokens::{self, AccessTokenRequest};
use openidconnect::core::{CoreIdTokenFields, CoreTokenResponse, CoreTokenType};
use openidconnect::{AccessToken, EmptyExtraTokenFields, Scope};
use serde::Deserialize;

use super::client_auth;
use super::error::OAuthHttpError;
use crate::http::extract::ClientIp;
use crate::state::AppState;

/// The token request's fields; all optional so that a missing one is reported
/// as `invalid_request` naming it, not as a generic form error.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthHttpError> {
    let Form(f) = form.map_err(|r| OAuthHttpError::invalid_request(r.body_text()))?;
    let presented =
        client_auth::presented(&headers, f.client_id.as_deref(), f.client_secret.as_deref())?;
    let client = client_auth::authenticate(&state, presented, ip).await?;
    let grant = f
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthHttpError::invalid_request("grant_type is required"))?;
    match grant {
        "client_credentials" => {
            tokens::check_grant(&client, grant)?;
            let scopes = tokens::client_credentials_scopes(&client, f.scope.as_deref())?;
            let now = chrono::Utc::now();
            let issued = tokens::issue_access_token(
                &state.oauth.keys,
                AccessTokenRequest {
                    issuer: &state.oauth.issuer,
                    audience: &state.oauth.audience,
                    client: &client,
                    subject: &client.client_id,
                    scopes,
                },
                now,
            )
            .await?;
            let mut body = CoreTokenResponse::new(
                AccessToken::new(issued.token),
                CoreTokenType::Bearer,
                CoreIdTokenFields::new(None, EmptyExtraTokenFields {}),
            );
            body.set_expires_in(Some(&std::time::Duration::from_secs(
                issued.expires_in.max(0) as u64,
            )));
            if !issued.scopes.is_empty() {
                body.set_scopes(Some(issued.scopes.into_iter().map(Scope::new).collect()));
            }
            Ok(([(axum::http::header::PRAGMA, "no-cache")], Json(body)).into_response())
        }
        other => Err(OAuthHttpError::unsupported_grant_type(other)),
    }
}
